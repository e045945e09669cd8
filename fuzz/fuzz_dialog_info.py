"""Fuzz the RFC 4235 dialog-info XML parser against its contract.

Contract (gateway/presence/dialog_info.py): `parse_dialog_info` raises only
`DialogInfoError`; a document it accepts builds back into a body that parses into the same
document.
"""

from __future__ import annotations

from acdgate.gateway.presence.dialog_info import (
    DialogInfoError,
    build_dialog_info,
    parse_dialog_info,
)


def check(data: bytes) -> None:
    """One input as an `application/dialog-info+xml` NOTIFY body."""
    try:
        info = parse_dialog_info(data)
    except DialogInfoError:
        return
    assert parse_dialog_info(build_dialog_info(info)) == info, info


if __name__ == "__main__":
    from atheris_driver import fuzz

    fuzz(check)
