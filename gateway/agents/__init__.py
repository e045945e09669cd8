"""Agents at the edge of the ACD: the ACD service (commands in, events journaled) and short-code feature calls."""
