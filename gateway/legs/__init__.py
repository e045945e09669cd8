"""A call's legs behind one interface (leg.Leg): SIP UAS and UAC legs and their dialog sessions; H.323 legs plug in here too."""
