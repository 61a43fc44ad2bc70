"""The LLM panels under a transformer's table: attention, training per GPU, KV cache, serving.

Formatting only: :class:`archcalc.llm.sizing.LLMSizing` holds every number. Memory in
binary units (GiB = 2^30 B) with the decimal GB (10^9 B) beside the totals, as GPU
datasheets and the ZeRO paper write them.
"""

from __future__ import annotations

from typing import Any

from rich import box
from rich.console import Console, Group
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from archcalc.render import units

GB = 10**9


def _gb(value: float) -> str:
    return f"{value / GB:.3g} GB"


def _seconds(value: float) -> str:
    if value >= 1:
        return f"{value:.3g} s"
    if value >= 1e-3:
        return f"{value * 1e3:.3g} ms"
    if value >= 1e-6:
        return f"{value * 1e6:.3g} us"
    return f"{value * 1e9:.3g} ns"


def _rate(value: float) -> str:
    if value >= 1e6:
        return units.count_short(value)
    return f"{value:,.0f}" if value >= 100 else f"{value:.3g}"


def _grid() -> Table:
    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="bold", no_wrap=True)
    grid.add_column(justify="right", no_wrap=True)
    grid.add_column(style="dim")
    return grid


def attention_panel(sizing) -> Panel:
    grid = _grid()
    layers = sizing.attention_layers
    kinds = sorted({layer.kind for layer in layers})
    first = layers[0]
    grid.add_row("Attention layers", str(len(layers)), sizing.attention_label)
    grid.add_row("Heads", f"{first.query_heads} / {first.kv_heads}",
                 f"query / key-value heads ({', '.join(kinds)}), key width {first.key_width}")
    from archcalc.llm.compute import ATTENTION_CONVENTIONS

    grid.add_row("Counted", sizing.attention_convention, ATTENTION_CONVENTIONS[sizing.attention_convention])
    return Panel(grid, title="Attention", title_align="left", expand=False, box=box.ROUNDED)


def experts_panel(sizing, exact: bool = False) -> Panel:
    """Total and active parameters per token, and the experts a decode step reads."""
    moe = sizing.moe
    grid = _grid()
    count = units.count_short
    grid.add_row("Experts", f"{moe.top_k} of {moe.experts}",
                 f"routed per token, in {len(moe.groups)} MoE layers; one expert "
                 f"{moe.groups[0].params_per_expert:,} parameters"
                 + (f"; {moe.shared_experts} shared experts on every token" if moe.shared_experts else ""))
    grid.add_row("Total parameters", f"{moe.total_params:,}" if exact else count(moe.total_params),
                 f"{moe.total_params:,}: every expert stored")
    grid.add_row("Active per token", f"{moe.active_params:,}" if exact else count(moe.active_params),
                 f"{moe.active_params:,} = total - {len(moe.groups)} layers x ({moe.experts} - {moe.top_k}) x "
                 f"one expert; without the input embedding {count(moe.active_params - moe.embedding_params)}")
    batch = sizing.batch
    grid.add_row("Decode reads", f"{moe.touched(batch):.3g} of {moe.experts}",
                 f"experts per layer at batch {batch}: E (1 - (1 - k/E)^batch), routing uniform"
                 + "".join(f"; batch {b}: {moe.touched(b):.3g}" for b in (8, 32) if b != batch))
    return Panel(grid, title="Mixture of experts", title_align="left", expand=False, box=box.ROUNDED)


def training_panel(sizing, exact: bool = False) -> Panel:
    memory = sizing.memory
    plan = memory.plan
    grid = _grid()
    nbytes = units.nbytes_short
    states = memory.states
    parallel = plan.parallel
    zero = f"ZeRO-{plan.zero}" + (f", {plan.gpus} GPUs" if plan.gpus > 1 else "") + (
        f", {parallel.label}" if parallel is not None and parallel.active else "")
    split = f" / {parallel.model_split} (TP x PP)" if parallel is not None and parallel.model_split > 1 else ""
    grid.add_row("Plan", zero, plan.label)
    if plan.lora is not None:
        grid.add_row("Trainable", units.count_short(states.trainable or 0, exact),
                     f"{states.trainable:,} adapter parameters (r x (in + out) per adapted layer); the base is "
                     "frozen")
    base = f"{plan.precision_info.weight_bytes} B per parameter"
    if plan.lora is not None:
        if plan.lora.base == "nf4":
            kind = "NF4, 4.127 bits per linear weight, the rest bf16"
        else:
            kind = plan.lora.base or base
        base = f"frozen base ({kind}) + adapters"
    grid.add_row("Weights", nbytes(int(states.weights), exact),
                 base + (f" / {plan.gpus} (ZeRO-3)" if plan.zero >= 3 else "") + split
                 + (" (in host memory)" if plan.offload == "all" else ""))
    grid.add_row("Gradients", nbytes(int(states.gradients), exact),
                 f"{plan.precision_info.grad_bytes} B per trainable parameter"
                 + (f" / {plan.gpus} (ZeRO-2)" if plan.zero >= 2 else "") + split
                 + (" (in host memory)" if plan.offload != "none" else ""))
    grid.add_row("Optimizer state", nbytes(int(states.optimizer), exact),
                 f"{plan.optimizer}: K = {plan.optimizer_bytes} B per trainable parameter"
                 + (" (fp32 master + moments)" if plan.precision == "mixed" else "")
                 + (", second moment factored (rows + columns)" if plan.optimizer_rule.factored else "")
                 + (f" / {plan.gpus} (ZeRO-1)" if plan.zero >= 1 else "") + split
                 + (" (in host memory)" if plan.offload != "none" else ""))
    if states.gather:
        grid.add_row("ZeRO-3 buffers", nbytes(int(states.gather), exact),
                     "the largest module's weights gathered, twice (the layer in use and the one prefetched)")
    if states.host:
        grid.add_row("Host memory", nbytes(int(states.host), exact), f"= {_gb(float(states.host))} of CPU RAM or NVMe "
                     f"per GPU ({plan.offload} offloaded)")
    activations = sizing.activations
    grid.add_row("Activations", nbytes(activations.bytes, exact), activations.source)
    if activations.measured:
        _activation_alternatives(grid, activations, plan)
    if memory.overhead_bytes or memory.overhead_source:
        grid.add_row("CUDA context", nbytes(memory.overhead_bytes, exact),
                     "CUDA context + allocator reserve: " + memory.overhead_source)
    grid.add_row("Total per GPU", nbytes(int(memory.total), exact), f"= {_gb(float(memory.total))}; {zero}")
    deepspeed = getattr(sizing, "deepspeed", None)
    if deepspeed is not None:
        paper = float(memory.states.total)
        grid.add_row("DeepSpeed says", _gb(deepspeed.gpu_bytes),
                     f"model states, {deepspeed.function.rsplit('.', 1)[-1]}: {deepspeed.formula} (against the ZeRO "
                     f"paper's {_gb(paper)}: it adds an fp32 gradient copy, unpartitioned fp16 gradients at ZeRO-2, "
                     "the gathered largest layer at ZeRO-3)")
    fits = _fits(float(memory.total), sizing)
    if fits:
        grid.add_row("Fits", "", fits)
    compute = sizing.compute
    grid.add_row("Training FLOPs", units.count_short(compute.training, exact),
                 f"per step: forward {units.count_short(compute.forward)} + backward "
                 f"{units.count_short(compute.backward)}"
                 + (f" + recompute {units.count_short(compute.recompute)}" if compute.recompute else ""))
    title = f"Training, per GPU: {plan.precision}, {plan.optimizer}, {zero}, batch {sizing.batch}" \
        + (", checkpointing" if plan.checkpoint else "") + (", selective recompute" if plan.recompute == "selective"
                                                            else "")
    return Panel(grid, title=Text(title), title_align="left", expand=False, box=box.ROUNDED)


def _activation_alternatives(grid, activations, plan) -> None:
    """The measured activations under the other recompute plans, attention kernel and kernel profile,
    each labelled (before any TP split)."""
    nbytes = units.nbytes_short
    used = activations.used
    parallel = plan.parallel
    if parallel is not None and parallel.tp > 1:
        grid.add_row("", "", f"the figures below are one model's, before the TP {parallel.tp} split")
    grid.add_row("", "", f"--recompute none {nbytes(used.total_bytes)}, selective {nbytes(used.selective_bytes)}, "
                         f"full {nbytes(used.checkpointed_bytes)} (block inputs "
                         f"{nbytes(sum(used.block_input_bytes.values()))} + one block "
                         f"{nbytes(max(used.block_bytes.values(), default=0))} + outside blocks "
                         f"{nbytes(used.outside_bytes)})")
    math, fused, cuda = activations.math, activations.fused, activations.cuda
    recompute = plan.recompute
    if used is cuda:
        if math is not None:
            grid.add_row("", "", f"measured: CPU/meta kernels: {nbytes(math.recomputed_bytes(recompute))} with math "
                                 f"(eager) attention, {nbytes(fused.recomputed_bytes(recompute))} with --flash")
        return
    other = fused if used is math else math
    if other is not None:
        figure = nbytes(other.recomputed_bytes(recompute))
        if used is fused:
            grid.add_row("", "", f"math (eager) attention: {figure}" + ("" if recompute != "none" else
                                 f", keeping the T x T scores and softmax ({nbytes(other.attention_internal_bytes)})"))
        else:
            grid.add_row("", "", f"fused / flash attention (--flash): {figure}, keeping no T x T scores "
                                 f"({nbytes(used.attention_internal_bytes)} less; its output and "
                                 "log-sum-exp more)")
    if cuda is not None:
        grid.add_row("", "", f"CUDA kernel profile (--kernels cuda): {nbytes(cuda.recomputed_bytes(recompute))}: flash "
                             "attention, 1-byte dropout masks, fused GELU")


def _fits(total: float, sizing) -> str:
    """Whether ``total`` bytes fit each GPU's memory (decimal GB, as datasheets write it)."""
    from archcalc.verify.peaks import SERVING_GPUS, gpu_by_name

    names = [run.gpu for run in sizing.serving] or [gpu_by_name(n) for n in SERVING_GPUS]
    parts = []
    for gpu in names:
        if gpu.memory_gb:
            word = "yes" if total <= gpu.memory_gb * GB else "no"
            parts.append(f"{gpu.name.removeprefix('NVIDIA ')} {gpu.memory_gb:g} GB: {word}")
    return "; ".join(parts)


def kv_panel(sizing, exact: bool = False) -> Panel:
    kv = sizing.kv
    grid = _grid()
    own = [layer for layer in kv.layers if not layer.cross]
    layer = own[0] if own else kv.layers[0]
    per_layer = kv.layer_bytes(layer)
    sizes = {kv.layer_bytes(other) for other in kv.layers}
    grid.add_row("KV cache", units.nbytes_short(int(kv.total_bytes), exact),
                 f"= {_gb(float(kv.total_bytes))}: {len(kv.layers)} layers"
                 + (f" x {units.nbytes_short(int(per_layer))}" if len(sizes) == 1 else " (their sizes differ)"))
    positions = layer.cached_positions(kv.tokens, kv.encoder_tokens)
    held = f"{positions:,} tokens" + (f" (window {layer.window:,} of {kv.tokens:,})" if positions < kv.tokens else "")
    per = units.number(kv.bytes_per_element)
    if layer.latent is not None:
        what = f"batch {kv.batch} x {held} x {layer.latent} latent values (MLA: kv_lora_rank + rotary key)"
    else:
        what = f"batch {kv.batch} x {held} x {layer.kv_heads} kv heads x ({layer.key_width} + {layer.value_width})"
    grid.add_row("Per layer", units.nbytes_short(int(per_layer), exact),
                 f"{what} x {per} B ({kv.dtype}); {kv.kinds}" + (f"; {layer.name}" if len(sizes) > 1 else ""))
    grid.add_row("Per token", units.nbytes_short(int(kv.per_token_bytes), exact), "one more token of one sequence")
    windowed = kv.windowed
    if windowed:
        grid.add_row("Sliding window", f"{len(windowed)} layers",
                     f"hold the last {windowed[0].window:,} positions, not all {kv.tokens:,} (as vLLM and "
                     "transformers' sliding-window caches keep them)")
    cross = [other for other in kv.layers if other.cross]
    if cross:
        grid.add_row("Cross-attention", units.nbytes_short(int(sum(kv.layer_bytes(c) for c in cross)), exact),
                     f"{len(cross)} layers x the encoder's {kv.encoder_tokens:,} tokens, computed once per sequence")
    total = sizing.inference_bytes
    fmt = getattr(sizing, "weight_format", None)
    grid.add_row("Inference", units.nbytes_short(int(total), exact),
                 f"= {_gb(total)}: weights {units.nbytes_short(sizing.weight_bytes)}"
                 + (f" ({fmt.label}; head, embeddings and norms unquantised)" if fmt is not None else "")
                 + f" + KV cache + peak live activations {units.nbytes_short(sizing.peak_activation_bytes)}")
    fits = _fits(total, sizing)
    if fits:
        grid.add_row("Fits", "", fits)
    return Panel(grid, title=f"KV cache: {kv.tokens:,} tokens of context, batch {kv.batch}, {kv.dtype}",
                 title_align="left", expand=False, box=box.ROUNDED)


def capacity_panel(sizing, exact: bool = False) -> Panel:
    """Concurrent sequences of --tokens and the longest single context per GPU kind (vLLM's way)."""
    from archcalc.llm.capacity import BLOCK_TOKENS

    first = sizing.capacity[0]
    grid = _grid()
    for cap in sizing.capacity:
        longest = "any length (sliding windows cap the cache)" if cap.longest_context is None else \
            f"one sequence up to {cap.longest_context:,} tokens"
        grid.add_row(f"{cap.gpus} x {cap.gpu.removeprefix('NVIDIA ')}", f"{cap.sequences:,} sequences",
                     f"of {cap.tokens:,} tokens ({_gb(cap.sequence_bytes)} each); {longest}"
                     if cap.sequences or cap.longest_context else
                     f"the weights and activations leave {_gb(max(cap.free_bytes, 0))} for the cache")
    grid.add_row("How", "", f"{first.utilization:g} of the memory (vLLM's gpu_memory_utilization) - weights "
                 f"{_gb(first.weight_bytes)} - peak activations {_gb(first.activation_bytes)}, in "
                 f"{BLOCK_TOKENS}-token blocks (PagedAttention)")
    return Panel(grid, title=f"Capacity: concurrent sequences of {first.tokens:,} tokens", title_align="left",
                 expand=False, box=box.ROUNDED)


def serving_table(sizing, width: int = 80) -> Table:
    """One line per GPU: prefill time and tokens/s, decode time per token and tokens/s, and what
    bounds them; the datasheet peaks too on a wide console."""
    runs = sizing.serving
    first = runs[0]
    wide = width >= 120
    table = Table(
        title=Text(f"Serving (roofline, datasheet peaks, {first.dtype}): prefill {first.prompt_tokens:,} tokens, "
                   f"decode with {first.context_tokens:,} in the KV cache, batch {first.batch}", style="bold"),
        caption=Text("bound: prefill/decode; max(FLOPs / peak, bytes / bandwidth) per layer, summed: the roofline "
                     "(times are lower bounds, tokens/s upper bounds)"
                     + (f"; at {sizing.efficiency[0]:g}: {sizing.efficiency[1]}" if sizing.efficiency else ""),
                     style="dim"),
        header_style="bold", box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False, padding=(0, 1),
    )
    efficiency = sizing.efficiency[0] if getattr(sizing, "efficiency", None) else None
    heads = ["GPU"] + (["TFLOPS", "GB/s"] if wide else []) + ["prefill", "tokens/s", "per token", "tokens/s"] + (
        [f"at {efficiency:g}"] if efficiency else []) + ["bound"]
    for head in heads:
        table.add_column(head, justify="left" if head in ("GPU", "bound") else "right", no_wrap=True)
    for run in runs:
        peaks = [f"{run.gpu.flops_per_s(run.dtype, dot=True) / 1e12:.4g}", f"{run.gpu.bandwidth_gbs:,.0f}"]
        table.add_row(
            run.gpu.name.removeprefix("NVIDIA ").removeprefix("GeForce "),
            *(peaks if wide else []),
            _seconds(run.prefill.seconds),
            _rate(run.prefill.tokens_per_s),
            _seconds(run.decode.seconds),
            _rate(run.decode.tokens_per_s),
            *([_rate(run.decode.tokens_per_s * efficiency)] if efficiency else []),
            f"{run.prefill.bound}/{run.decode.bound}",
        )
    return table


def serving_layers_table(report, sizing) -> Table:
    """The first GPU's roofline per entry of the block view: the layers outside the repeated
    blocks, and the first block (the others are the same)."""
    from archcalc.breakdown import HEADER, block_of, block_view_depth, repeated_block_container, table_entries

    run = sizing.serving[0]
    prefill = {t.name: t for t in run.prefill.layers}
    decode = {t.name: t for t in run.decode.layers}
    container = repeated_block_container([row.name for row in report.rows])
    first_block = next((block_of(row.name, container) for row in report.rows
                        if block_of(row.name, container) is not None), None)
    blocks = len({block_of(row.name, container) for row in report.rows} - {None})
    table = Table(
        title=Text(f"Per layer on the {run.gpu.name.removeprefix('NVIDIA ')}: prefill and decode time"
                   + (f" (the first of {blocks} blocks shown)" if blocks else ""), style="bold"),
        header_style="bold", box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False, padding=(0, 1),
    )
    for head in ("Layer", "prefill", "bound", "decode", "bound"):
        table.add_column(head, justify="left" if head in ("Layer", "bound") else "right", no_wrap=True)
    for entry in table_entries(report, block_view_depth(report)):
        if entry.kind == HEADER:
            continue
        block = block_of(entry.name, container)
        if block is not None and block != first_block:
            continue
        times = [(prefill[r.name], decode[r.name]) for r in entry.rows]
        p = sum(t[0].seconds for t in times)
        d = sum(t[1].seconds for t in times)
        if not p and not d:
            continue
        p_bound = max(times, key=lambda t: t[0].seconds)[0].bound
        d_bound = max(times, key=lambda t: t[1].seconds)[1].bound
        table.add_row(entry.name, _seconds(p), p_bound, _seconds(d), d_bound)
    return table


def llm_panels(sizing, exact: bool = False, width: int = 80) -> Group:
    parts: list[Any] = []
    if sizing.attention_layers:
        parts.append(attention_panel(sizing))
    if sizing.moe is not None:
        parts.append(experts_panel(sizing, exact))
    parts.append(training_panel(sizing, exact))
    if sizing.kv is not None and sizing.kv.layers:
        parts.append(kv_panel(sizing, exact))
    if getattr(sizing, "capacity", None):
        parts.append(capacity_panel(sizing, exact))
    if sizing.serving:
        parts.append(serving_table(sizing, width))
    return Group(*parts)


def render_llm(report, console: Console, exact: bool = False) -> None:
    if report.llm is not None:
        console.print(llm_panels(report.llm, exact, console.width))
