"""A station's phone registering from 127.0.0.1 to a running gateway (a digest REGISTER over
UDP), so that its `/xml/` screens may act for the station (issue 19: a screen acts for a
station only from the address it is registered from)."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from contextlib import contextmanager

from acdgate.lab.desk_registration import register_desk

DESKS = tuple(f"21{n:02d}" for n in range(1, 11))  # the demo site's desk stations 2101..2110


def register(sip: tuple[str, int], *users: str, expires: int = 600, timeout: float = 5.0) -> None:
    """REGISTER each station user of `users` (demo password `pw<user>`) from 127.0.0.1; the
    binding's contact is a closed port: nothing answers there."""
    for user in users:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as phone:
            phone.bind(("127.0.0.1", 0))
            _register(phone, sip, user, f"pw{user}", expires, timeout)


@contextmanager
def registered(sip: tuple[str, int], *users: str, timeout: float = 5.0) -> Iterator[None]:
    """`users` registered from 127.0.0.1 while the block runs, unregistered after it (for
    tests whose calls must then reach only the real phones registered later)."""
    phones = []
    try:
        for user in users:
            phone = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            phones.append((user, phone))
            phone.bind(("127.0.0.1", 0))
            _register(phone, sip, user, f"pw{user}", 600, timeout)
        yield
    finally:
        for user, phone in phones:
            try:
                _register(phone, sip, user, f"pw{user}", 0, timeout)  # RFC 3261 10.2.2: remove it
            finally:
                phone.close()


def _register(phone: socket.socket, sip: tuple[str, int], user: str, password: str,
              expires: int, timeout: float) -> None:
    """One REGISTER from `phone`'s port, answered 401 then 200 (raises otherwise)."""
    register_desk(phone, sip, user, password, expires=expires, timeout=timeout)
