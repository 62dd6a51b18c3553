"""The ``featviz`` command: one sub-command per module of this package."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from featviz import __version__
from featviz_cli import client, render, service


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="featviz",
        description="Feature visualisation: what does a filter of a network respond to?",
    )
    parser.add_argument("--version", action="version", version=f"featviz {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    render.register(commands)
    service.register(commands)
    client.register(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        code: int = args.run(args, parser)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    return code
