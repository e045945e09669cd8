"""Twisted edges: SIP stack, registrar, HTTP API, storage and the command line."""
