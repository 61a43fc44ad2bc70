"""``archcalc verify MODEL``: run the network for real and compare every number.

Thin: parse options, call :func:`archcalc.verify.verify` with a progress bar
on stderr, render. Exit status 0 when every structural and FLOP check
holds, 1 when one does not, 2 for a user error. torch is imported only
when the command runs.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console

from archcalc.cli.app import (
    ArgOpt,
    BatchOpt,
    InputOpt,
    LayoutOpt,
    OutputOpt,
    StrictOpt,
    app,
    complete_model,
    infer_format,
    parse_args,
    say_written,
    stderr_console,
    stdout_console,
    user_errors,
    write_output,
)
from archcalc.errors import InputError


def verify_format(fmt: str | None, output: Path | None) -> str:
    from archcalc.verify.render import EXTENSIONS, FORMATS

    return infer_format(fmt, output, FORMATS, EXTENSIONS)


@app.command("verify")
@user_errors
def verify_command(
    model: Annotated[str, typer.Argument(help="zoo name, spec.yaml, file.py:Class or torchvision:NAME",
                                               autocompletion=complete_model)],
    input: InputOpt = None,
    device: Annotated[str, typer.Option("--device", help="cpu or cuda")] = "cpu",
    dtype: Annotated[str, typer.Option("--dtype", help="float32, float16 or bfloat16")] = "float32",
    batch: BatchOpt = 1,
    warmup: Annotated[int, typer.Option("--warmup", help="untimed passes before timing", min=0)] = 3,
    repeat: Annotated[int, typer.Option("--repeat", help="timed passes (medians are taken)", min=1)] = 10,
    threads: Annotated[
        Optional[int], typer.Option("--threads", help="torch CPU threads for the run (default: torch's)", min=1)
    ] = None,
    timing: Annotated[
        bool, typer.Option("--timing/--no-timing", help="time the layers and fit the roofline (slow part)")
    ] = True,
    format: Annotated[Optional[str], typer.Option("--format", "-f", help="table, json, md, csv, html")] = None,
    output: OutputOpt = None,
    layout: LayoutOpt = None,
    strict: StrictOpt = False,
    arg: ArgOpt = None,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="details of every check, not only failing ones")]
    = False,
) -> None:
    """Run MODEL for real: shapes, parameters, FLOPs (fvcore, torch, profiler), memory and time vs predictions.

    \b
    Examples:
      archcalc verify resnet18 --input 64x64x3
      archcalc verify vgg16 --device cuda --dtype float16
      archcalc verify mynet.py:Net --input 32x32x1 --no-timing
    """
    fmt = verify_format(format, output)
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    from archcalc.verify import verify
    from archcalc.verify.render import RENDERERS, render_console

    with Progress(
        TextColumn("verify {task.description:<28}"),
        BarColumn(),
        TimeElapsedColumn(),
        console=stderr_console(),
        transient=True,
    ) as bar:
        task = bar.add_task("", total=None)

        def progress(step: str, index: int, total: int) -> None:
            bar.update(task, description=step, completed=index, total=total)

        report = verify(
            model,
            input,
            device=device,
            dtype=dtype,
            batch=batch,
            warmup=warmup,
            repeat=repeat,
            timing=timing,
            layout=layout,
            strict=strict,
            args=parse_args(arg),
            threads=threads,
            progress=progress,
        )
    if fmt == "table":
        if output is not None:
            from archcalc.output_files import open_for_writing

            with open_for_writing(output) as handle:
                render_console(report, Console(file=handle, width=200), all_details=verbose)
            say_written(output, "table")
        else:
            render_console(report, stdout_console(), all_details=verbose)
    else:
        write_output(RENDERERS[fmt](report), output, what=fmt)
    if report.exit_code:
        raise typer.Exit(report.exit_code)
