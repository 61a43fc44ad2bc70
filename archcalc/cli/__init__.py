"""The command line: ``archcalc MODEL --input 224x224x3`` and its subcommands.

Thin by design: each command parses its options, calls the library and
renders. User errors (:class:`archcalc.errors.ArchcalcError`) print in one or
two lines and exit with status 2; a traceback is a bug. Each command lives in
its own module, which registers itself on :data:`app` when imported here.
"""

from __future__ import annotations

import sys

from archcalc.cli import analyze  # noqa: F401  (registers analyze, list, layers)
from archcalc.cli import check  # noqa: F401  (registers check)
from archcalc.cli import compare  # noqa: F401  (registers compare)
from archcalc.cli import layer  # noqa: F401  (registers layer)
from archcalc.cli import quiz  # noqa: F401  (registers quiz)
from archcalc.cli import verify  # noqa: F401  (registers verify)
from archcalc.cli.app import app


def command_names() -> set[str]:
    return {c.name or c.callback.__name__ for c in app.registered_commands}


def normalize_argv(argv: list[str]) -> list[str]:
    """``archcalc vgg16 ...`` means ``archcalc analyze vgg16 ...``."""
    if argv and argv[0] not in command_names() and not argv[0].startswith("-"):
        return ["analyze", *argv]
    return argv


def main(argv: list[str] | None = None) -> None:
    args = normalize_argv(list(sys.argv[1:] if argv is None else argv))
    app(args=args, prog_name="archcalc")


__all__ = ["app", "main", "normalize_argv"]
