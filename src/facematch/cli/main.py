"""``facematch`` entry point: one subcommand per module, heavy imports inside the commands.

Each module named in ``COMMANDS`` exposes ``register(subparsers)``, which adds its parser and sets
``func`` (taking the parsed namespace, returning an exit code).
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Sequence

from facematch import __version__
from facematch.errors import FacematchError

COMMANDS: tuple[str, ...] = (
    "facematch.cli.compare",
    "facematch.cli.evaluate",
    "facematch.cli.demo_partner",
    "facematch.cli.serve",
    "facematch.cli.worker",
    "facematch.cli.partner",
    "facematch.cli.operator",
    "facematch.cli.db",
    "facematch.cli.callbacks",
    "facematch.cli.purge",
    "facematch.cli.blobs",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="facematch", description="Self-hostable face match service.")
    parser.add_argument("--version", action="version", version=f"facematch {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMANDS:
        importlib.import_module(name).register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return int(args.func(args))
    except FacematchError as error:
        print(f"facematch: {error.code}: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:  # the reader went away (`facematch ... | head`): not an error of ours
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
