"""`GET /api/reports/agents`, `/api/reports/groups` and `/api/reports/html`: the archived
reports of `acdgate report`, built from the journal alone.

Query parameters: `from` and `to` (epoch seconds or ISO 8601, UTC unless an offset is given;
default today 00:00 UTC to now) and `interval` (15, 30, 60 or day; default 60). A report
reads the journal from its start, which takes seconds for a large one, so it is built on a
worker thread with a read-only connection of its own (`records_for`), never on the reactor.
Like the other read-only views these are GETs, open without the `[http] token`.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from acdgate.acd.reports import (
    REPORT_KINDS,
    Granularity,
    Report,
    agents_json,
    build_report,
    groups_json,
    render_html,
)
from acdgate.acd.reports.intervals import day_start, parse_moment
from acdgate.acd.site import Site
from twisted.internet.threads import deferToThreadPool
from twisted.logger import Logger
from twisted.python.failure import Failure
from twisted.web import resource, server

log = Logger(namespace="acdgate.http")

# the journal's records of `kinds` before `end`, in order; called on a worker thread
RecordsFor = Callable[[float, tuple[str, ...]], Iterable[Mapping[str, object]]]

_VIEWS: dict[str, Callable[[Report], dict[str, Any]]] = {"agents": agents_json, "groups": groups_json}


# an open GET builds at most this many intervals (a year of quarter hours is 35,040): `from=0`
# would otherwise ask for every hour since 1970 (the command line has no such bound)
MAX_INTERVALS = 40_000


class ReportQueryError(ValueError):
    """A query parameter a report cannot use; the message says which and why."""


def report_span(args: Mapping[bytes, list[bytes]], now: float) -> tuple[float, float, Granularity]:
    """(start, end, granularity) from a request's query arguments."""

    def one(name: str) -> str | None:
        values = args.get(name.encode())
        return values[-1].decode(errors="replace") if values else None

    try:
        end = parse_moment(text) if (text := one("to")) is not None else now
        start = parse_moment(text) if (text := one("from")) is not None else day_start(now)
    except ValueError as exc:
        raise ReportQueryError(str(exc)) from None
    interval = one("interval") or Granularity.MINUTES_60.value
    try:
        granularity = Granularity(interval)
    except ValueError:
        raise ReportQueryError(f"interval must be 15, 30, 60 or day, not {interval!r}") from None
    if not end > start:
        raise ReportQueryError(f"'to' must be after 'from' ({end} <= {start})")
    if (end - start) / granularity.seconds > MAX_INTERVALS:
        raise ReportQueryError(f"the range holds more than {MAX_INTERVALS} intervals of "
                               f"{granularity.value}: ask for a shorter range or a longer interval")
    return start, end, granularity


class Reports(resource.Resource):
    """`/api/reports/<agents|groups|html>`."""

    isLeaf = True
    # every route it serves (http_api.api_routes, for the OpenAPI description): GET below it only
    subroutes = (("GET", "/agents"), ("GET", "/groups"), ("GET", "/html"))

    def __init__(self, reactor: Any, site: Site, records_for: RecordsFor) -> None:
        super().__init__()
        self._reactor = reactor
        self._site = site
        self._records_for = records_for

    def _build(self, start: float, end: float, granularity: Granularity) -> Report:
        records = self._records_for(end, REPORT_KINDS)
        return build_report(records, start, end, self._site, granularity, detail=False)

    def render_GET(self, request: server.Request) -> bytes | int:
        path = [p.decode(errors="replace") for p in request.postpath or [] if p]
        view = path[0] if len(path) == 1 else ""
        if view not in (*_VIEWS, "html"):
            return _json(request, 404, {"error": "no such report; use /api/reports/agents, "
                                                 "/api/reports/groups or /api/reports/html"})
        try:
            start, end, granularity = report_span(request.args or {}, self._reactor.seconds())
        except ReportQueryError as exc:
            return _json(request, 400, {"error": str(exc)})
        d = deferToThreadPool(self._reactor, self._reactor.getThreadPool(), self._build, start, end, granularity)
        gone: list[Failure] = []  # the client left before the report was ready: nobody to answer
        request.notifyFinish().addErrback(gone.append)

        def done(report: Report) -> None:
            if gone:
                return
            if view == "html":
                request.setHeader(b"content-type", b"text/html; charset=utf-8")
                request.setHeader(b"cache-control", b"no-store")
                request.write(render_html(report, self._site.name).encode())
            else:
                request.write(_json(request, 200, _VIEWS[view](report)))
            request.finish()

        def failed(failure: Failure) -> None:
            # the journal could not be read: the client is told so, and the log has the cause
            log.failure("report {view} failed", failure, view=view)
            if gone:
                return
            request.write(_json(request, 500, {"error": f"the report could not be built: {failure.getErrorMessage()}"}))
            request.finish()

        d.addCallbacks(done, failed)
        return server.NOT_DONE_YET

    def render(self, request: server.Request) -> bytes | int:
        if request.method in (b"GET", b"HEAD"):
            return super().render(request)  # type: ignore[no-any-return]
        request.setHeader(b"allow", b"GET, HEAD")
        return _json(request, 405, {"error": "GET only"})


def _json(request: server.Request, status: int, body: object) -> bytes:
    request.setResponseCode(status)
    request.setHeader(b"content-type", b"application/json; charset=utf-8")
    request.setHeader(b"cache-control", b"no-store")
    return json.dumps(body, indent=2, sort_keys=True).encode() + b"\n"
