"""The B2BUA: the dispatcher that gives each new leg to its controller, direct and routed calls, transfer and supervision."""
