"""``archcalc compare A B C --input 224x224x3``: totals side by side, ratios to the first."""

from __future__ import annotations

from typing import Annotated

import typer

from archcalc.cli.analyze import render_comparison_output
from archcalc.cli.app import (
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
    complete_model,
    infer_format,
    print_warnings,
    split_words,
    stderr_terminal,
    stdout_console,
    user_errors,
)
from archcalc.errors import InputError


@app.command("compare")
@user_errors
def compare_command(
    models: Annotated[list[str], typer.Argument(help="two or more zoo names, specs or module targets",
                                                      autocompletion=complete_model)],
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
    exact: ExactOpt = False,
    verbose: VerboseOpt = False,
) -> None:
    """Compare the totals of MODELS side by side, with ratios to the first.

    \b
    Examples:
      archcalc compare alexnet vgg16 resnet50 --input 224x224x3
      archcalc compare resnet18 resnet50 --convention flops -o compared.md
    """
    from archcalc.api import analyze
    from archcalc.comparison import compare

    if len(models) < 2:
        raise InputError("compare needs two or more models, e.g. archcalc compare vgg16 resnet50")
    fmt = infer_format(format, output)
    from archcalc.output_files import refuse_inputs

    refuse_inputs(output, list(models))  # never write over a compared spec
    reports = []
    for model in models:
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
        )
        print_warnings(report, stderr_terminal(), verbose)
        reports.append(report)
    # the networks' names (a spec's name:, not its path); the arguments when two share a name
    labels = [r.model for r in reports]
    if len(set(labels)) < len(labels):
        labels = list(models)
    comparison = compare(reports, labels=labels)
    render_comparison_output(comparison, fmt, output, stdout_console(), exact, title="Totals compared")
