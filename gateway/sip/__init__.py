"""SIP (RFC 3261): sans-IO message parser, transactions, digest auth and registrar."""
