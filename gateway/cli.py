"""The `acdgate` command line: run the gateway, check and print site files, print reports."""

from __future__ import annotations

import argparse
import datetime as dt
import sys
from collections.abc import Sequence
from pathlib import Path

DEFAULT_STATE_DIR = "state"


def _port(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a port number: {text!r}") from None
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"port out of range 0-65535: {value}")
    return value


def _when(text: str) -> float:
    """An ISO 8601 date or date-time (local time unless it says otherwise), or epoch seconds."""
    try:
        return float(text)
    except ValueError:
        pass
    try:
        moment = dt.datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"not a time: {text!r} (use e.g. 2026-11-22, 2026-11-22T09:30 or epoch seconds)"
        ) from None
    if moment.tzinfo is None:
        moment = moment.astimezone()
    return moment.timestamp()


def build_parser() -> argparse.ArgumentParser:
    """The argument parser for every subcommand."""
    parser = argparse.ArgumentParser(
        prog="acdgate",
        description=(
            "Hardware-in-the-loop ACD gateway: SIP phones register, agents log on with short "
            "codes or feature keys, calls are queued and routed to agents."
        ),
        epilog="Run 'acdgate COMMAND --help' for the options of a command.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    run = sub.add_parser(
        "run",
        help="run the gateway (on the embedded demo site when no --config is given)",
        description=(
            "Serve SIP (UDP and TCP, and TLS when the site configures a certificate), the H.323 "
            "RAS gatekeeper and the HTTP API. Without --config the embedded demo site is used (see 'acdgate demo-config')."
        ),
    )
    run.add_argument("--config", "-c", metavar="FILE", help="site file (TOML); default: the demo site")
    run.add_argument(
        "--state-dir", metavar="DIR", default=DEFAULT_STATE_DIR,
        help=f"where the journal, sessions and registrations are kept (default: ./{DEFAULT_STATE_DIR})",
    )
    # -- the state store (issue 18) --
    run.add_argument(
        "--store", metavar="URL",
        help="keep the state in PostgreSQL at this URL (postgresql://user:password@host/db) instead "
        "of SQLite in --state-dir; wins over the site file's [store] url (docs/storage.md)",
    )
    # -- end of the state store --
    run.add_argument("--bind", metavar="ADDR", help="address to listen on (default: the site's, else 0.0.0.0)")
    run.add_argument("--sip-port", type=_port, metavar="PORT", help="SIP UDP/TCP port (default: the site's, else 5060; 0: any free port)")
    run.add_argument(
        "--sip-tls-port", type=_port, metavar="PORT",
        help="SIP over TLS port (default: the site's tls_port, else no TLS; 0: any free port); "
        "needs tls_certificate and tls_key in the site file",
    )
    run.add_argument("--http-port", type=_port, default=8080, metavar="PORT", help="HTTP API port (default: 8080; 0: any free port)")
    run.add_argument("--no-http", action="store_true", help="do not serve the HTTP API")
    run.add_argument(
        "--h323-ras-port", type=_port, default=1719, metavar="PORT",
        help="H.323 RAS gatekeeper UDP port (default: 1719; 0: any free port); docs/h323.md",
    )
    run.add_argument(
        "--h323-port", type=_port, default=1720, metavar="PORT",
        help="H.323 call signalling TCP port, served and given to endpoints by the gatekeeper "
        "(default: 1720; 0: any free port); docs/h323.md",
    )
    run.add_argument("--no-h323", action="store_true", help="do not serve H.323 (neither the gatekeeper nor call signalling)")
    run.add_argument(
        "--h323-trace", metavar="FILE",
        help="write every H.323 message sent and received (RAS, call signalling, H.245) to this pcap "
        "file (docs/h323.md)",
    )
    run.add_argument("--sip-trace", metavar="FILE", help="write every SIP message sent and received to this pcap file")
    run.add_argument(
        "--log-level", default="info", choices=["debug", "info", "warn", "error"],
        help="how much to log on standard error (default: info)",
    )

    check = sub.add_parser(
        "check-config", help="validate a site file and print a summary",
        description="Validate a site file; print a summary, or every problem with file, key and reason (exit 2).",
    )
    check.add_argument("file", metavar="FILE", help="site file (TOML)")

    sub.add_parser(
        "demo-config", help="print the embedded demo site as a file to copy and edit",
        description="Print the embedded demo site (TOML) on standard output.",
    )

    report = sub.add_parser(
        "report", help="print agent and group reports from the journal",
        description=(
            "Archived agent and group reports from the journal: agent time in each state and "
            "reason, logons, Not Ready periods, wrap-up codes, calls; per group offered, "
            "answered, abandoned, overflowed, speed of answer, service level; per interval and "
            "over the range."
        ),
    )
    report.add_argument("--state-dir", metavar="DIR", default=DEFAULT_STATE_DIR, help="state directory (default: ./state)")
    report.add_argument("--config", "-c", metavar="FILE", help="site file (default: the demo site)")
    report.add_argument(
        "--store", metavar="URL",
        help="read the journal from PostgreSQL at this URL instead of --state-dir; wins over the "
        "site file's [store] url",
    )
    report.add_argument("--from", dest="start", type=_when, metavar="WHEN", help="start (default: today 00:00)")
    report.add_argument("--to", dest="end", type=_when, metavar="WHEN", help="end (default: now)")
    report.add_argument("--csv", action="store_true", help="write CSV instead of a table (same as --format csv)")
    # -- archived reports (issue 17) --
    report.add_argument(
        "--format", choices=["table", "csv", "json", "html"], default=None,
        help="table (default), csv, json, or html (a page with charts, no network needed)",
    )
    report.add_argument(
        "--interval", choices=["15", "30", "60", "day"], default="60",
        help="cut the range into 15, 30 or 60 minute intervals or days, UTC (default: 60)",
    )
    # -- end of archived reports --
    return parser


def _check_config(path: str) -> int:
    from acdgate.acd.config import ConfigError, site_warnings
    from acdgate.gateway.site_loader import load_site, site_summary

    try:
        site = load_site(path)
    except ConfigError as exc:
        print(str(exc), file=sys.stderr)
        return 2
    for key, reason in site_warnings(site):  # usable, so not an error: exit status 0
        print(f"{site.source}: {key}: warning: {reason}", file=sys.stderr)
    print(site_summary(site))
    return 0


def _demo_config() -> int:
    from acdgate.gateway.site_loader import demo_site_text

    sys.stdout.write(demo_site_text())
    return 0


def _report(args: argparse.Namespace) -> int:
    import json
    import time

    from acdgate.acd.config import ConfigError
    from acdgate.acd.reports import (
        REPORT_KINDS,
        Granularity,
        build_report,
        render_csv,
        render_html,
        render_table,
        report_json,
    )
    from acdgate.gateway.site_loader import load_site
    from acdgate.gateway.storage.journal_reader import JournalReadError, read_journal
    from acdgate.gateway.storage.location import choose_url
    from acdgate.gateway.storage.store import DB_NAME

    try:
        site = load_site(args.config)
    except ConfigError as exc:
        print(str(exc), file=sys.stderr)
        return 2
    end = args.end if args.end is not None else time.time()
    if args.start is not None:
        start = args.start
    else:
        start = dt.datetime.now().astimezone().replace(hour=0, minute=0, second=0, microsecond=0).timestamp()
    if not end > start:
        print(f"--to must be after --from ({end} <= {start})", file=sys.stderr)
        return 2
    if args.csv and args.format not in (None, "csv"):
        print(f"--csv and --format {args.format} contradict each other", file=sys.stderr)
        return 2
    form = "csv" if args.csv else args.format or "table"
    url = choose_url(args.store, site.store.url)
    db = Path(args.state_dir) / DB_NAME
    if url is None and not Path(args.state_dir).is_dir():
        print(f"{args.state_dir}: no such state directory", file=sys.stderr)
        return 2
    try:
        # read-only, on a connection of its own: a running gateway keeps appending meanwhile
        if url is not None:
            records = read_journal(url, end=end, kinds=REPORT_KINDS)
        else:
            records = read_journal(db, end=end, kinds=REPORT_KINDS) if db.is_file() else iter(())
        report = build_report(records, start, end, site, Granularity(args.interval), detail=False)
    except JournalReadError as exc:
        print(str(exc), file=sys.stderr)
        return 2
    if form == "json":
        sys.stdout.write(json.dumps(report_json(report), indent=2, sort_keys=True) + "\n")
    elif form == "html":
        sys.stdout.write(render_html(report, site.name))
    else:
        sys.stdout.write(render_csv(report) if form == "csv" else render_table(report))
    return 0


def run_command(parser: argparse.ArgumentParser, args: argparse.Namespace) -> int:
    """Carry out one of the gateway's commands, parsed by `parser` (or a parser built on it)."""
    if args.command is None:
        parser.print_help()
        return 0
    if args.command == "check-config":
        return _check_config(args.file)
    if args.command == "demo-config":
        return _demo_config()
    if args.command == "report":
        return _report(args)
    if args.command == "run":
        from acdgate.gateway.app import run_from_args

        return run_from_args(args)
    parser.error(f"unknown command {args.command!r}")
    return 2


def main(argv: Sequence[str] | None = None) -> int:
    """The gateway's commands alone (`python -m acdgate.gateway.cli`); the `acdgate` console
    script adds the lab's (acdgate.console)."""
    parser = build_parser()
    return run_command(parser, parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
