"""Authentication policy shared by the protocol packages (SIP digest, H.323 RAS passwords)."""
