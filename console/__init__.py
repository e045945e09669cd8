"""The `acdgate` console script: the gateway's commands and the lab's, composed here.

It belongs to neither: the gateway never imports the lab (docs/architecture.md), and the
product's main command is not the test harness's.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from acdgate.gateway import cli as gateway_cli
from acdgate.lab import cli as lab_cli


def _subcommands(parser: argparse.ArgumentParser) -> argparse._SubParsersAction[argparse.ArgumentParser]:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return action
    raise RuntimeError("the gateway's parser has no subcommands")


def build_parser() -> argparse.ArgumentParser:
    """The gateway's parser with the lab's `lab` command added."""
    parser = gateway_cli.build_parser()
    lab_cli.add_commands(_subcommands(parser))
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `acdgate` console script."""
    parser = build_parser()
    args = parser.parse_args(list(sys.argv[1:] if argv is None else argv))
    if args.command == "lab":
        return lab_cli.run_command(parser, args)
    return gateway_cli.run_command(parser, args)

