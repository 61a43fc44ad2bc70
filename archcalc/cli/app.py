"""The typer application and its commands (each a thin wrapper over the library)."""

from __future__ import annotations

import functools
import sys
from pathlib import Path
from typing import Annotated, Callable, Optional

import typer
from rich.console import Console
from rich.text import Text
from typer.core import TyperGroup

from archcalc.errors import ArchcalcError, InputError

class CompactUsageErrors(TyperGroup):
    """The command group, with click's usage errors (an unknown option, a bad value, an extra
    argument) written as archcalc writes its own: ``error: ...`` and a hint, exit status 2,
    instead of click's four lines (usage, "Try --help", a blank line, the error)."""

    def main(self, args=None, prog_name=None, complete_var=None, standalone_mode=True, **extra):
        run = functools.partial(super().main, args=args, prog_name=prog_name, complete_var=complete_var,
                                standalone_mode=False, **extra)
        if not standalone_mode:
            return run()
        from typer._click import exceptions

        try:
            code = run()
        except exceptions.NoArgsIsHelpError as error:  # `archcalc` alone: the help
            error.show()
            sys.exit(error.exit_code)
        except exceptions.UsageError as error:
            command = error.ctx.command_path if error.ctx is not None else "archcalc"
            console = stderr_console()
            console.print(Text.assemble(("error:", "bold red"), f" {error.format_message()}"))
            console.print(Text(f"  hint: `{command} --help` lists its options and arguments"))
            sys.exit(2)
        except exceptions.ClickException as error:
            error.show()
            sys.exit(error.exit_code)
        except typer.Abort:
            stderr_console().print("Aborted.", markup=False)
            sys.exit(1)
        sys.exit(code if isinstance(code, int) else 0)


app = typer.Typer(
    cls=CompactUsageErrors,
    name="archcalc",
    help="Per-layer shapes, parameters, memory, receptive field and FLOPs of neural networks.",
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)



def stdout_console() -> Console:
    return Console(highlight=False, soft_wrap=False)


def stderr_console() -> Console:
    return Console(stderr=True, highlight=False, soft_wrap=True)


def user_errors(command: Callable) -> Callable:
    """Print ArchcalcError as ``error: ...`` on stderr and exit 2 (never a traceback)."""

    @functools.wraps(command)
    def wrapper(*args, **kwargs):
        try:
            return command(*args, **kwargs)
        except ArchcalcError as error:
            stderr_console().print(f"[bold red]error:[/] {error}", markup=True, highlight=False)
            raise typer.Exit(2) from None

    return wrapper


def print_warnings(report, console: Console, verbose: bool = False) -> None:
    """The first warning of each kind in full, then one summary line per kind (``-v``: all)."""
    by_kind: dict[str, list] = {}
    for warning in report.warnings:
        by_kind.setdefault(warning.kind, []).append(warning)
    for kind, warnings in by_kind.items():
        shown = warnings if verbose else warnings[:1]
        word = "note" if kind == "note" else "warning"  # a note points somewhere; it is not a fault
        for warning in shown:
            console.print(f"[yellow]{word}:[/] {warning}", markup=True, highlight=False)
        rest = len(warnings) - len(shown)
        if rest:
            what = {
                "fit": "layers whose (W - F + 2P)/S + 1 is not an integer (--strict makes them errors)",
                "rf": "merges of unaligned branches",
            }.get(kind, "warnings of this kind")
            console.print(f"[yellow]warning:[/] ... and {rest} more {what}; -v lists them", markup=True)


def split_words(values: list[str] | None) -> tuple[str, ...]:
    """``["pool,norm", "bias"]`` -> ``("pool", "norm", "bias")``."""
    return tuple(w.strip() for v in values or [] for w in v.split(",") if w.strip())


def parse_args(values: list[str] | None) -> dict[str, str]:
    """Repeated ``--arg key=value`` -> a dict (constructor arguments of module targets)."""
    from archcalc.frontends import parse_arg_pairs

    return parse_arg_pairs(values or [])


def module_inputs_of(inputs: list[str] | None, kwargs: list[str] | None, example: str | None):
    """``--input`` (repeated), ``--kwarg`` and ``--example`` -> (input, kwargs) for ``archcalc.analyze``."""
    if example is not None:
        if inputs or kwargs:
            raise InputError("--example gives the inputs: do not also give --input or --kwarg")
        from archcalc.frontends.module_loading import load_example

        return load_example(example)
    keywords = None
    if kwargs:
        from archcalc.frontends.module_inputs import parse_kwarg

        keywords = dict(parse_kwarg(text) for text in kwargs)
    if not inputs:
        return None, keywords
    return (inputs[0] if len(inputs) == 1 else list(inputs)), keywords


def infer_format(fmt: str | None, output: Path | None, formats=None, extensions=None) -> str:
    """The output format: ``--format``, else ``-o``'s extension, else the table.

    ``formats`` and ``extensions`` default to the model exporters' (verify and
    check pass their own)."""
    if formats is None or extensions is None:
        from archcalc.render.exports import EXTENSIONS, FORMATS

        formats, extensions = formats or FORMATS, extensions or EXTENSIONS
    if fmt is None:
        if output is not None and output.suffix.lower() in extensions:
            return extensions[output.suffix.lower()]
        return "table"
    fmt = fmt.lower()
    if fmt not in formats:
        raise InputError(f"unknown format '{fmt}' (choose from {', '.join(formats)})")
    return fmt


def write_output(text: str, output: Path | None, console: Console) -> None:
    if output is None:
        console.print(text, markup=False, highlight=False, end="" if text.endswith("\n") else "\n", soft_wrap=True)
        return
    try:
        output.write_text(text, encoding="utf-8")
    except OSError as error:
        raise InputError(f"cannot write {output}: {error.strerror}") from None


InputOpt = Annotated[
    Optional[str], typer.Option("--input", "-i", help="input size, H x W x C as in course material (224x224x3)")
]
InputsOpt = Annotated[
    Optional[list[str]],
    typer.Option(
        "--input",
        "-i",
        help="input size, H x W x C as in course material (224x224x3); a module's inputs in order, "
        "repeated (--input 3x32x32 --input 10), with a dtype for token ids (--input 128:int64)",
    ),
]
KwargOpt = Annotated[
    Optional[list[str]],
    typer.Option("--kwarg", help="a module's keyword input name=shape[:dtype] (attention_mask=128:int64)"),
]
ExampleOpt = Annotated[
    Optional[str],
    typer.Option("--example", help="FILE.py:FUNCTION returning example inputs (a tensor, a tuple, a dict of kwargs)"),
]
BatchOpt = Annotated[int, typer.Option("--batch", "-b", help="batch size", min=1)]
DtypeOpt = Annotated[str, typer.Option("--dtype", help="float32, float16, bfloat16, float64, int8")]
ConventionOpt = Annotated[
    str, typer.Option("--convention", "-c", help="macs, flops, exact, textbook, fvcore, torch")
]
IncludeOpt = Annotated[
    Optional[list[str]],
    typer.Option("--include", help="also count: bias, pool, activation, norm, elementwise (comma-separated)"),
]
ExcludeOpt = Annotated[Optional[list[str]], typer.Option("--exclude", help="do not count these categories")]
FormatOpt = Annotated[Optional[str], typer.Option("--format", "-f", help="table, csv, md, json, latex, html")]
OutputOpt = Annotated[Optional[Path], typer.Option("--output", "-o", help="write to FILE (format from its extension)")]
LayoutOpt = Annotated[Optional[str], typer.Option("--layout", help="force how --input is read: hwc or chw")]
StrictOpt = Annotated[bool, typer.Option("--strict", help="a non-integer (W - F + 2P)/S + 1 is an error")]
ArgOpt = Annotated[Optional[list[str]], typer.Option("--arg", help="constructor argument key=value (module targets)")]
ExactOpt = Annotated[bool, typer.Option("--exact", help="full integers instead of K/M/G and KiB/MiB")]
VerboseOpt = Annotated[bool, typer.Option("--verbose", "-v", help="list every warning")]
ExplainOpt = Annotated[
    bool, typer.Option("--explain", "-e", help="show each number's formula with the numbers plugged in")
]
DepthOpt = Annotated[
    Optional[int],
    typer.Option("--depth", "-d", min=1, help="fold blocks deeper than N names into one row each (sums)"),
]


def version_callback(value: bool) -> None:
    if value:
        from archcalc import __version__

        typer.echo(f"archcalc {__version__}")
        raise typer.Exit()


@app.callback()
def root(
    version: Annotated[
        bool, typer.Option("--version", callback=version_callback, is_eager=True, help="show the version")
    ] = False,
) -> None:
    """archcalc: per-layer numbers of neural networks, every counting convention named."""
