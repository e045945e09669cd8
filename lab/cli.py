"""The `acdgate` console entry point: the gateway's commands plus `acdgate lab ...`.

The gateway never imports the lab (imports point down), so the lab owns the entry point: it
takes the gateway's parser, adds `lab` (check, net up|down, run) and hands every other
command to `acdgate.gateway.cli.main`.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from acdgate.gateway import cli as gateway_cli


def _subcommands(parser: argparse.ArgumentParser) -> argparse._SubParsersAction[argparse.ArgumentParser]:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return action
    raise RuntimeError("the gateway's parser has no subcommands")


def build_parser() -> argparse.ArgumentParser:
    """The gateway's parser with the `lab` command added."""
    parser = gateway_cli.build_parser()
    lab = _subcommands(parser).add_parser(
        "lab", help="lab harness: check an inventory, build the lab LAN, run hil_tests",
        description="Hardware-in-the-loop lab: inventories, the namespace lab LAN and test runs.",
    )
    sub = lab.add_subparsers(dest="lab_command", metavar="LAB_COMMAND")
    check = sub.add_parser("check", help="validate a lab inventory (TOML)",
                           description="Validate an inventory; print a summary, or every problem "
                           "with file, key and reason (exit 2).")
    check.add_argument("inventory", metavar="INVENTORY")
    net = sub.add_parser("net", help="build or remove the lab LAN (network namespaces on 198.18.0.0/15)")
    net.add_argument("action", choices=["up", "down", "status"])
    net.add_argument("--phones", type=int, default=4, metavar="N", help="phone hosts (default 4)")
    net.add_argument("--name", default="acdlab", help="namespace name prefix (default acdlab)")
    net.add_argument("--delay-ms", type=float, default=0.0)
    net.add_argument("--jitter-ms", type=float, default=0.0)
    net.add_argument("--loss-percent", type=float, default=0.0)
    run = sub.add_parser("run", help="run hil_tests/ against an inventory (default: softphones here)",
                         description="Run the hil_tests scenarios; writes JUnit XML, an HTML report "
                         "with SIP ladders, and the captures under --out.")
    run.add_argument("inventory", nargs="?", metavar="INVENTORY")
    run.add_argument("-k", dest="keyword", metavar="EXPR", help="only scenarios matching EXPR (pytest -k)")
    run.add_argument("--out", default="lab-report", metavar="DIR", help="report folder (default ./lab-report)")
    run.add_argument("--tests", metavar="DIR", help="the hil_tests folder (default: ./hil_tests)")
    run.add_argument("--quick", action="store_true", help="clean network only (no lossy repeat)")
    return parser


def _lab_check(path: str) -> int:
    from acdgate.lab.inventory import InventoryError, load_inventory, summary

    try:
        inv = load_inventory(path)
    except InventoryError as exc:
        print(str(exc), file=sys.stderr)
        return 2
    print(summary(inv))
    return 0


def _lab_net(args: argparse.Namespace) -> int:
    from acdgate.lab.inventory import Impairment
    from acdgate.lab.netlab import LabNet, NetlabError

    net = LabNet(args.name, phones=args.phones,
                 impairment=Impairment("cli", args.delay_ms, args.jitter_ms, args.loss_percent))
    try:
        if args.action == "up":
            net.up(detached=True)
            print(net.describe())
        elif args.action == "down":
            net.down()
            print(f"lab LAN {args.name}: removed")
        else:
            print(net.status())
    except NetlabError as exc:
        print(f"acdgate lab net {args.action}: {exc}", file=sys.stderr)
        return 2
    return 0


def _lab_run(args: argparse.Namespace) -> int:
    from acdgate.lab.runner import run_suite

    return run_suite(inventory=args.inventory, keyword=args.keyword, out=args.out,
                     tests=args.tests, quick=args.quick)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `acdgate` console script."""
    parser = build_parser()
    argv = list(sys.argv[1:] if argv is None else argv)
    args = parser.parse_args(argv)
    if args.command != "lab":
        return gateway_cli.main(argv)
    if args.lab_command == "check":
        return _lab_check(args.inventory)
    if args.lab_command == "net":
        return _lab_net(args)
    if args.lab_command == "run":
        return _lab_run(args)
    parser.parse_args([*argv, "--help"])
    return 2


if __name__ == "__main__":
    sys.exit(main())
