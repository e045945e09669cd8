"""`acdgate lab ...`: check an inventory, build the lab LAN, run the hil_tests scenarios.

The `acdgate` console script (acdgate.console) adds these to the gateway's commands.
"""

from __future__ import annotations

import argparse
import sys


def add_commands(subcommands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add `lab` (check, net up|down|status, run) to a command line's subcommands."""
    lab = subcommands.add_parser(
        "lab", help="lab harness: check an inventory, build the lab LAN, run hil_tests",
        description="Hardware-in-the-loop lab: inventories, the namespace lab LAN and test runs.",
    )
    sub = lab.add_subparsers(dest="lab_command", metavar="LAB_COMMAND")
    check = sub.add_parser("check", help="validate a lab inventory (TOML)",
                           description="Validate an inventory; print a summary, or every problem "
                           "with file, key and reason (exit 2).")
    check.add_argument("inventory", metavar="INVENTORY", help="a TOML file, or `twins` (installed with acdgate)")
    net = sub.add_parser("net", help="build or remove the lab LAN (network namespaces on 198.18.0.0/15)")
    net.add_argument("action", choices=["up", "down", "status"])
    net.add_argument("--phones", type=int, default=4, metavar="N", help="phone hosts (default 4)")
    net.add_argument("--name", default="acdlab", help="namespace name prefix (default acdlab)")
    net.add_argument("--delay-ms", type=float, default=0.0)
    net.add_argument("--jitter-ms", type=float, default=0.0)
    net.add_argument("--loss-percent", type=float, default=0.0)
    run = sub.add_parser("run", help="run the hil_tests scenarios against an inventory (default: softphones here)",
                         description="Run the hil_tests scenarios installed with acdgate (or --tests DIR); "
                         "writes JUnit XML, an HTML report with SIP ladders, and the captures under --out.")
    run.add_argument("inventory", nargs="?", metavar="INVENTORY",
                     help="a TOML file, or `twins` (the phone twins lab installed with acdgate); "
                     "default: softphones started here")
    run.add_argument("-k", dest="keyword", metavar="EXPR", help="only scenarios matching EXPR (pytest -k)")
    run.add_argument("--out", default="lab-report", metavar="DIR", help="report folder (default ./lab-report)")
    run.add_argument("--tests", metavar="DIR", help="a scenarios folder (default: the hil_tests installed with acdgate)")
    run.add_argument("--quick", action="store_true", help="clean network only (no lossy repeat)")


def _lab_check(path: str) -> int:
    from acdgate.lab.inventory import InventoryError, inventory_path, load_inventory, summary

    try:
        inv = load_inventory(inventory_path(path))
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
    from acdgate.lab.inventory import inventory_path
    from acdgate.lab.runner import run_suite

    inventory = inventory_path(args.inventory) if args.inventory else None
    return run_suite(inventory=inventory, keyword=args.keyword, out=args.out,
                     tests=args.tests, quick=args.quick)


def run_command(parser: argparse.ArgumentParser, args: argparse.Namespace) -> int:
    """Carry out `acdgate lab ...` (args parsed by `parser`, which add_commands extended)."""
    if args.lab_command == "check":
        return _lab_check(args.inventory)
    if args.lab_command == "net":
        return _lab_net(args)
    if args.lab_command == "run":
        return _lab_run(args)
    parser.parse_args([args.command, "--help"])
    return 2
