"""The pure ACD domain: agents, stations, groups, queues, routing, short codes, journal.

No Twisted, no I/O, no wall clock: time comes in as `now` (seconds, float).
"""
