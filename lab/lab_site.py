"""The site the default lab's gateway runs: the demo site with short group timers.

Routed-call scenarios wait out wrap-up between calls and ring-no-answer when a phone does not
answer; with the demo's 10-30 s wrap-up and 15-20 s no-answer the default lab would not fit
its CI budget (docs/lab.md). Everything else (stations, users, PINs, codes) is the demo's.
"""

from __future__ import annotations

import re

WRAPUP_SECONDS = 1
# A pyVoIP phone rings 1 s after the INVITE reaches it; on the lossy LAN of a busy CI machine
# (a lost INVITE is resent after 0.5 and 1.5 s) answers came 2.4 s after the offer, and once
# after more than 4 s (a CI run where 4 s was the limit): 8 s leaves room.
NO_ANSWER_SECONDS = 8

_TIMERS = {
    "wrapup_seconds": WRAPUP_SECONDS,
    "no_answer_seconds": NO_ANSWER_SECONDS,
}


def lab_site_text(site_text: str) -> str:
    """`site_text` (a site file) with every group's wrap-up and no-answer time shortened."""
    out = site_text
    for key, value in _TIMERS.items():
        out, count = re.subn(rf"^{key}\s*=\s*\d+", f"{key} = {value}", out, flags=re.M)
        if not count:
            raise ValueError(f"the site has no {key} to shorten")
    return out
