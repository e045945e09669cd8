"""Pure media: RTP, G.711, RFC 4733 events, DTMF detection, tones, mixing, WAV.

Imported as `acdgate.codecs` (never `codecs`, which is the standard library's).
"""
