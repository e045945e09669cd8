"""A call's legs behind one interface (leg.Leg): SIP UAS and UAC legs and their dialog sessions, and
the incoming H.323 leg."""
