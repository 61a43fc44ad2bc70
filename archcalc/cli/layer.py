"""``archcalc layer conv2d --input 32x32x3 --filters 10 --kernel 5 --pad 2``: one layer's numbers."""

from __future__ import annotations

from typing import Annotated, Any, Optional

import typer

from archcalc.cli.analyze import render_formatted
from archcalc.cli.app import (
    BatchOpt,
    ConventionOpt,
    DtypeOpt,
    ExactOpt,
    ExcludeOpt,
    ExplainOpt,
    FormatOpt,
    IncludeOpt,
    LayoutOpt,
    OutputOpt,
    StrictOpt,
    VerboseOpt,
    app,
    infer_format,
    print_warnings,
    split_words,
    stderr_console,
    stdout_console,
    user_errors,
)
from archcalc.errors import InputError


def _help() -> str:
    from archcalc.single_layer import layer_types

    lines = [
        "Answer a single-layer question: output shape, parameters (weights and biases), activation "
        "memory, MACs and FLOPs under the chosen convention, and receptive-field step.",
        "",
        "Example: archcalc layer conv2d --input 32x32x3 --filters 10 --kernel 5 --stride 1 --pad 2 --explain",
        "",
        "Any other argument of the layer goes in --set key=value (archcalc layers lists them).",
        "",
        "\b",
        "Layer types:",
    ]
    import textwrap

    for name, aliases, summary in layer_types():
        also = f" (also {', '.join(aliases[:3])})" if aliases else ""
        lines += textwrap.wrap(f"{name:<16} {summary}{also}", width=76, initial_indent="  ",
                               subsequent_indent=" " * 19)
    return "\n".join(lines)


def _number_or_pair(text: str, what: str) -> Any:
    """``5`` -> 5; ``3x5`` or ``3,5`` -> [3, 5]; ``1x2x2`` -> [1, 2, 2] (a volume's D x H x W);
    words (``same``) pass through."""
    from archcalc.inputs import parse_numbers

    if text.strip().isalpha():
        return text.strip()
    numbers = parse_numbers(text, what=what)
    if len(numbers) == 1:
        return numbers[0]
    if len(numbers) in (2, 3):
        return list(numbers)
    raise InputError(f"{what} takes a number, H x W or D x H x W, got {text!r}")


def _set_value(text: str) -> Any:
    """A --set value read as YAML: numbers, true/false, [3, 5], words."""
    import yaml

    try:
        return yaml.safe_load(text)
    except yaml.YAMLError:
        return text


def layer_args(
    filters: Optional[int],
    kernel: Optional[str],
    stride: Optional[str],
    pad: Optional[str],
    dilation: Optional[str],
    groups: Optional[int],
    units: Optional[int],
    bias: Optional[bool],
    settings: Optional[list[str]],
) -> dict[str, Any]:
    """The layer's arguments from the generic flags and --set (only those given)."""
    args: dict[str, Any] = {}
    if filters is not None:
        args["filters"] = filters
    for key, text in (("kernel", kernel), ("stride", stride), ("pad", pad), ("dilation", dilation)):
        if text is not None:
            args[key] = _number_or_pair(text, f"--{key}")
    if groups is not None:
        args["groups"] = groups
    if units is not None:
        args["units"] = units
    if bias is not None:
        args["bias"] = bias
    for setting in settings or []:
        key, sep, value = setting.partition("=")
        if not sep or not key.strip():
            raise InputError(f"--set takes key=value, got {setting!r}")
        args[key.strip()] = _set_value(value.strip())
    return args


@app.command("layer", help=_help())
@user_errors
def layer_command(
    ctx: typer.Context,
    layer_type: Annotated[str, typer.Argument(metavar="TYPE", help="layer type (listed below)")],
    input: Annotated[
        Optional[str], typer.Option("--input", "-i", help="input, H x W x C (32x32x3) or a length (4096)")
    ] = None,
    filters: Annotated[Optional[int], typer.Option("--filters", "-k", help="output channels (K)")] = None,
    kernel: Annotated[Optional[str], typer.Option("--kernel", "-F", help="kernel size F (5 or 3x5)")] = None,
    stride: Annotated[Optional[str], typer.Option("--stride", "-s", help="stride S")] = None,
    pad: Annotated[Optional[str], typer.Option("--pad", "-p", help="padding P (2, 1x2, same, valid)")] = None,
    dilation: Annotated[Optional[str], typer.Option("--dilation", help="dilation d")] = None,
    groups: Annotated[Optional[int], typer.Option("--groups", help="groups g")] = None,
    units: Annotated[Optional[int], typer.Option("--units", help="output features of a linear layer")] = None,
    bias: Annotated[Optional[bool], typer.Option("--bias/--no-bias", help="with or without bias")] = None,
    per_position: Annotated[
        bool,
        typer.Option("--per-position", help="a dense layer on an image acts on its last axis, as torch.nn.Linear "
                     "(default: flatten first, every input connected to every unit, as courses mean)"),
    ] = False,
    settings: Annotated[
        Optional[list[str]], typer.Option("--set", help="any other argument: key=value (repeatable)")
    ] = None,
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
    explain: ExplainOpt = False,
    answer: Annotated[
        Optional[list[str]],
        typer.Option(
            "--answer",
            help="grade an answer: shape=30x30x16, params=448, weights, biases, memory, macs, flops, rf (repeatable)",
        ),
    ] = None,
) -> None:
    from archcalc.single_layer import analyze_layer

    fmt = infer_format(format, output)
    args = layer_args(filters, kernel, stride, pad, dilation, groups, units, bias, settings)
    report = analyze_layer(
        layer_type,
        input,
        args,
        batch=batch,
        dtype=dtype,
        convention=convention,
        include=split_words(include),
        exclude=split_words(exclude),
        layout=layout,
        strict=strict,
        per_position=per_position,
    )
    print_warnings(report, stderr_console(), verbose)
    if answer:
        grade_layer_answers(report, answer, fmt, output, convention_given=_given(ctx, "convention"))
        return
    render_formatted(report, fmt, output, stdout_console(), exact=exact, depth=None, explain=explain, only=None,
                     answer=True)


def _given(ctx: typer.Context, parameter: str) -> bool:
    """Whether the user gave ``parameter`` on the command line (not its default)."""
    source = ctx.get_parameter_source(parameter)
    return source is not None and source.name == "COMMANDLINE"


def grade_layer_answers(report, answers: list[str], fmt: str, output, convention_given: bool = False) -> None:
    """``--answer key=value``: grade each answer against the layer; exit 1 when one is wrong."""
    from archcalc.cli.app import write_output
    from archcalc.cli.check import render_result
    from archcalc.grading import grade_answers, parse_answer_options
    from archcalc.grading.exports import CHECK_EXPORTERS

    from archcalc.grading.grade import DEFAULT_FLOPS

    origin = "--convention" if convention_given else "the default"
    chosen = report.convention if convention_given else DEFAULT_FLOPS  # FLOPs mean 2 x MACs unless told
    result = grade_answers(report, parse_answer_options(answers), convention=chosen, layer=None,
                           convention_from=origin)
    console = stdout_console()
    if fmt in CHECK_EXPORTERS:
        write_output(CHECK_EXPORTERS[fmt](result), output, console)
    else:
        render_result(result, console)
    if result.wrong:
        raise typer.Exit(1)
