"""Wait for files in a folder to change: Linux inotify through ctypes (the stdlib has none).

For the one signal some tools give: a file they write as they go (baresip's sndfile dump of
received audio). `FileWatch(folder).wait(timeout)` returns when something in the folder was
created or written, or when the timeout runs out: a test re-checks its condition after each
wakeup instead of sleeping between looks.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import select
from pathlib import Path

IN_MODIFY = 0x002
IN_CLOSE_WRITE = 0x008
IN_CREATE = 0x100
IN_MOVED_TO = 0x080
IN_NONBLOCK = os.O_NONBLOCK
IN_CLOEXEC = os.O_CLOEXEC

_libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)


class FileWatch:
    """An inotify watch on one folder (created, written, closed, moved in)."""

    def __init__(self, folder: Path) -> None:
        self.fd = _libc.inotify_init1(IN_NONBLOCK | IN_CLOEXEC)
        if self.fd < 0:
            raise OSError(ctypes.get_errno(), "inotify_init1")
        mask = IN_MODIFY | IN_CLOSE_WRITE | IN_CREATE | IN_MOVED_TO
        if _libc.inotify_add_watch(self.fd, os.fsencode(folder), mask) < 0:
            errno = ctypes.get_errno()
            os.close(self.fd)
            raise OSError(errno, f"inotify_add_watch {folder}")

    def wait(self, timeout: float) -> bool:
        """True when something changed within `timeout` seconds (the events are consumed)."""
        ready, _, _ = select.select([self.fd], [], [], max(0.0, timeout))
        if not ready:
            return False
        try:
            while os.read(self.fd, 65536):
                pass
        except BlockingIOError:
            pass
        return True

    def close(self) -> None:
        os.close(self.fd)

    def __enter__(self) -> FileWatch:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
