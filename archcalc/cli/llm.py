"""``archcalc llm MODEL``: a transformer's sizing alone (attention, training memory per GPU,
KV cache, prefill and decode on named GPUs), without the per-layer table."""

from __future__ import annotations

from typing import Any, Optional

import typer
from rich.text import Text

from archcalc.cli.analyze import (
    AttentionOpt,
    CheckpointOpt,
    CudaOverheadOpt,
    EfficiencyOpt,
    EpOpt,
    FlashOpt,
    GpuOpt,
    GpusOpt,
    KernelsOpt,
    KvDtypeOpt,
    LoraOpt,
    OffloadOpt,
    OptimizerOpt,
    PpOpt,
    PrecisionOpt,
    RecomputeOpt,
    SpOpt,
    SweepOpt,
    TokensOpt,
    TpOpt,
    UtilizationOpt,
    WeightsOpt,
    ZeroOpt,
    emit,
    llm_options,
    render_comparison_output,
)
from archcalc.cli.app import (
    ArgOpt,
    BatchOpt,
    ExactOpt,
    FormatOpt,
    InputsOpt,
    KwargOpt,
    OutputOpt,
    VerboseOpt,
    app,
    infer_format,
    module_inputs_of,
    parse_args,
    print_warnings,
    stderr_console,
    stdout_console,
    user_errors,
    write_output,
)
from archcalc.errors import InputError


@app.command("llm")
@user_errors
def llm_command(
    model: Optional[str] = typer.Argument(None, help="hf:NAME, hf:path/config.json, a token spec (gpt2, llama2_7b) "
                                          "or file.py:Class"),
    tokens: TokensOpt = None,
    batch: BatchOpt = 1,
    dtype: Optional[str] = typer.Option(None, "--dtype", help="float32, float16, bfloat16, ... (default: the "
                                        "--precision plan's: bfloat16 for bf16 and mixed, else float32)"),
    input: InputsOpt = None,
    kwarg: KwargOpt = None,
    arg: ArgOpt = None,
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
    lora: LoraOpt = None,
    offload: OffloadOpt = "none",
    tp: TpOpt = 1,
    pp: PpOpt = 1,
    sp: SpOpt = False,
    ep: EpOpt = 1,
    weights: WeightsOpt = None,
    gpu_memory_utilization: UtilizationOpt = 0.9,
    efficiency: EfficiencyOpt = None,
    sweep: SweepOpt = None,
    format: FormatOpt = None,
    output: OutputOpt = None,
    exact: ExactOpt = False,
    verbose: VerboseOpt = False,
    per_layer: bool = typer.Option(False, "--per-layer", help="the first GPU's prefill and decode time per layer"),
    list_models: bool = typer.Option(False, "--list", help="name the models hf:NAME sizes without a config.json"),
) -> None:
    """Size a transformer: training memory per GPU (precision, optimizer, ZeRO), KV cache,
    tokens/s of prefill and decode on named GPUs. --sweep tokens=... or batch=... compares."""
    from archcalc.api import analyze

    if list_models:
        _print_known_models(stdout_console())
        return
    if model is None:
        raise InputError("name a model (hf:NAME, hf:path/config.json, a token spec), or --list the known ones")

    fmt = infer_format(format, output)
    if fmt not in ("table", "json"):
        raise InputError(f"archcalc llm writes the table or json, not {fmt}")
    inputs, kwargs = module_inputs_of(input, kwarg, None)
    if dtype is None:  # precision shown as used: a bf16 or mixed plan analyses (and prices the cache) in bf16
        dtype = "bfloat16" if precision and precision.lower() in ("bf16", "mixed") else "float32"
    options: dict[str, Any] = dict(
        llm=llm_options(precision, optimizer, zero, gpus, checkpoint, attention, flash, kv_dtype, gpu, lora, offload,
                        tp, pp, sp, ep, weights, gpu_memory_utilization, efficiency, recompute, kernels,
                        cuda_overhead),
        tokens=tokens, kwargs=kwargs, args=parse_args(arg),
    )
    console = stdout_console()
    if sweep is not None:
        from archcalc.sweep import parse_sweep
        from archcalc.sweep import sweep as run_sweep

        axis = parse_sweep(sweep)
        comparison = run_sweep(lambda **point: analyze(model, **point), axis, input=inputs, batch=batch,
                               dtype=dtype, **options)
        print_warnings(comparison.reports[0], stderr_console(), verbose)
        if any(report.llm is None for report in comparison.reports):
            raise InputError(f"{model} has no attention layers: archcalc llm sizes transformers")
        from dataclasses import replace

        kept = tuple(m for m in comparison.metrics if m.key in ("params", "macs") or m.key.startswith("llm."))
        comparison = replace(comparison, metrics=kept)
        render_comparison_output(comparison, fmt, output, console, exact,
                                 title=f"{comparison.reports[0].model}: by {axis.name}", sweep=True)
        return
    report = analyze(model, inputs, batch=batch, dtype=dtype, **options)
    print_warnings(report, stderr_console(), verbose)
    if report.llm is None:
        raise InputError(f"{model} has no attention layers: archcalc llm sizes transformers "
                         "(archcalc MODEL gives its table)")
    if fmt == "json":
        import json

        data = {"model": report.model, "input_shape": list(report.input_shape), "batch": report.batch,
                "dtype": report.dtype, "params": report.totals.params, "macs": report.totals.macs,
                **report.llm.to_dict()}
        write_output(json.dumps(data, indent=2), output, console)
        return
    from archcalc.render import units
    from archcalc.render.llm import llm_panels

    def draw(target) -> None:
        t = report.totals
        target.print(Text(f"{report.model}: {report.llm.tokens:,} tokens, batch {report.llm.batch}, {report.dtype}; "
                          f"{t.params:,} parameters, {units.count_short(t.macs)} MACs forward", style="bold"))
        target.print(llm_panels(report.llm, exact, target.width))
        if per_layer and report.llm.serving:
            from archcalc.render.llm import serving_layers_table

            target.print(serving_layers_table(report, report.llm))

    emit(draw, output, console)


def _print_known_models(console) -> None:
    """The models ``hf:NAME`` sizes offline: shipped published configs (with their sources) and
    the library defaults archcalc knows (:data:`archcalc.llm.hf.KNOWN_MODELS`)."""
    from rich import box
    from rich.table import Table

    from archcalc.llm.hf import KNOWN_MODELS
    from archcalc.llm.published_configs import published_configs

    table = Table(title="Models hf:NAME sizes without a config.json", box=box.SIMPLE_HEAD, show_edge=False,
                  header_style="bold")
    for head in ("hf:NAME", "source"):
        table.add_column(head, overflow="fold")
    for config in published_configs():
        table.add_row(config.name, config.source)
    seen = set()
    for name, known in KNOWN_MODELS.items():
        if id(known) in seen:  # an alias (openai-community/gpt2, a lower-case spelling)
            continue
        seen.add(id(known))
        table.add_row(name, f"transformers' {known.config_class}() with the checkpoint's fields: {known.what}")
    console.print(table)
