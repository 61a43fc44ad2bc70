"""The typer application and its commands (each a thin wrapper over the library)."""

from __future__ import annotations

import contextlib

import functools
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Callable, Optional

import typer

try:  # the click that typer runs on: vendored since typer 0.23, the click package before
    from typer import _click as click
except ImportError:  # pragma: no cover
    import click  # type: ignore[no-redef]

from archcalc.cli.main_job import print_error, print_warnings  # noqa: F401  (shared with the commands)
from archcalc.errors import ArchcalcError, InputError

if TYPE_CHECKING:
    from rich.console import Console

#: metavars in words for the options whose values people type (click's default is ``<str>``)
METAVARS = {
    "input": "HxWxC",
    "batch": "N",
    "depth": "N",
    "dtype": "DTYPE",
    "convention": "NAME",
    "include": "WHAT",
    "exclude": "WHAT",
    "format": "FORMAT",
    "output": "FILE",
    "plot": "FILE",
    "layout": "hwc|chw",
    "arg": "KEY=VALUE",
    "set": "KEY=VALUE",
    "answer": "KEY=VALUE",
    "sweep": "AXIS=V1,V2,...",
    "only": "NAME",
    "kwarg": "NAME=SHAPE[:DTYPE]",
    "example": "FILE.py:FUNCTION",
    "model": "MODEL",
    "models": "MODEL...",
    "filters": "K",
    "kernel": "F",
    "stride": "S",
    "pad": "P",
    "dilation": "D",
    "groups": "G",
    "units": "N",
}


class ArchcalcCommand(typer.core.TyperCommand):
    """A command whose help reads as prose: metavars in words (``--input HxWxC``, not
    ``<str>``), arguments without braces (``MODEL``, not ``{model}``), and number ranges
    checked when the command runs instead of printed (``[x>=1]``)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for param in self.params:
            name = param.name or ""
            if param.metavar is None and not getattr(param, "is_flag", False):
                param.metavar = METAVARS.get(name, name.upper())
            if isinstance(param.type, click.types._NumberRangeBase):
                param.callback = _range_check(param.type, param.callback)
                param.type = click.types.INT if isinstance(param.type, click.types.IntRange) else click.types.FLOAT

    def collect_usage_pieces(self, ctx: Any) -> list[str]:
        return [piece[1:-1] if piece.startswith("{") and piece.endswith("}") else piece
                for piece in super().collect_usage_pieces(ctx)]


def _range_check(kind: Any, callback: Callable | None) -> Callable:
    """A click callback that refuses values outside ``kind``'s range, then runs ``callback``."""

    def check(ctx: Any, param: Any, value: Any) -> Any:
        if value is not None:
            for item in value if isinstance(value, (list, tuple)) else [value]:
                if (kind.min is not None and item < kind.min) or (kind.max is not None and item > kind.max):
                    bounds = [f"at least {kind.min}" if kind.min is not None else "",
                              f"at most {kind.max}" if kind.max is not None else ""]
                    allowed = " and ".join(b for b in bounds if b)
                    raise typer.BadParameter(f"{item} is not allowed: it must be {allowed}")
        return callback(ctx, param, value) if callback else value

    return check


class CompactUsageErrors(typer.core.TyperGroup):
    """The command group, with click's usage errors (an unknown option, a bad value, an extra
    argument) written as archcalc writes its own: ``error: ...`` and a hint, exit status 2,
    instead of click's four lines (usage, "Try --help", a blank line, the error)."""

    def main(self, args=None, prog_name=None, complete_var=None, standalone_mode=True, **extra):
        run = functools.partial(super().main, args=args, prog_name=prog_name, complete_var=complete_var,
                                standalone_mode=False, **extra)
        if not standalone_mode:
            return run()
        try:
            code = run()
        except click.exceptions.NoArgsIsHelpError as error:  # `archcalc` alone: the help
            error.show()
            sys.exit(error.exit_code)
        except click.exceptions.UsageError as error:
            command = error.ctx.command_path if error.ctx is not None else "archcalc"
            print_error(InputError(error.format_message(),
                                   hint=f"`{command} --help` lists its options and arguments"))
            sys.exit(2)
        except click.exceptions.ClickException as error:
            error.show()
            sys.exit(error.exit_code)
        except typer.Abort:  # (typer's vendored click has no exceptions.Abort: naming it raised a second error)
            print_error(InputError("aborted"))
            sys.exit(1)
        except MemoryError:  # the machine's limit, not a bug: one line, not a traceback
            print_error(InputError("out of memory", hint="a smaller input, batch or model needs less"))
            sys.exit(2)
        except OSError as error:  # a file or folder the system refused (a full disk, a permission)
            where = f": {error.filename}" if getattr(error, "filename", None) else ""
            print_error(InputError(f"{error.strerror or error}{where}"))
            sys.exit(2)
        sys.exit(code if isinstance(code, int) else 0)


class ArchcalcTyper(typer.Typer):
    """Commands are :class:`ArchcalcCommand` unless a module asks for another class."""

    def command(self, *args: Any, cls: Any = None, **kwargs: Any):
        return super().command(*args, cls=cls or ArchcalcCommand, **kwargs)


ROOT_HELP = """Per-layer shapes, parameters, memory, receptive field and FLOPs of neural networks,
every counting convention named.

`archcalc MODEL` is short for `archcalc analyze MODEL`: the command may be left out.

\b
Examples:
  archcalc vgg16 --input 224x224x3
  archcalc resnet50 --convention flops --depth 2
  archcalc model.onnx  (also .keras .h5 .pt2 .pt .safetensors .gguf)
  archcalc layer conv --input 32x32x3 --filters 10 --kernel 5 --explain
  archcalc compare alexnet vgg16 resnet50 --input 224x224x3
  archcalc check answers.csv --model lenet5
  archcalc list        (the model zoo)
  archcalc layers      (the layer types a spec can use)
"""

app = ArchcalcTyper(
    cls=CompactUsageErrors,
    name="archcalc",
    help=ROOT_HELP,
    add_completion=True,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)


def complete_model(incomplete: str) -> list[str]:
    """Shell completion of MODEL: the zoo names that start with what was typed."""
    from archcalc.zoo import zoo_names

    return [name for name in zoo_names() if name.startswith(incomplete)]


def stdout_console() -> Console:
    """A rich console on stdout (rich is imported on first use: the main job prints without it)."""
    from archcalc.render.terminal_text import safe_console

    return safe_console(highlight=False, soft_wrap=False)


def stderr_console() -> Console:
    from archcalc.render.terminal_text import safe_console

    return safe_console(stderr=True, highlight=False, soft_wrap=True)


def stdout_terminal():
    """The light terminal for line-by-line output (:class:`archcalc.render.styled.Terminal`)."""
    from archcalc.render.styled import Terminal

    return Terminal()


def stderr_terminal():
    from archcalc.render.styled import Terminal

    return Terminal(stderr=True)


def user_errors(command: Callable) -> Callable:
    """Print ArchcalcError as ``error: ...`` on stderr and exit 2 (never a traceback)."""

    @functools.wraps(command)
    def wrapper(*args, **kwargs):
        try:
            return command(*args, **kwargs)
        except ArchcalcError as error:
            print_error(error)
            raise typer.Exit(2) from None

    return wrapper


def split_words(values: list[str] | None) -> tuple[str, ...]:
    """``["pool,norm", "bias"]`` -> ``("pool", "norm", "bias")``."""
    return tuple(w.strip() for v in values or [] for w in v.split(",") if w.strip())


def parse_args(values: list[str] | None) -> dict[str, str]:
    """Repeated ``--arg key=value`` -> a dict (constructor arguments of module targets)."""
    from archcalc.frontends import parse_arg_pairs

    return parse_arg_pairs(values or [])


class _TimeUp(BaseException):
    """Raised by the alarm of :func:`time_limit`: a BaseException, so that no ``except Exception``
    in a capture or in the user's forward can swallow it."""


@contextlib.contextmanager
def time_limit(seconds: float | None):
    """Stop what runs inside after ``seconds`` (``--timeout``) with an InputError; None: no limit.
    A real-time alarm (SIGALRM) interrupts Python code between bytecodes, the capture's finally
    blocks put the model back as they do on any error."""
    if not seconds:
        yield
        return
    import signal

    def alarm(signum, frame):
        raise _TimeUp()

    previous = signal.signal(signal.SIGALRM, alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    except _TimeUp:
        raise InputError(f"the analysis did not finish within --timeout {seconds:g} s",
                         hint="a forward that never ends (a loop on a value meta tensors do not have?)") from None
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


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
    """The output format: ``--format``, else ``-o``'s extension, else the table; an extension
    that is no format is refused with a hint (:func:`archcalc.render.formats.format_for`).

    ``formats`` and ``extensions`` default to the model exporters' (verify and
    check pass their own)."""
    from archcalc.render.formats import EXTENSIONS, FORMATS, format_for

    return format_for(fmt, output, formats or FORMATS, extensions if extensions is not None else EXTENSIONS)


def write_output(text: str, output: Path | None, console: Any = None, what: str = "") -> None:
    """Write ``text`` to stdout (or ``console``'s stream) as it is, or to the file ``output``
    and say so on stderr (``what``: the format, for that line)."""
    if output is None:
        from archcalc.render.terminal_text import visible

        stream = console.file if console is not None else sys.stdout
        text = visible(text)  # names from files reach the terminal: their control characters shown, not run
        stream.write(text if text.endswith("\n") else text + "\n")
        stream.flush()
        return
    from archcalc.output_files import write_text

    write_text(output, text)
    say_written(output, what)


def say_written(output: Path, what: str = "", detail: str = "") -> None:
    """``csv written to layers.csv`` (``: detail``) on stderr."""
    from archcalc.render.styled import Line, print_lines

    text = f"{what or 'output'} written to {output}" + (f": {detail}" if detail else "")
    print_lines(stderr_terminal(), [Line(text, "dim")])


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
def _stdout_dash(value: Optional[Path]) -> Optional[Path]:
    from archcalc.output_files import stdout_dash

    return stdout_dash(value)


OutputOpt = Annotated[Optional[Path], typer.Option("--output", "-o", callback=_stdout_dash,
                                                   help="write to FILE (format from its extension; - for stdout)")]
LayoutOpt = Annotated[Optional[str], typer.Option("--layout", help="force how --input is read: hwc or chw")]
StrictOpt = Annotated[bool, typer.Option("--strict", help="a non-integer (W - F + 2P)/S + 1 is an error")]
ArgOpt = Annotated[Optional[list[str]], typer.Option("--arg", help="constructor argument key=value (module targets)")]
ExactOpt = Annotated[bool, typer.Option("--exact", help="full integers instead of K/M/G and KiB/MiB")]
VerboseOpt = Annotated[bool, typer.Option("--verbose", "-v", help="list every warning")]
TimeoutOpt = Annotated[Optional[float], typer.Option(
    "--timeout", help="stop a live module's analysis after this many seconds (a forward that never ends)",
    min=0.001)]
AllRowsOpt = Annotated[bool, typer.Option("--all", help="show every row, the views of a live module (permute, "
                                                        "reshape, slicing) too")]
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
    """Per-layer shapes, parameters, memory, receptive field and FLOPs of neural networks."""
