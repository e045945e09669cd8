"""H.323 (ITU-T H.225.0 RAS so far): sans-IO protocol engines and their thin Twisted edges."""
