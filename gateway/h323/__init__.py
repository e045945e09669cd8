"""H.323 (ITU-T H.225.0 RAS and call signalling, H.245): sans-IO protocol engines and their thin
Twisted edges (the RAS socket, the call signalling listener and H.245 connections)."""
