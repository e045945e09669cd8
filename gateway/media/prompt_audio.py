"""The site's spoken prompts (issue 16): `policy.reason_prompt_audio` and
`policy.wrapup_prompt_audio`, read once at start-up as 8 kHz samples.

Where the site has audio for a prompt it is played instead of the prompt tone (which file
for which phone: `gateway.agents.short_code_calls`). A file that is missing or not 8 kHz mono 16-bit PCM stops start-up with a
`ConfigError` naming the file, the key and the reason, as bad hold music does.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from acdgate.acd.languages import Language
from acdgate.acd.site import Site
from acdgate.gateway.media.hold_music import load_site_audio, site_audio_path
from acdgate.gateway.media.session import Samples

REASON_KEY = "policy.reason_prompt_audio"
WRAPUP_KEY = "policy.wrapup_prompt_audio"

# A prompt's audio by language; the None key: for every language.
PromptFiles = Mapping[Language | None, Samples]


@dataclass(frozen=True, slots=True, eq=False)
class PromptAudio:
    """The spoken prompts a site has (empty: that prompt is the tone)."""

    reason: PromptFiles = field(default_factory=dict)
    wrapup: PromptFiles = field(default_factory=dict)


def load_prompt_audio(site: Site) -> PromptAudio:
    """The site's spoken prompts; ConfigError when a named file is unusable."""
    policy = site.policy

    def load(files: tuple[tuple[Language | None, str], ...], key: str) -> PromptFiles:
        return {language: load_site_audio(site, site_audio_path(site, name),
                                          key if language is None else f"{key}.{language.value}")
                for language, name in files}

    return PromptAudio(reason=load(policy.reason_prompt_audio, REASON_KEY),
                       wrapup=load(policy.wrapup_prompt_audio, WRAPUP_KEY))


__all__ = ["REASON_KEY", "WRAPUP_KEY", "PromptAudio", "PromptFiles", "load_prompt_audio"]
