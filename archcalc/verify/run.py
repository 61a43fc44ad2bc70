"""``verify``: run a network for real and put every predicted number next to a measured one.

The steps, each in its own module:

1. :mod:`~archcalc.verify.target`: the model as a Graph and a torch module;
2. :mod:`~archcalc.verify.structure`: a forward pass with hooks (shapes, parameters);
3. :mod:`~archcalc.verify.flops`: fvcore, torch's flop counter and the profiler's FLOPs;
4. :mod:`~archcalc.verify.memory`: the allocator's (CUDA) or the profiler's (CPU) memory;
5. :mod:`~archcalc.verify.timing`: profiler times against the roofline.

Nothing is printed; ``progress(step, index, total)`` is called before each step.
"""

from __future__ import annotations

import os
import platform
import sys
from typing import Any, Callable

import torch

from archcalc.analysis import analyze_graph, dtype_bytes
from archcalc.errors import InputError
from archcalc.verify.flops import (
    count_fvcore,
    count_profiler,
    count_torch,
    counter_checks,
    profiler_checks,
)
from archcalc.verify.memory import (
    cpu_memory,
    cuda_memory,
    memory_checks,
    predicted_output_bytes,
)
from archcalc.verify.peaks import lookup_gpu, measure_peaks
from archcalc.verify.profiling import profile_passes
from archcalc.verify.report import (
    Check,
    Environment,
    LayerComparison,
    Status,
    VerifyReport,
)
from archcalc.verify.structure import module_params, structure_checks, trace_forward
from archcalc.verify.target import load_target
from archcalc.verify.timing import (
    layer_medians,
    roofline_points,
    timing_result,
    wall_times,
    warm_up,
)

#: dtypes verify runs in
VERIFY_DTYPES = ("float32", "float16", "bfloat16")

Progress = Callable[[str, int, int], None]

#: counter -> the name its checks start with
_CHECK_PREFIX = {"torch": "torch flop counter", "fvcore": "fvcore", "profiler": "profiler conv/matmul"}


def cpu_name() -> str:
    """The CPU's model name (``/proc/cpuinfo`` on Linux, else ``platform.processor()``)."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as handle:
            for line in handle:
                if line.lower().startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown CPU"


def environment(device: str) -> Environment:
    try:
        from importlib.metadata import version

        fvcore_version = version("fvcore")
    except Exception:  # noqa: BLE001  (not installed)
        fvcore_version = None
    cuda = device.startswith("cuda")
    return Environment(
        device=device,
        device_name=torch.cuda.get_device_name(torch.device(device)) if cuda else cpu_name(),
        cpu_name=cpu_name(),
        cpu_count=os.cpu_count(),
        threads=torch.get_num_threads(),
        torch_version=torch.__version__,
        fvcore_version=fvcore_version,
        cuda_version=torch.version.cuda,
        python_version=sys.version.split()[0],
        cudnn_allow_tf32=bool(torch.backends.cudnn.allow_tf32) if cuda else None,
        matmul_allow_tf32=bool(torch.backends.cuda.matmul.allow_tf32) if cuda else None,
    )


def resolve_device(device: str) -> str:
    device = device.lower()
    if device == "cpu":
        return device
    if device == "cuda" or device.startswith("cuda:"):
        if not torch.cuda.is_available():
            reason = "torch was built without CUDA" if torch.version.cuda is None else "no CUDA device is visible"
            raise InputError(f"--device {device}: CUDA is not available here ({reason}, torch {torch.__version__})",
                             hint="run on a machine with an NVIDIA GPU, or use --device cpu")
        return "cuda:0" if device == "cuda" else device
    raise InputError(f"unknown device '{device}' (choose cpu or cuda)")


def verify(
    model: Any,
    input: Any = None,
    *,
    device: str = "cpu",
    dtype: str = "float32",
    batch: int = 1,
    warmup: int = 3,
    repeat: int = 10,
    timing: bool = True,
    layout: str | None = None,
    strict: bool = False,
    args: dict[str, str] | None = None,
    threads: int | None = None,
    progress: Progress | None = None,
) -> VerifyReport:
    """Run ``model`` (zoo name, YAML path, module target or ``nn.Module``) and check every prediction.

    ``timing=False`` skips the warm-up, the timed passes, the peak benchmark
    and the roofline (the structural, FLOP and memory checks still run).
    ``threads`` sets torch's CPU threads for the run (restored afterwards).
    """
    if threads is not None and threads < 1:
        raise InputError(f"--threads must be at least 1, got {threads}")
    previous = torch.get_num_threads()
    if threads is not None:
        torch.set_num_threads(threads)
    try:
        return _verify(model, input, device=device, dtype=dtype, batch=batch, warmup=warmup, repeat=repeat,
                       timing=timing, layout=layout, strict=strict, args=args, progress=progress)
    finally:
        torch.set_num_threads(previous)


def _verify(model: Any, input: Any, *, device: str, dtype: str, batch: int, warmup: int, repeat: int, timing: bool,
            layout: str | None, strict: bool, args: dict[str, str] | None, progress: Progress | None
            ) -> VerifyReport:
    dtype, _ = dtype_bytes(dtype)
    if dtype not in VERIFY_DTYPES:
        raise InputError(f"verify runs in {', '.join(VERIFY_DTYPES)}, not {dtype}")
    if batch < 1 or repeat < 1 or warmup < 0:
        raise InputError("--batch and --repeat must be at least 1, --warmup at least 0")
    device = resolve_device(device)
    cuda = device.startswith("cuda")
    torch_dtype = getattr(torch, dtype)
    steps = ["build the model", "forward pass with hooks", "torch flop counter", "fvcore", "profiler FLOPs"
             + ("" if cuda else " and memory")] + (["allocator memory"] if cuda else [])
    if timing:
        steps += ["warm-up", "timed passes", "profiled passes", "device peaks"]
    step = iter(range(len(steps)))

    def advance() -> None:
        i = next(step)
        if progress is not None:
            progress(steps[i], i, len(steps))

    advance()
    target = load_target(model, input, device, torch_dtype, layout=layout, strict=strict, args=args)
    report = analyze_graph(target.graph, batch=batch, dtype=dtype, convention="torch", **target.extras)
    fvcore_report = analyze_graph(target.graph, batch=batch, dtype=dtype, convention="fvcore", **target.extras)
    env = environment(device)
    notes: list[str] = [f"model {target.origin}"]
    if not cuda:
        notes.append(
            "CPU run: CUDA allocator statistics and kernel times are skipped"
            + ("" if torch.cuda.is_available() else " (CUDA is not available here)")
            + "; memory comes from the profiler's records, times are CPU times"
        )
    generator = torch.Generator(device="cpu").manual_seed(0)
    if target.graph.input_dtype in ("int64", "int32"):  # token ids: 0 and 1 are rows of every table
        ids = getattr(torch, target.graph.input_dtype)
        x = torch.randint(0, 2, (batch, *target.graph.input_shape), generator=generator).to(device=device, dtype=ids)
    else:
        x = torch.randn(batch, *target.graph.input_shape, generator=generator).to(device=device, dtype=torch_dtype)

    advance()
    trace = trace_forward(target, x)
    checks: list[Check] = structure_checks(report, target, trace)
    params = module_params(target)
    fvcore_by_row = {row.name: row.flops for row in fvcore_report.rows}
    outputs = predicted_output_bytes(report)
    measured: dict[str, dict[str, Any]] = {row.name: {} for row in report.rows}
    for name, shapes in trace.shapes.items():
        if name in measured:
            measured[name]["measured_shape"] = shapes[0]
    for name, (p, b) in params.items():
        measured[name].update(measured_params=p, measured_buffers=b)
    memory_result = timing_summary = None
    layer_timings: dict[str, Any] = {}
    counter_ops: dict[str, dict[str, dict[str, int]]] = {}

    if not trace.ran:
        notes.append("the model does not run with the predicted structure: FLOP, memory and timing checks skipped")
        for kind in ("flops", "memory") + (("timing",) if timing else ()):
            checks.append(Check(kind=kind, name=f"{kind} checks", status=Status.SKIP,
                                summary="skipped: the forward pass failed"))
    else:
        advance()
        torch_counts = count_torch(target, x)
        new, torch_measured = counter_checks(
            report, target, torch_counts, name="torch flop counter",
            label="torch.utils.flop_counter.FlopCounterMode vs the torch preset",
            predicted=lambda row: row.flops,
        )
        checks += new

        advance()
        fvcore_counts = count_fvcore(target, x)
        new, fvcore_measured = counter_checks(
            fvcore_report, target, fvcore_counts, name="fvcore",
            label="fvcore.nn.FlopCountAnalysis vs the fvcore preset",
            predicted=lambda row: row.flops,
        )
        checks += new

        advance()
        profile = profile_passes(target.module, x, target.layer_modules, passes=1, cuda=cuda,
                                 with_flops=True, profile_memory=not cuda)
        profiler_counts = count_profiler(profile)
        new, profiler_measured = profiler_checks(report, target, profiler_counts)
        checks += new
        for source, values in (("measured_torch", torch_measured), ("measured_fvcore", fvcore_measured),
                               ("measured_profiler", profiler_measured)):
            for name, value in values.items():
                measured[name][source] = value
        counter_ops = _counter_ops(checks, (torch_counts, fvcore_counts, profiler_counts), target)

        if cuda:
            advance()
            memory_result, per_layer = cuda_memory(report, target, x)
        else:
            memory_result, per_layer = cpu_memory(report, target, x, profile)
        new, memory_result = memory_checks(report, memory_result, per_layer, cuda)
        checks += new
        for name, usage in per_layer.items():
            if name in measured:
                measured[name].update(measured_bytes=usage.net, workspace_bytes=usage.workspace)

        if timing:
            timing_summary, layer_timings = _measure_time(report, target, x, env, warmup, repeat, advance)
            checks.append(_timing_check(timing_summary))
        else:
            checks.append(Check(kind="timing", name="time", status=Status.SKIP, summary="skipped (--no-timing)"))

    layers = tuple(
        LayerComparison(
            name=row.name,
            op=row.op,
            shape=(batch, *row.output_shape),
            params=row.params,
            buffers=row.buffers,
            fvcore_flops=fvcore_by_row[row.name],
            torch_flops=row.flops,
            profiler_flops=(row.ops.torch if row.category == "dot" else 0),
            output_bytes=outputs[row.name],
            timing=layer_timings.get(row.name),
            counter_ops=counter_ops.get(row.name, {}),
            **measured[row.name],
        )
        for row in report.rows
    )
    return VerifyReport(
        model=report.model,
        source=report.source or (str(model) if isinstance(model, str) else type(model).__name__),
        input_shape=report.input_shape,
        batch=batch,
        dtype=dtype,
        environment=env,
        checks=tuple(checks),
        layers=layers,
        memory=memory_result,
        timing=timing_summary,
        notes=tuple(notes),
    )


def _counter_ops(checks: list[Check], counters, target) -> dict[str, dict[str, dict[str, int]]]:
    """Layer -> counter -> op -> count, for the layers a counter's check says differ."""
    out: dict[str, dict[str, dict[str, int]]] = {}
    for counter in counters:
        failing = {name for check in checks if check.name.startswith(_CHECK_PREFIX[counter.counter])
                   for name in check.layers}
        for name in failing:
            unit = target.module_names.get(name, name) if counter.by_module else name
            out.setdefault(name, {})[counter.counter] = counter.per_unit.get(unit, {})
    return out


def _measure_time(report, target, x, env: Environment, warmup: int, repeat: int, advance: Callable[[], None]):
    """Warm-up, timed passes, profiled passes, device peaks and the roofline: (TimingResult, layer -> LayerTiming)."""
    cuda = env.device.startswith("cuda")
    advance()
    warm_up(target.module, x, warmup, cuda)
    advance()
    walls = wall_times(target.module, x, repeat, cuda)
    advance()
    timed = profile_passes(target.module, x, target.layer_modules, passes=repeat, cuda=cuda)
    medians = layer_medians(timed, cuda)
    advance()
    peaks = lookup_gpu(env.device_name) if cuda else None
    if peaks is None:
        peaks = measure_peaks(env.device, report.dtype, env.device_name)
    points = roofline_points(report, peaks, bool(env.cudnn_allow_tf32), bool(env.matmul_allow_tf32))
    method = (
        "CUDA kernel time per layer (torch.profiler device_time_total), CUDA events per pass"
        if cuda else "CPU time per layer (torch.profiler cpu_time_total), perf_counter per pass"
    )
    return timing_result(report, points, medians, peaks, walls, warmup, repeat, method=method,
                         notes=_timing_notes(cuda, peaks.measured))


def _timing_check(result) -> Check:
    parts = []
    if result.spearman is not None:
        parts.append(f"Spearman rank correlation {result.spearman:.2f} over {result.compared_layers} layers")
    if result.median_ratio is not None:
        parts.append(f"median measured/roofline {result.median_ratio:.1f}x")
    if result.bound_shares:
        parts.append(
            ", ".join(f"{share:.0%} of time in {bound}-bound layers" for bound, share in result.bound_shares.items()
                      if bound != "none")
        )
    return Check(
        kind="timing",
        name="time",
        status=Status.INFO,
        summary="; ".join(parts) or "no layer times",
        predicted=result.predicted_total_s,
        measured=result.wall_median_s,
        unit="seconds",
    )


def _timing_notes(cuda: bool, measured_peaks: bool) -> tuple[str, ...]:
    notes = [
        "the roofline is a lower bound: launch and framework overhead, kernel efficiency and "
        "caches are not in it, so measured / predicted >= 1 is expected and small layers are far above it",
    ]
    if not cuda:
        notes.append(
            "CPU times include the profiler's own overhead per op (a few microseconds); tensors of small "
            "layers stay in cache, so memory-bound layers can beat the DRAM bandwidth measured by the copy"
        )
    if measured_peaks:
        notes.append("no datasheet for this device: its peaks were measured here by a matmul and a copy")
    return tuple(notes)


__all__ = ["VERIFY_DTYPES", "cpu_name", "environment", "resolve_device", "verify"]
