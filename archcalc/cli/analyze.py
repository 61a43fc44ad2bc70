"""``archcalc MODEL`` (analyze), ``archcalc list`` and ``archcalc layers``."""

from __future__ import annotations

from fnmatch import fnmatch
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Callable, Optional

import typer

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
    AllRowsOpt,
    TimeoutOpt,
    time_limit,
    app,
    complete_model,
    infer_format,
    module_inputs_of,
    parse_args,
    print_warnings,
    split_words,
    say_written,
    stderr_terminal,
    stdout_console,
    stdout_terminal,
    user_errors,
    write_output,
)
from archcalc.errors import InputError

if TYPE_CHECKING:
    from rich.console import Console

#: width of a rendered table written to a file with -o FILE.txt
FILE_WIDTH = 160

SweepOpt = Annotated[
    Optional[str],
    typer.Option("--sweep", help="totals at several points: batch=1,8,64 or input=112,224,448 or "
                 "dtype=float32,float16 or tokens=512,2048,8192"),
]
TokensOpt = Annotated[
    Optional[int],
    typer.Option("--tokens", "-t", min=1, help="sequence length of a token model: N token ids per sequence "
                 "(hf:NAME, modules, token specs)"),
]
PrecisionOpt = Annotated[
    Optional[str], typer.Option("--precision", help="training: fp32, bf16 or mixed (bf16 + fp32 master and moments)")
]
OptimizerOpt = Annotated[str, typer.Option("--optimizer", help="training: sgd, momentum, adam, adamw, adam8bit, "
                                            "adafactor or lion")]
LoraOpt = Annotated[Optional[str], typer.Option("--lora", help="fine-tune with LoRA adapters: r=16,targets=q_proj,"
                                                "v_proj (default targets all-linear); base=nf4 for QLoRA")]
OffloadOpt = Annotated[str, typer.Option("--offload", help="training: none, optimizer (ZeRO-Offload) or all "
                                         "(ZeRO-Infinity, with --zero 3)")]
TpOpt = Annotated[int, typer.Option("--tp", min=1, help="tensor-parallel GPUs (Megatron-LM); with --serve: the GPUs "
                                    "serving one replica")]
PpOpt = Annotated[int, typer.Option("--pp", min=1, help="pipeline-parallel stages (Megatron-LM)")]
SpOpt = Annotated[bool, typer.Option("--sp", help="sequence parallelism along the tensor-parallel group")]
WeightsOpt = Annotated[Optional[str], typer.Option("--weights", help="serving: quantised weights fp8, int8, int4 "
                                                  "(group 128, scales and zeros counted) or nf4")]
UtilizationOpt = Annotated[float, typer.Option("--gpu-memory-utilization", min=0.05, max=1.0,
                                               help="serving capacity: the fraction of GPU memory used (vLLM: 0.9)")]
EfficiencyOpt = Annotated[Optional[float], typer.Option("--efficiency", min=0.01, max=1.0,
                                                        help="decode at this fraction of the roofline (0.68: "
                                                        "gpt-fast on an A100, see docs/transformers.md)")]
EpOpt = Annotated[int, typer.Option("--ep", min=1, help="expert-parallel GPUs: each holds 1/N of every MoE layer's "
                                    "experts")]
ZeroOpt = Annotated[int, typer.Option("--zero", help="training: ZeRO stage 0, 1, 2 or 3 (per GPU memory)")]
GpusOpt = Annotated[int, typer.Option("--gpus", min=1, help="training: data-parallel GPUs (ZeRO partitions)")]
CheckpointOpt = Annotated[
    bool, typer.Option("--checkpoint", help="training: activation checkpointing, full recompute per block "
                       "(= --recompute full)")
]
RecomputeOpt = Annotated[
    Optional[str], typer.Option("--recompute", help="training: none, selective (the attention core recomputed, "
                                "Korthikanti et al. 2022) or full (per block, as --checkpoint)")
]
KernelsOpt = Annotated[
    str, typer.Option("--kernels", help="training activations for cpu (measured on CPU/meta kernels) or cuda "
                      "(the CUDA kernel profile: flash attention, 1-byte dropout masks, fused GELU)")
]
CudaOverheadOpt = Annotated[
    Optional[str], typer.Option("--cuda-overhead", help="training per GPU: CUDA context + allocator reserve, e.g. "
                                "0.5GiB or 300MB (default 512 MiB, an estimate)")
]
AttentionOpt = Annotated[
    str, typer.Option("--attention", help="attention FLOPs: full (Megatron, torch) or causal (halved, MaxText)")
]
FlashOpt = Annotated[
    bool, typer.Option("--flash", help="training with fused / flash attention: its saved tensors (no T x T scores) "
                       "and its recompute of Q K^T in backward")
]
KvDtypeOpt = Annotated[
    Optional[str], typer.Option("--kv-dtype", help="KV cache dtype: float32, bfloat16, float16, float8, int8, int4")
]
GpuOpt = Annotated[
    Optional[list[str]],
    typer.Option("--gpu", help="serving GPUs (repeat): h100, h200, a100, l40s, rtx4090, a100-40gb, l4, t4"),
]
PlotOpt = Annotated[
    Optional[Path], typer.Option("--plot", help="draw per-layer memory, parameter and FLOP bars to FILE.png or .svg")
]
ConfigOpt = Annotated[
    Optional[str], typer.Option("--config", help="checkpoints: match the tensors against the model a transformers "
                                "config.json describes (tied, missing, unexpected tensors)")
]
OnlyOpt = Annotated[
    Optional[str], typer.Option("--only", help="with --explain: only layers matching this name or glob (layer2.*)")
]


def llm_options(precision, optimizer, zero, gpus, checkpoint, attention, flash, kv_dtype, gpu, lora=None,
                offload="none", tp=1, pp=1, sp=False, ep=1, weights=None, utilization=0.9, efficiency=None,
                recompute=None, kernels="cpu", cuda_overhead=None):
    """The LLM sizing options of the command line, checked before any work (one line, exit 2)."""
    from archcalc.llm.compute import check_attention_convention
    from archcalc.llm.lora import parse_lora
    from archcalc.llm.overheads import parse_size
    from archcalc.llm.recompute import check_recompute
    from archcalc.llm.sizing import LLMOptions

    recompute = check_recompute(recompute) if recompute is not None else ("full" if checkpoint else "none")
    if checkpoint and recompute != "full":
        raise InputError(f"--checkpoint is full recompute per block; it cannot go with --recompute {recompute}")
    kernels = str(kernels).strip().lower()
    if kernels not in ("cpu", "cuda"):
        raise InputError(f"--kernels must be cpu or cuda, got {kernels!r}")

    options = LLMOptions(
        precision=precision.lower() if precision else None,
        optimizer=optimizer.lower(),
        zero=zero,
        gpus=gpus,
        checkpoint=recompute == "full",
        recompute=recompute,
        kernels=kernels,
        cuda_overhead=parse_size(cuda_overhead) if cuda_overhead is not None else None,
        attention=check_attention_convention(attention),
        flash=flash,
        kv_dtype=kv_dtype,
        gpu_names=tuple(split_words(gpu)) or None,
        lora=parse_lora(lora) if lora else None,
        offload=offload.lower(),
        tp=tp,
        pp=pp,
        sp=sp,
        ep=ep,
        weights=weights,
        utilization=utilization,
        efficiency=efficiency,
    )
    if weights is not None:
        from archcalc.llm.weight_formats import weight_format

        weight_format(weights)
    options.plan("float32")  # a bad --precision / --optimizer / --zero
    if kv_dtype is not None:
        from archcalc.llm.kv_cache import kv_dtype_bytes

        kv_dtype_bytes(kv_dtype)
    if options.gpu_names:
        from archcalc.verify.peaks import gpu_by_name

        for name in options.gpu_names:
            gpu_by_name(name)
    return options


def emit(draw: Callable[[Any], None], output: Path | None, console: Any) -> None:
    """Render to the terminal, or to ``output`` (plain text, :data:`FILE_WIDTH` columns)."""
    if output is None:
        draw(console)
        return
    from rich.console import Console

    from archcalc.output_files import open_for_writing

    with open_for_writing(output) as handle:
        draw(Console(file=handle, width=FILE_WIDTH, highlight=False, color_system=None))
    say_written(output, "table")


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


def render_formatted(report, fmt: str, output: Path | None, console: Any = None, *, exact: bool,
                     depth: int | None, explain: bool, only: str | None, answer: bool = False,
                     views: bool = False) -> None:
    """Write ``report`` in ``fmt``: the table (or a single-layer answer), or an export.

    ``console``: where the table goes (a rich Console or a light Terminal); by default the
    light terminal for the plain table, a rich console for the views with panels."""
    if fmt == "table":
        from archcalc.render.table import layer_answer, render_report

        if depth is None and report.llm is not None and not answer:
            from archcalc.breakdown import block_view_depth

            depth = block_view_depth(report)  # a transformer: its block view
        if not explain and not answer:
            if output is None:
                target = console or stdout_terminal()
                render_report(report, target, exact=exact, depth=depth, views=views)
                _llm_panels(report, None, exact, getattr(target, "width", None))
                return
            from archcalc.render.styled import Terminal

            from archcalc.output_files import open_for_writing

            with open_for_writing(output) as handle:
                render_report(report, Terminal(file=handle, width=FILE_WIDTH, color=False), exact=exact,
                              depth=depth, views=views)
                _llm_panels(report, handle, exact, FILE_WIDTH)
            say_written(output, "table")
            return

        def draw(target: Console) -> None:
            if explain:
                from archcalc.render.explain import derivation_panels

                if not answer:
                    render_report(report, target, exact=exact, depth=depth, views=views)
                rows, totals = derivations(report, only)
                target.print(derivation_panels(report, rows, totals if not answer or len(report.rows) > 1 else None,
                                               width=target.width))
                if not answer and report.llm is not None:
                    from archcalc.render.llm import render_llm

                    render_llm(report, target, exact=exact)
            else:
                target.print(layer_answer(report, exact=exact))

        emit(draw, output, console or stdout_console())
        return
    from archcalc.render import exports

    if explain and fmt == "json":
        rows, totals = derivations(report, only)
        text = exports.to_json(report, {row.name: steps for row, steps in rows}, totals)
    elif explain and fmt == "md":
        from archcalc.render.explain import row_title, steps_markdown

        rows, totals = derivations(report, only)
        text = exports.to_markdown(report, depth=depth) + "\n## Derivations\n\n" + "\n".join(
            steps_markdown(row_title(row), steps) for row, steps in rows
        ) + "\n" + steps_markdown("totals", totals)
    elif explain:
        raise InputError(f"--explain works with the table, json and md formats, not {fmt}")
    elif fmt in ("md", "latex", "html"):  # exports for people follow the view: --depth, as the terminal
        if depth is None and report.llm is not None and not answer:
            from archcalc.breakdown import block_view_depth

            depth = block_view_depth(report)
        text = exports.EXPORTERS[fmt](report, depth=depth)
    else:
        text = exports.EXPORTERS[fmt](report)
    write_output(text, output, what=fmt)


def _llm_panels(report, handle, exact: bool, width: int | None) -> None:
    """A transformer's panels (attention, training per GPU, KV cache, serving) under its table."""
    if report.llm is None:
        return
    import sys

    from rich.console import Console

    from archcalc.render.llm import render_llm

    if handle is None:
        sys.stdout.flush()
        render_llm(report, stdout_console(), exact=exact)
    else:
        render_llm(report, Console(file=handle, width=width, highlight=False, color_system=None), exact=exact)


def render_comparison_output(comparison, fmt: str, output: Path | None, console: Any, exact: bool,
                             title: str, sweep: bool = False) -> None:
    if fmt == "table":
        from archcalc.render.compare import render_comparison

        emit(lambda target: render_comparison(comparison, target, exact=exact, title=title, sweep=sweep), output,
             console)
        return
    from archcalc.render.exports import COMPARISON_EXPORTERS

    if fmt not in COMPARISON_EXPORTERS:
        raise InputError(f"comparisons export as {', '.join(COMPARISON_EXPORTERS)} or the table, not {fmt}")
    write_output(COMPARISON_EXPORTERS[fmt](comparison), output, what=fmt)


@app.command("analyze")
@user_errors
def analyze_command(
    model: Annotated[str, typer.Argument(help="zoo name (archcalc list), spec.yaml, file.py:Class, or a model file (.onnx, "
                                               ".keras, .h5, .pt2, .pt, .safetensors, .gguf)",
                                               autocompletion=complete_model)],
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
    all_rows: AllRowsOpt = False,
    depth: DepthOpt = None,
    explain: ExplainOpt = False,
    only: OnlyOpt = None,
    sweep: SweepOpt = None,
    plot: PlotOpt = None,
    tokens: TokensOpt = None,
    precision: PrecisionOpt = None,
    optimizer: OptimizerOpt = "adam",
    zero: ZeroOpt = 0,
    gpus: GpusOpt = 1,
    checkpoint: CheckpointOpt = False,
    recompute: RecomputeOpt = None,
    kernels: KernelsOpt = "cpu",
    cuda_overhead: CudaOverheadOpt = None,
    attention: AttentionOpt = "full",
    flash: FlashOpt = False,
    kv_dtype: KvDtypeOpt = None,
    gpu: GpuOpt = None,
    config: ConfigOpt = None,
    timeout: TimeoutOpt = None,
) -> None:
    """Analyse MODEL: per-layer table and totals (the default command).

    The command may be left out: `archcalc vgg16` is `archcalc analyze vgg16`. MODEL may be
    hf:NAME (a transformers model from its config); a transformer also gets attention,
    training memory per GPU, KV cache and serving panels (docs/transformers.md).

    \b
    Examples:
      archcalc vgg16 --input 224x224x3
      archcalc resnet50 --convention flops --depth 2
      archcalc mynet.yaml --explain --only conv1
      archcalc lenet5 -o lenet5.md       (also .csv .json .tex .html)
      archcalc resnet50 --plot r50.png
      archcalc resnet50 --sweep batch=1,8,64
      archcalc hf:gpt2 --tokens 1024 --precision mixed --zero 2 --gpus 8
      archcalc model.onnx --input batch=1     (.keras .h5 .pt2 .pt too)
      archcalc model.safetensors --config config.json     (.gguf too)
    """
    from archcalc.api import analyze, reads_as_spec
    from archcalc.cli import collector_paused
    from archcalc.frontends.model_files import is_checkpoint_file
    from archcalc.output_files import refuse_inputs

    fmt = infer_format(format, output)
    model_file = model.split(":")[0] if model.endswith(".py") or ".py:" in model else model
    refuse_inputs(output, [model_file])  # never write over the spec or the module's file
    refuse_inputs(plot, [model_file], "--plot")
    if is_checkpoint_file(model):
        from archcalc.cli.checkpoint import show_checkpoint

        show_checkpoint(model, config, fmt, output, depth=depth, exact=exact, verbose=verbose)
        return
    if config is not None:
        raise InputError("--config is for checkpoints (.safetensors, .gguf); for a model from a config use "
                         f"hf:{config}")
    input, kwargs = module_inputs_of(input, kwarg, example)
    if example is not None and batch == 1:  # the example's tensors carry their batch
        from archcalc.frontends.module_inputs import example_batch

        batch = example_batch(input, kwargs) or 1
    options: dict[str, Any] = dict(
        llm=llm_options(precision, optimizer, zero, gpus, checkpoint, attention, flash, kv_dtype, gpu,
                        recompute=recompute, kernels=kernels, cuda_overhead=cuda_overhead),
        tokens=tokens,
        kwargs=kwargs,
        convention=convention,
        include=split_words(include),
        exclude=split_words(exclude),
        layout=layout,
        strict=strict,
        args=parse_args(arg),
    )
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
            print_warnings(report, stderr_terminal(), verbose)
        render_comparison_output(comparison, fmt, output, stdout_console(), exact,
                                 title=f"{comparison.reports[0].model}: totals by {axis.name}", sweep=True)
        return
    spec = reads_as_spec(model) and plot is None  # a spec's run: see collector_paused (not matplotlib's)
    with time_limit(timeout), collector_paused(spec):
        report = analyze(model, input, batch=batch, dtype=dtype, **options)
    print_warnings(report, stderr_terminal(), verbose)
    if plot is not None:
        from archcalc.render.plot import plot_depth, plot_report

        plot_report(report, plot, depth=depth)
        folded = plot_depth(report, depth)
        if depth is None and folded is not None:
            from archcalc.breakdown import leaf_entries

            bars = len(leaf_entries(report, folded))
            say_written(plot, "plot", f"{len(report.rows)} layers, blocks folded to depth {folded} "
                                      f"({bars} bars) to keep the labels readable; --depth N chooses")
        else:
            say_written(plot, "plot")
    with collector_paused(spec):
        render_formatted(report, fmt, output, exact=exact, depth=depth, explain=explain, only=only,
                         views=all_rows)


def hanging(first: str, text: str, indent: int, width: int) -> list[str]:
    """``first`` padded to ``indent`` columns, then ``text`` wrapped at ``width``; continuation
    lines start at ``indent`` (never back at column 0)."""
    import textwrap

    width = max(width, indent + 20)
    return textwrap.wrap(text, width=width, initial_indent=first.ljust(indent),
                         subsequent_indent=" " * indent, break_on_hyphens=False) or [first]


@app.command("list")
@user_errors
def list_command() -> None:
    """List the model zoo, one line each."""
    from archcalc.render.styled import Line
    from archcalc.zoo import zoo_description, zoo_names

    terminal = stdout_terminal()
    names = zoo_names()
    indent = max(len(n) for n in names) + 2
    lines = []
    for name in names:
        wrapped = hanging(name, zoo_description(name), indent, terminal.width)
        lines.append(Line(name, "bold").append(wrapped[0][len(name):]))
        lines += [Line(text) for text in wrapped[1:]]
    terminal.write_lines(lines)


@app.command("layers")
@user_errors
def layers_command() -> None:
    """List the layer types a spec can use, with their aliases and arguments."""
    from archcalc.layers import all_ops
    from archcalc.layers.base import REQUIRED
    from archcalc.render.styled import Line

    terminal = stdout_terminal()
    lines = []
    for op, rule in sorted(all_ops().items()):
        # the summary runs on after the name; wrapped lines, aliases and arguments are indented
        wrapped = hanging("", f"{op}: {rule.summary}", 4, terminal.width)
        wrapped[0] = wrapped[0].lstrip()
        lines.append(Line(op, "bold").append(wrapped[0][len(op):]))
        lines += [Line(text) for text in wrapped[1:]]
        if rule.aliases:
            lines += [Line(text, "dim") for text in hanging("    also:", ", ".join(rule.aliases), 10, terminal.width)]
        args = ", ".join(k if v is REQUIRED else f"{k}={v}" for k, v in rule.keys.items() if k != "multiplier")
        if args:
            lines += [Line(text) for text in hanging("    args:", args, 10, terminal.width)]
    terminal.write_lines(lines)
