"""The main job, ``archcalc MODEL [--input 224x224x3] ...``, run without the command-line framework.

Importing typer and building its command cost more than the whole analysis
of VGG-16. When the arguments of ``analyze`` are plain (a model and the
options of :data:`VALUE_OPTIONS` and :data:`FLAGS`, each at most once, with
well-formed values), :func:`plain_arguments` reads them and :func:`run` does
exactly what the typer command does for them: analyse, print the warnings,
print the table. Anything else (``--help``, another option, ``--opt=value``,
a batch of 0, a second model) returns None and goes through typer, so every
usage error reads the same; ``tests/test_cli_main_job.py`` runs both paths on
the same arguments and compares what they print.

Nothing here imports typer or rich; :mod:`archcalc.cli.app` uses
:func:`print_error` and :func:`print_warnings` too.
"""

from __future__ import annotations

from typing import Any

#: options that take a value -> the analyze command's parameter
VALUE_OPTIONS = {
    "--input": "input",
    "-i": "input",
    "--batch": "batch",
    "-b": "batch",
    "--dtype": "dtype",
    "--convention": "convention",
    "-c": "convention",
    "--depth": "depth",
    "-d": "depth",
    "--layout": "layout",
}
#: flags -> the analyze command's parameter
FLAGS = {"--exact": "exact", "--strict": "strict", "--verbose": "verbose", "-v": "verbose", "--all": "all_rows"}
#: parameters that are whole numbers of at least 1
COUNTS = ("batch", "depth")


def plain_arguments(argv: list[str]) -> dict[str, Any] | None:
    """The parameters of ``analyze`` for plain arguments (``argv`` starts with ``analyze``), or
    None when typer should read them."""
    if not argv or argv[0] != "analyze":
        return None
    found: dict[str, Any] = {}
    words = argv[1:]
    index = 0
    while index < len(words):
        word = words[index]
        if word in FLAGS and FLAGS[word] not in found:
            found[FLAGS[word]] = True
            index += 1
        elif word in VALUE_OPTIONS and VALUE_OPTIONS[word] not in found and index + 1 < len(words):
            value = words[index + 1]
            if value.startswith("-"):
                return None
            found[VALUE_OPTIONS[word]] = value
            index += 2
        elif not word.startswith("-") and "model" not in found:
            found["model"] = word
            index += 1
        else:
            return None
    if "model" not in found:
        return None
    from archcalc.frontends.model_files import is_checkpoint_file

    if is_checkpoint_file(found["model"]):  # a checkpoint's header: archcalc.cli.checkpoint
        return None
    for key in COUNTS:
        if key in found:
            if not found[key].isdigit() or int(found[key]) < 1:
                return None
            found[key] = int(found[key])
    return found


def print_error(error: Exception) -> None:
    """``error: ...`` (and its hint) on stderr."""
    from archcalc.render.styled import Line, Terminal

    first, *rest = str(error).split("\n")
    Terminal(stderr=True).write_lines([Line("error:", "bold red").append(f" {first}"), *[Line(r) for r in rest]])


def print_warnings(report: Any, target: Any, verbose: bool = False) -> None:
    """The first warning of each kind in full, then one summary line per kind (``-v``: all) on a
    rich Console or a light Terminal (see :func:`archcalc.render.styled.print_lines`)."""
    from archcalc.render.styled import print_lines
    from archcalc.render.warnings import warning_lines

    lines = warning_lines(report.warnings, verbose)
    if lines:
        print_lines(target, lines)


def run(model: str, input: str | None = None, batch: int = 1, dtype: str = "float32", convention: str = "macs",
        depth: int | None = None, layout: str | None = None, exact: bool = False, strict: bool = False,
        all_rows: bool = False,
        verbose: bool = False) -> int:
    """Analyse ``model`` and print its warnings and table; the exit status (2 for a user error)."""
    from archcalc.errors import ArchcalcError
    from archcalc.render.styled import Terminal

    try:
        from archcalc.api import analyze, reads_as_spec
        from archcalc.cli import collector_paused
        from archcalc.render.table import render_report

        with collector_paused(reads_as_spec(model)):  # a spec's run: see collector_paused
            report = analyze(model, input, batch=batch, dtype=dtype, convention=convention, layout=layout,
                             strict=strict, args={})
            print_warnings(report, Terminal(stderr=True), verbose)
            if report.llm is not None and depth is None:
                from archcalc.breakdown import block_view_depth

                depth = block_view_depth(report)  # a transformer: its block view
            render_report(report, Terminal(), exact=exact, depth=depth, views=all_rows)
            if report.llm is not None:  # a transformer's panels (rich: only for these)
                import sys

                from archcalc.render.llm import render_llm
                from archcalc.render.terminal_text import safe_console

                sys.stdout.flush()
                render_llm(report, safe_console(highlight=False, soft_wrap=False), exact=exact)
    except ArchcalcError as error:
        print_error(error)
        return 2
    return 0
