"""``archcalc MODEL`` (analyze), ``archcalc list`` and ``archcalc layers``."""

from __future__ import annotations

from fnmatch import fnmatch
from pathlib import Path
from typing import Annotated, Any, Callable, Optional

import typer
from rich.console import Console

from archcalc.cli.app import (
    ArgOpt,
    BatchOpt,
    ConventionOpt,
    DepthOpt,
    DtypeOpt,
    ExactOpt,
    ExcludeOpt,
    ExplainOpt,
    FormatOpt,
    IncludeOpt,
    ExampleOpt,
    InputsOpt,
    KwargOpt,
    LayoutOpt,
    OutputOpt,
    StrictOpt,
    VerboseOpt,
    app,
    infer_format,
    module_inputs_of,
    parse_args,
    print_warnings,
    split_words,
    stderr_console,
    stdout_console,
    user_errors,
    write_output,
)
from archcalc.errors import InputError

#: width of a rendered table written to a file with -o FILE.txt
FILE_WIDTH = 160

SweepOpt = Annotated[
    Optional[str],
    typer.Option("--sweep", help="totals at several points: batch=1,8,64 or input=112,224,448 or dtype=float32,float16"),
]
PlotOpt = Annotated[
    Optional[Path], typer.Option("--plot", help="draw per-layer memory, parameter and FLOP bars to FILE.png or .svg")
]
OnlyOpt = Annotated[
    Optional[str], typer.Option("--only", help="with --explain: only layers matching this name or glob (layer2.*)")
]


def emit(draw: Callable[[Console], None], output: Path | None, console: Console) -> None:
    """Render rich output to the terminal, or to ``output`` (plain text, :data:`FILE_WIDTH` columns)."""
    if output is None:
        draw(console)
        return
    try:
        with output.open("w", encoding="utf-8") as handle:
            draw(Console(file=handle, width=FILE_WIDTH, highlight=False, color_system=None))
    except OSError as error:
        raise InputError(f"cannot write {output}: {error.strerror}") from None


def matching_rows(report, only: str | None):
    """The rows whose name is ``only``, matches it as a glob, or lies under it (``layer2``)."""
    if only is None:
        return list(report.rows)
    rows = [r for r in report.rows if r.name == only or fnmatch(r.name, only) or r.name.startswith(only + ".")]
    if not rows:
        raise InputError(f"--only {only!r} matches no layer (names look like {report.rows[0].name!r})")
    return rows


def derivations(report, only: str | None = None) -> tuple[list[tuple[Any, list]], list]:
    from archcalc.derivation import explain_row, explain_totals

    rows = [(row, explain_row(row, report)) for row in matching_rows(report, only)]
    return rows, explain_totals(report)


def render_formatted(report, fmt: str, output: Path | None, console: Console, *, exact: bool, depth: int | None,
                     explain: bool, only: str | None, answer: bool = False) -> None:
    """Write ``report`` in ``fmt``: the rich table (or a single-layer answer), or an export."""
    if fmt == "table":
        from archcalc.render.table import layer_answer, render_report

        def draw(target: Console) -> None:
            if explain:
                from archcalc.render.explain import derivation_panels

                if not answer:
                    render_report(report, target, exact=exact, depth=depth)
                rows, totals = derivations(report, only)
                target.print(derivation_panels(report, rows, totals if not answer or len(report.rows) > 1 else None,
                                               width=target.width))
            elif answer:
                target.print(layer_answer(report, exact=exact))
            else:
                render_report(report, target, exact=exact, depth=depth)

        emit(draw, output, console)
        return
    from archcalc.render import exports

    if explain and fmt == "json":
        rows, totals = derivations(report, only)
        text = exports.to_json(report, {row.name: steps for row, steps in rows}, totals)
    elif explain and fmt == "md":
        from archcalc.render.explain import row_title, steps_markdown

        rows, totals = derivations(report, only)
        text = exports.to_markdown(report) + "\n## Derivations\n\n" + "\n".join(
            steps_markdown(row_title(row), steps) for row, steps in rows
        ) + "\n" + steps_markdown("totals", totals)
    elif explain:
        raise InputError(f"--explain works with the table, json and md formats, not {fmt}")
    else:
        text = exports.EXPORTERS[fmt](report)
    write_output(text, output, console)


def render_comparison_output(comparison, fmt: str, output: Path | None, console: Console, exact: bool,
                             title: str, sweep: bool = False) -> None:
    if fmt == "table":
        from archcalc.render.compare import render_comparison

        emit(lambda target: render_comparison(comparison, target, exact=exact, title=title, sweep=sweep), output,
             console)
        return
    from archcalc.render.exports import COMPARISON_EXPORTERS

    if fmt not in COMPARISON_EXPORTERS:
        raise InputError(f"comparisons export as {', '.join(COMPARISON_EXPORTERS)} or the table, not {fmt}")
    write_output(COMPARISON_EXPORTERS[fmt](comparison), output, console)


@app.command("analyze")
@user_errors
def analyze_command(
    model: Annotated[str, typer.Argument(help="zoo name (archcalc list), spec.yaml, or file.py:Class")],
    input: InputsOpt = None,
    kwarg: KwargOpt = None,
    example: ExampleOpt = None,
    batch: BatchOpt = 1,
    dtype: DtypeOpt = "float32",
    convention: ConventionOpt = "macs",
    include: IncludeOpt = None,
    exclude: ExcludeOpt = None,
    format: FormatOpt = None,
    output: OutputOpt = None,
    layout: LayoutOpt = None,
    strict: StrictOpt = False,
    arg: ArgOpt = None,
    exact: ExactOpt = False,
    verbose: VerboseOpt = False,
    depth: DepthOpt = None,
    explain: ExplainOpt = False,
    only: OnlyOpt = None,
    sweep: SweepOpt = None,
    plot: PlotOpt = None,
) -> None:
    """Analyse MODEL: per-layer table and totals (the default command)."""
    from archcalc.api import analyze

    fmt = infer_format(format, output)
    input, kwargs = module_inputs_of(input, kwarg, example)
    options: dict[str, Any] = dict(
        kwargs=kwargs,
        convention=convention,
        include=split_words(include),
        exclude=split_words(exclude),
        layout=layout,
        strict=strict,
        args=parse_args(arg),
    )
    console = stdout_console()
    if sweep is not None:
        from archcalc.sweep import parse_sweep
        from archcalc.sweep import sweep as run_sweep

        given = [flag for flag, value in (("--explain", explain), ("--depth", depth), ("--plot", plot)) if value]
        if given:
            raise InputError(f"--sweep prints totals only; it does not combine with {', '.join(given)}")
        axis = parse_sweep(sweep)
        comparison = run_sweep(lambda **point: analyze(model, **point), axis, input=input, batch=batch, dtype=dtype,
                               **options)
        for report in comparison.reports[:1]:
            print_warnings(report, stderr_console(), verbose)
        render_comparison_output(comparison, fmt, output, console, exact,
                                 title=f"{comparison.reports[0].model}: totals by {axis.name}", sweep=True)
        return
    report = analyze(model, input, batch=batch, dtype=dtype, **options)
    print_warnings(report, stderr_console(), verbose)
    if plot is not None:
        from archcalc.render.plot import plot_report

        plot_report(report, plot, depth=depth)
        stderr_console().print(f"plot written to {plot}", markup=False, highlight=False)
    render_formatted(report, fmt, output, console, exact=exact, depth=depth, explain=explain, only=only)


@app.command("list")
@user_errors
def list_command() -> None:
    """List the model zoo, one line each."""
    from archcalc.zoo import zoo_description, zoo_names

    console = stdout_console()
    names = zoo_names()
    width = max(len(n) for n in names)
    for name in names:
        console.print(f"{name:<{width}}  {zoo_description(name)}", markup=False)


@app.command("layers")
@user_errors
def layers_command() -> None:
    """List the layer types a spec can use, with their arguments."""
    from archcalc.layers import all_ops
    from archcalc.layers.base import REQUIRED

    console = stdout_console()
    for op, rule in sorted(all_ops().items()):
        args = ", ".join(f"{k}" if v is REQUIRED else f"{k}={v}" for k, v in rule.keys.items() if k != "multiplier")
        aliases = f" (also: {', '.join(rule.aliases)})" if rule.aliases else ""
        console.print(f"{op}{aliases}: {rule.summary}", markup=False)
        if args:
            console.print(f"    args: {args}", markup=False)
