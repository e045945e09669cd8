"""The site's music on hold: `policy.music_on_hold` read once at start-up as 8 kHz samples
(and `load_site_audio`, which reads the other WAVs a site names the same way).

The path is relative to the site file's folder. A file that is missing, unreadable or not
8 kHz mono 16-bit PCM is a site error (`ConfigError` naming the file, key and reason), so a
gateway with bad hold music refuses to start instead of playing silence.
"""

from __future__ import annotations

import wave
from pathlib import Path

from acdgate.acd.config import ConfigError
from acdgate.acd.site import Site
from acdgate.codecs.wavplayer import WavFormatError, read_wav
from acdgate.gateway.media.session import Samples

KEY = "policy.music_on_hold"
MAX_SECONDS = 600  # a loop longer than this is kept in memory for every call: refuse it


def site_audio_path(site: Site, name: str) -> Path:
    """Where an audio file the site file names is: relative to the site file's folder."""
    source = Path(site.source)
    base = source.parent if source.is_file() else Path.cwd()
    return (base / name).resolve()


def hold_music_path(site: Site) -> Path | None:
    """Where the site's hold music is, or None when it has none."""
    name = site.policy.music_on_hold
    return None if name is None else site_audio_path(site, name)


def load_hold_music(site: Site) -> Samples | None:
    """The hold music samples (None when the site names none); ConfigError when unusable."""
    path = hold_music_path(site)
    return None if path is None else load_site_audio(site, path, KEY)


def load_site_audio(site: Site, path: Path, key: str) -> Samples:
    """8 kHz samples of a WAV the site file names under `key`; ConfigError naming file, key
    and reason when it is missing, unreadable, not 8 kHz mono 16-bit PCM, or of an unusable
    length."""
    try:
        samples = read_wav(path)
    except OSError as exc:
        raise ConfigError(site.source, key, f"cannot read {path}: {exc.strerror or exc}") from None
    except WavFormatError as exc:
        raise ConfigError(site.source, key, f"{path}: {exc}") from None
    except (wave.Error, EOFError) as exc:
        raise ConfigError(site.source, key, f"{path}: not a PCM WAV file ({exc})") from None
    if len(samples) < 160:
        raise ConfigError(site.source, key, f"{path}: shorter than 20 ms")
    if len(samples) > MAX_SECONDS * 8000:
        raise ConfigError(site.source, key, f"{path}: longer than {MAX_SECONDS} s")
    return samples


__all__ = ["KEY", "hold_music_path", "load_hold_music", "load_site_audio", "site_audio_path"]
