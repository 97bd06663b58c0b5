"""``python -m nbkit …``: the kit without a notebook.

Subcommands are registered by the modules that implement them; each provides
``add_parser(subparsers)`` that adds its parser and sets ``func=callable(args) -> int``.
"""
from __future__ import annotations

import argparse
import importlib
import sys

from .errors import NbkitError

# module that defines add_parser(subparsers), in the order they appear in --help
_SUBCOMMAND_MODULES = ["nbkit.triggers_cli", "nbkit.batch"]


def build_parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="python -m nbkit",
                                 description="nbkit: reproduction kit for natural physical backdoors "
                                             "(Wenger et al., NeurIPS 2022)")
    sub = ap.add_subparsers(dest="command", metavar="COMMAND")
    for modname in _SUBCOMMAND_MODULES:
        try:
            mod = importlib.import_module(modname)
        except ModuleNotFoundError as e:
            if e.name == modname:
                continue
            raise
        mod.add_parser(sub)
    return ap


def main(argv=None) -> int:
    ap = build_parser()
    args = ap.parse_args(argv)
    if not getattr(args, "func", None):
        ap.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except NbkitError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
