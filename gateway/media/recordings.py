"""Call recordings on disk: stereo WAV files under `<state dir>/recordings/` and their index.

A recording is started by the agent (`*43`, the phone's Options menu) or by a supervisor;
the guide's rule "You cannot stop a supervisor-initiated recording" is kept by `stop`.
Files are named by call (`<UTC date-time>-<call id>-<agent>.wav`, caller left, agent right,
written by codecs.recorder); each finished recording appends one JSON line to
`index.jsonl`, so `GET /api/recordings` lists them across restarts.
"""

from __future__ import annotations

import json
import re
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

from acdgate.codecs.g711 import Law
from acdgate.codecs.recorder import SAMPLE_RATE, CallRecorder
from twisted.logger import Logger

log = Logger(namespace="acdgate.recordings")

INDEX_NAME = "index.jsonl"
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


@dataclass(frozen=True, slots=True)
class RecordingInfo:
    """One recording as the API lists it (`ended` None while it runs)."""

    call_id: str
    agent: str
    group: str
    started: float
    by: str  # user id of whoever started it
    supervisor: bool  # started by a supervisor: the agent cannot stop it
    path: str
    ended: float | None = None
    duration: float = 0.0  # seconds of audio in the file
    size: int = 0  # bytes on disk

    def row(self) -> dict[str, Any]:
        return asdict(self)


class ActiveRecording:
    """A recording in progress: its recorder (fed by the Bridge or the Conference) and info."""

    def __init__(self, info: RecordingInfo, recorder: CallRecorder) -> None:
        self.info = info
        self.recorder = recorder


class RecordingArchive:
    """The recordings folder: new file paths, recordings in progress, the finished index."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.active: dict[str, ActiveRecording] = {}  # path -> recording
        self.finished: list[RecordingInfo] = self._load()

    def start(self, call_id: str, agent: str, group: str, by: str, supervisor: bool,
              now: float) -> ActiveRecording:
        """Open a new WAV file for the call (caller left, agent right)."""
        path = self._new_path(call_id, agent, now)
        info = RecordingInfo(call_id, agent, group, now, by, supervisor, str(path))
        recording = ActiveRecording(info, CallRecorder(str(path), Law.ULAW))
        self.active[info.path] = recording
        log.info("recording {path} started by {by}", path=path, by=by)
        return recording

    def finish(self, recording: ActiveRecording, now: float) -> RecordingInfo:
        """Close the file and add it to the index."""
        if self.active.pop(recording.info.path, None) is None:
            return recording.info
        recording.recorder.close()
        path = Path(recording.info.path)
        size = path.stat().st_size if path.exists() else 0
        info = replace(recording.info, ended=now, size=size,
                       duration=round(recording.recorder.frames_written / SAMPLE_RATE, 3))
        recording.info = info
        self.finished.append(info)
        try:
            with (self.directory / INDEX_NAME).open("a", encoding="utf-8") as index:
                index.write(json.dumps(info.row(), sort_keys=True) + "\n")
        except OSError as exc:
            log.error("cannot add {path} to the recordings index: {exc}", path=path, exc=exc)
        return info

    def rows(self) -> list[dict[str, Any]]:
        """Finished recordings, then those in progress (oldest first within each)."""
        running = sorted((r.info for r in self.active.values()), key=lambda i: i.started)
        return [i.row() for i in (*self.finished, *running)]

    def _new_path(self, call_id: str, agent: str, now: float) -> Path:
        self.directory.mkdir(parents=True, exist_ok=True)
        stamp = time.strftime("%Y%m%d-%H%M%S", time.gmtime(now))
        stem = f"{stamp}-{_UNSAFE.sub('_', call_id)[:64]}-{_UNSAFE.sub('_', agent)}"
        path = self.directory / f"{stem}.wav"
        n = 2
        while path.exists() or str(path) in self.active:
            path = self.directory / f"{stem}-{n}.wav"
            n += 1
        return path

    def _load(self) -> list[RecordingInfo]:
        index = self.directory / INDEX_NAME
        if not index.exists():
            return []
        found = []
        for number, line in enumerate(index.read_text(encoding="utf-8").splitlines(), 1):
            try:
                found.append(RecordingInfo(**json.loads(line)))
            except (ValueError, TypeError):  # a torn last line after a crash, or a foreign line
                log.warn("{index} line {number} is not a recording; skipped", index=index, number=number)
        return found
