"""The short alias every path given to baresip goes through (sndfile's 128-byte names)."""

from __future__ import annotations

from pathlib import Path

import pytest
from acdgate.lab.drivers.baresip import (
    SNDFILE_DUMP_NAME,
    SNDFILE_NAME_MAX,
    BaresipError,
    BaresipProcess,
    drop_alias,
    short_alias,
)


def test_a_deep_home_is_reached_through_a_short_alias(tmp_path: Path) -> None:
    home = tmp_path / ("d" * 120) / "baresip"
    home.mkdir(parents=True)
    link = short_alias(home)
    try:
        assert link.resolve() == home.resolve()
        assert len(str(link / "calls" / SNDFILE_DUMP_NAME)) <= SNDFILE_NAME_MAX
        (link / "written-through.txt").write_text("x")
        assert (home / "written-through.txt").read_text() == "x"
    finally:
        drop_alias(link)
    assert not link.parent.exists()
    assert (home / "written-through.txt").exists(), "dropping the alias keeps the files"


def test_the_config_names_only_alias_paths(tmp_path: Path) -> None:
    home = tmp_path / ("d" * 120) / "baresip"
    process = BaresipProcess(home, ctrl_port=1)
    try:
        config = dict(line.split("\t\t", 1) for line in process.config_text().splitlines())
        assert len(config["snd_path"] + "/" + SNDFILE_DUMP_NAME) <= SNDFILE_NAME_MAX
        assert Path(config["snd_path"]).resolve() == process.snd_path.resolve()
        assert str(home) not in config["audio_source"]
    finally:
        process.kill()
    assert process._alias is None


def test_a_temp_dir_too_deep_for_sndfile_is_refused_with_the_way_out(tmp_path: Path,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    deep = tmp_path / ("t" * 120)
    deep.mkdir()
    monkeypatch.setenv("TMPDIR", str(deep))
    import tempfile
    monkeypatch.setattr(tempfile, "tempdir", None)  # gettempdir() caches; let it read TMPDIR again
    with pytest.raises(BaresipError, match="TMPDIR"):
        short_alias(tmp_path)
    assert list(deep.iterdir()) == [], "nothing left behind"
