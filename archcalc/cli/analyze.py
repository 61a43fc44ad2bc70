"""``archcalc MODEL`` (analyze), ``archcalc list`` and ``archcalc layers``."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.console import Console

from archcalc.cli.app import (
    ArgOpt,
    BatchOpt,
    ConventionOpt,
    DtypeOpt,
    ExactOpt,
    ExcludeOpt,
    FormatOpt,
    IncludeOpt,
    InputOpt,
    LayoutOpt,
    OutputOpt,
    StrictOpt,
    VerboseOpt,
    app,
    infer_format,
    parse_args,
    print_warnings,
    split_words,
    stderr_console,
    stdout_console,
    user_errors,
    write_output,
)


@app.command("analyze")
@user_errors
def analyze_command(
    model: Annotated[str, typer.Argument(help="zoo name (archcalc list), spec.yaml, or file.py:Class")],
    input: InputOpt = None,
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
) -> None:
    """Analyse MODEL: per-layer table and totals (the default command)."""
    from archcalc.api import analyze

    fmt = infer_format(format, output)
    report = analyze(
        model,
        input,
        batch=batch,
        dtype=dtype,
        convention=convention,
        include=split_words(include),
        exclude=split_words(exclude),
        layout=layout,
        strict=strict,
        args=parse_args(arg),
    )
    print_warnings(report, stderr_console(), verbose)
    console = stdout_console()
    if fmt == "table":
        from archcalc.render.table import render_report

        if output is not None:
            with output.open("w", encoding="utf-8") as handle:
                render_report(report, Console(file=handle, width=160), exact=exact)
            return
        render_report(report, console, exact=exact)
        return
    from archcalc.render.exports import EXPORTERS

    write_output(EXPORTERS[fmt](report), output, console)


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
    from archcalc.rules import all_ops
    from archcalc.rules.base import REQUIRED

    console = stdout_console()
    for op, rule in sorted(all_ops().items()):
        args = ", ".join(f"{k}" if v is REQUIRED else f"{k}={v}" for k, v in rule.keys.items() if k != "multiplier")
        aliases = f" (also: {', '.join(rule.aliases)})" if rule.aliases else ""
        console.print(f"{op}{aliases}: {rule.summary}", markup=False)
        if args:
            console.print(f"    args: {args}", markup=False)
