"""RFC 4235 dialog event package bodies (`application/dialog-info+xml`) and station call states.

Busy lamp field keys subscribe to `Event: dialog` for a station's extension and light up
from these documents: no `<dialog>` element means idle, `early` ringing, `confirmed` on a
call. `DialogStates` is what the call layer (the B2BUA, later) feeds with each station's
dialogs; it tells its listeners which station changed. Pure: no I/O, no clock.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Callable
from dataclasses import dataclass, replace
from enum import StrEnum
from xml.sax.saxutils import escape, quoteattr

CONTENT_TYPE = "application/dialog-info+xml"
EVENT_PACKAGE = "dialog"
DIALOG_INFO_NS = "urn:ietf:params:xml:ns:dialog-info"
MAX_BODY = 65536


class DialogInfoError(ValueError):
    """A body that is not a dialog-info document."""


class DialogState(StrEnum):
    """RFC 4235 3.7.1 dialog states (the ones a BLF key shows)."""

    TRYING = "trying"
    PROCEEDING = "proceeding"
    EARLY = "early"
    CONFIRMED = "confirmed"
    TERMINATED = "terminated"


class Direction(StrEnum):
    """RFC 4235 4.1.2: whether the station placed (initiator) or received (recipient) the call."""

    INITIATOR = "initiator"
    RECIPIENT = "recipient"


@dataclass(frozen=True, slots=True)
class Dialog:
    """One dialog of a station, as RFC 4235 reports it."""

    id: str
    state: DialogState
    call_id: str = ""
    direction: Direction | None = None
    remote: str | None = None  # the other party's URI, when known


@dataclass(frozen=True, slots=True)
class DialogInfo:
    """A whole dialog-info document."""

    entity: str
    version: int
    full: bool
    dialogs: tuple[Dialog, ...] = ()


def build_dialog_info(info: DialogInfo) -> bytes:
    """Serialise a document (RFC 4235 4.1: version, state full|partial, entity)."""
    state = "full" if info.full else "partial"
    lines = [
        '<?xml version="1.0" encoding="UTF-8"?>',
        f'<dialog-info xmlns="{DIALOG_INFO_NS}" version="{info.version}" state="{state}" '
        f"entity={quoteattr(info.entity)}>",
    ]
    for d in info.dialogs:
        attrs = f"id={quoteattr(d.id)}"
        if d.call_id:
            attrs += f" call-id={quoteattr(d.call_id)}"
        if d.direction is not None:
            attrs += f' direction="{d.direction.value}"'
        lines.append(f"<dialog {attrs}>")
        lines.append(f"<state>{d.state.value}</state>")
        if d.remote:
            lines.append(f"<remote><identity>{escape(d.remote)}</identity></remote>")
        lines.append("</dialog>")
    lines.append("</dialog-info>")
    return ("\r\n".join(lines) + "\r\n").encode()


def parse_dialog_info(body: bytes) -> DialogInfo:
    """Parse a document (for tests and the lab harness); DialogInfoError when malformed."""
    if len(body) > MAX_BODY or b"<!DOCTYPE" in body or b"<!ENTITY" in body:
        raise DialogInfoError("dialog-info body too large or with a DTD")
    try:
        root = ET.fromstring(body)
    except ET.ParseError as exc:
        raise DialogInfoError(f"not XML: {exc}") from None
    except (LookupError, ValueError) as exc:  # expat: unknown or multi-byte declared encoding
        raise DialogInfoError(f"in an encoding we cannot read: {exc}") from None
    ns = "{" + DIALOG_INFO_NS + "}"
    if root.tag != ns + "dialog-info":
        raise DialogInfoError(f"root is {root.tag}, not dialog-info")
    try:
        version = int(root.get("version", ""))
    except ValueError:
        raise DialogInfoError("version is not a number") from None
    state = root.get("state")
    if state not in ("full", "partial"):
        raise DialogInfoError(f"state is {state!r}")
    dialogs = []
    for node in root.findall(ns + "dialog"):
        state_node = node.find(ns + "state")
        if state_node is None:
            raise DialogInfoError("dialog without state")
        try:
            dialog_state = DialogState((state_node.text or "").strip())
            raw_direction = node.get("direction")
            direction = Direction(raw_direction) if raw_direction else None
        except ValueError as exc:
            raise DialogInfoError(str(exc)) from None
        identity = node.find(f"{ns}remote/{ns}identity")
        dialogs.append(Dialog(
            id=node.get("id", ""),
            state=dialog_state,
            call_id=node.get("call-id", ""),
            direction=direction,
            remote=(identity.text or "").strip() if identity is not None else None,
        ))
    return DialogInfo(entity=root.get("entity", ""), version=version, full=state == "full",
                      dialogs=tuple(dialogs))


StationListener = Callable[[str], None]


class DialogStates:
    """Each station's current dialogs; the call layer sets them, BLF subscriptions read them.

    A station with no dialog is idle. A dialog set to TERMINATED is listed, in that state, in
    the documents its listeners build while they are told (RFC 4235 3.7.1: a watcher sees the
    dialog end), then removed: the next document no longer lists it.
    """

    def __init__(self) -> None:
        self._dialogs: dict[str, dict[str, Dialog]] = {}
        self._ending: dict[str, Dialog] = {}  # station -> the dialog being reported terminated
        self.listeners: list[StationListener] = []

    def set(self, extension: str, state: DialogState | str, call_id: str,
            direction: Direction | str | None = None, remote: str | None = None) -> None:
        """Record that the station's dialog `call_id` is now in `state`; tell the listeners."""
        dialog = Dialog(
            id=call_id,
            state=DialogState(state),
            call_id=call_id,
            direction=Direction(direction) if direction is not None else None,
            remote=remote,
        )
        per_station = self._dialogs.setdefault(extension, {})
        ending = None
        if dialog.state is DialogState.TERMINATED:
            gone = per_station.pop(call_id, None)
            if gone is None:
                return
            ending = replace(gone, state=DialogState.TERMINATED)  # as it was, now ended
        else:
            if per_station.get(call_id) == dialog:
                return
            per_station[call_id] = dialog
        if not per_station:
            del self._dialogs[extension]
        if ending is not None:
            self._ending[extension] = ending
        try:
            for listener in list(self.listeners):
                listener(extension)
        finally:
            self._ending.pop(extension, None)

    def dialogs(self, extension: str) -> tuple[Dialog, ...]:
        """The station's live dialogs (empty: idle), and the one ending while its end is told."""
        live = tuple(self._dialogs.get(extension, {}).values())
        ending = self._ending.get(extension)
        return (*live, ending) if ending is not None else live
