"""Media: RTP sessions and the port pool, the RTP receiver, SDP offer/answer, the relay between legs, conferences, recordings and music on hold."""
