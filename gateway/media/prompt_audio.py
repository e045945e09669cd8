"""The site's spoken prompts (issue 16): `policy.reason_prompt_audio` and
`policy.wrapup_prompt_audio`, read once at start-up as 8 kHz samples.

Where the site has audio for a prompt it is played instead of the prompt tone; a file that
is missing or not 8 kHz mono 16-bit PCM stops start-up with a `ConfigError` naming the file,
the key and the reason, as bad hold music does.
"""

from __future__ import annotations

from dataclasses import dataclass

from acdgate.acd.site import Site
from acdgate.gateway.media.hold_music import load_site_audio, site_audio_path
from acdgate.gateway.media.session import Samples

REASON_KEY = "policy.reason_prompt_audio"
WRAPUP_KEY = "policy.wrapup_prompt_audio"


@dataclass(frozen=True, slots=True, eq=False)
class PromptAudio:
    """The spoken prompts a site has (None: that prompt is the tone)."""

    reason: Samples | None = None
    wrapup: Samples | None = None


def load_prompt_audio(site: Site) -> PromptAudio:
    """The site's spoken prompts; ConfigError when a named file is unusable."""
    policy = site.policy

    def load(name: str | None, key: str) -> Samples | None:
        return None if name is None else load_site_audio(site, site_audio_path(site, name), key)

    return PromptAudio(reason=load(policy.reason_prompt_audio, REASON_KEY),
                       wrapup=load(policy.wrapup_prompt_audio, WRAPUP_KEY))


__all__ = ["REASON_KEY", "WRAPUP_KEY", "PromptAudio", "load_prompt_audio"]
