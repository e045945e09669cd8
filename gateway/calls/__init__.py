"""The B2BUA: the dispatcher that gives each new leg (SIP, or H.323 through the H.323 entry) to its
controller, direct and routed calls, transfer and supervision."""
