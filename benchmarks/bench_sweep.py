"""Time ``archcalc.analyze`` against ``torchinfo.summary`` over the sweep of transformers models.

Issue 16 asks, over the sweep of real architectures (``tests/hf_sweep.py``: every transformers
model type, shrunk to 1-2 layers with real small weights), for archcalc's median time to be at
most 0.5x torchinfo's, and for no model to take over 5 s. Both tools run in this one process on
the same built model and the same inputs, alternating model by model (the machine may be shared:
compare ratios, and the CPU seconds beside the wall seconds):

* archcalc: ``archcalc.analyze(model, None, kwargs={name: (shape, dtype)}, convention="torch")``
  (the module is captured on meta tensors; the report includes the training and LLM figures);
* torchinfo: ``torchinfo.summary(model, input_data=inputs, verbose=0, **options)`` (a real CPU
  forward with hooks on every module).

Each tool's time on a model is the median of ``--repeat`` runs after one warm-up run (which
pays for first-call costs: lazy imports, caches). Models that fail in either tool are listed
apart and left out of the medians.

    python benchmarks/bench_sweep.py [--repeat 3] [--limit N] [--part I/N] [TYPE ...]

Two floors are timed beside the tools (:data:`FLOORS`): the model's forward on meta tensors
with torch alone (``meta``: what any meta-device analysis pays at least) and its real forward
under a dispatch mode that only runs each op (``ledger``: what any op-level ledger pays at least,
meta tensors or real ones). The ``meta`` floor fails on models whose forward reads values (most
mixture-of-experts routers), which archcalc analyses with a real pass; its median is over the
others.

Figures (main at ae8afd9, ``--repeat 3``, the whole sweep, idle 2-core machine): 458 models
timed, none failed; median wall archcalc 0.130 s against torchinfo 0.014 s (9.6x; CPU seconds
5.2x: torchinfo's real forward uses both cores); none over 5 s (slowest nemo_speechlm 3.8 s,
hrm_text 2.8 s, vits 2.2 s). The floors: the bare meta forward takes a median 0.043 s, 3.2x
torchinfo's median over the same 382 models, and archcalc 2.7x it; the empty ledger takes 0.0076 s,
0.55x torchinfo's median. So the goal of 0.5x is below both floors: below what torch's own meta
kernels take for one forward (most are Python: ``addmm``'s decomposition takes about 0.3 ms where
a real op on a tiny CPU tensor takes microseconds), and below one real forward with a ledger that
does nothing, where archcalc runs at least two forwards (the capture at a prime batch and the
training-mode measurement of saved activations; a third, with fused attention, where the model
calls SDPA). (The last full run, at 6ba04f2: archcalc 0.104 s, torchinfo 0.009 s, 11x.) At real
sizes the two meet (``bench_real_sizes.py``).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests import hf_sweep  # noqa: E402

#: a model over this many seconds in archcalc is flagged (the issue's limit)
SLOW_SECONDS = 5.0


def _timed(call, repeat: int) -> tuple[float, float]:
    """(median wall seconds, median CPU seconds) of ``repeat`` calls after one warm-up call."""
    call()
    wall, cpu = [], []
    for _ in range(repeat):
        start, start_cpu = time.perf_counter(), time.process_time()
        call()
        wall.append(time.perf_counter() - start)
        cpu.append(time.process_time() - start_cpu)
    return statistics.median(wall), statistics.median(cpu)


def bare_meta_forward(model, inputs: dict, options: dict | None = None):
    """A call that runs the model's forward on meta tensors with torch alone: the floor of any
    meta-device analysis. It is the forward archcalc's capture runs (the same meta copies of the
    parameters and buffers through ``torch.func.functional_call``, factories on meta, transformers'
    value checks skipped as under ``torch.export``), with none of archcalc's listeners and no memo:
    only torch's meta kernels and the model's own Python. The call returns forward's output."""
    import torch

    from archcalc.frontends.capture_guards import isolated_forward
    from archcalc.frontends.stand_ins import light_torch_imports

    tensors = dict(model.named_parameters())
    tensors.update(model.named_buffers())
    meta = {name: torch.empty_like(t, device="meta") for name, t in tensors.items()}
    keywords = {name: torch.zeros_like(t, device="meta") for name, t in inputs.items()}
    keywords.update(options or {})

    def call():
        with hf_sweep.quiet(), light_torch_imports(), isolated_forward(True), torch.no_grad():
            return torch.func.functional_call(model, meta, (), keywords, strict=False)

    return call


def bare_ledger_forward(model, inputs: dict, options: dict | None = None):
    """A call that runs the model's real forward (the CPU tensors as built, batch 1, no grad) with
    every aten op passing through a Python dispatch mode that does nothing but run it: what any
    op-level ledger pays at least, even one that gave up meta tensors for real ones. The call
    returns forward's output."""
    import torch
    from torch.utils._python_dispatch import TorchDispatchMode

    class RunOnly(TorchDispatchMode):
        def __torch_dispatch__(self, func, types, args=(), kwargs=None):
            return func(*args, **(kwargs or {}))

    def call():
        with hf_sweep.quiet(), torch.no_grad(), RunOnly():
            return model(**inputs, **(options or {}))

    return call


#: the floors timed beside the two tools: name -> (what it is, the call that runs it)
FLOORS = {
    "meta": ("bare meta forward (torch alone, no archcalc)", bare_meta_forward),
    "ledger": ("real forward under an empty dispatch mode", bare_ledger_forward),
}


def bench_one(built: hf_sweep.Built, repeat: int) -> dict[str, tuple[float, float] | None]:
    """Median (wall, CPU) seconds of archcalc, torchinfo and each of :data:`FLOORS` (None where
    that forward fails: a model that reads values archcalc analyses with a real pass)."""
    import torchinfo

    def archcalc_call():
        hf_sweep.analyze(built, 1)

    def torchinfo_call():
        with hf_sweep.quiet():
            torchinfo.summary(built.model, input_data=dict(built.inputs), verbose=0, device="cpu", **built.options)

    times = {"archcalc": _timed(archcalc_call, repeat), "torchinfo": _timed(torchinfo_call, repeat)}
    for name, (_, floor) in FLOORS.items():
        try:
            times[name] = _timed(floor(built.model, built.inputs, built.options), repeat)
        except Exception:  # noqa: BLE001  (this forward fails: left out of its floor's median)
            times[name] = None
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("types", nargs="*", help="model types (default: every one the sweep builds)")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--limit", type=int, default=None, help="stop after this many models that build")
    parser.add_argument("--part", default="0/1", help="I/N: every N-th model type from the I-th")
    options = parser.parse_args()
    index, count = (int(v) for v in options.part.split("/"))
    types = (options.types or hf_sweep.model_types())[index::count]
    rows, failed, skipped = [], [], 0
    for model_type in types:
        if options.limit is not None and len(rows) >= options.limit:
            break
        try:
            built = hf_sweep.build(model_type)
        except hf_sweep.Skip:
            skipped += 1
            continue
        try:
            times = bench_one(built, options.repeat)
        except Exception as error:  # noqa: BLE001  (listed apart)
            failed.append(f"{model_type}: {type(error).__name__}: {str(error).strip()[:120]}")
            continue
        rows.append((model_type, times))
        (aw, ac), (tw, tc) = times["archcalc"], times["torchinfo"]
        floors = "".join(f"   {name} {times[name][0]:6.3f} s" if times[name] else f"   {name}  fails"
                         for name in FLOORS)
        print(f"{model_type:<36} archcalc {aw:6.3f} s (cpu {ac:6.3f})   torchinfo {tw:6.3f} s (cpu {tc:6.3f})"
              f"   ratio {aw / tw:5.2f}x{floors}", flush=True)
    if not rows:
        print("no model built")
        return
    print(f"\n{len(rows)} models timed ({skipped} skipped: they do not build in the sweep; {len(failed)} failed)")
    for kind, at in (("wall", 0), ("cpu", 1)):
        ours = statistics.median(t["archcalc"][at] for _, t in rows)
        theirs = statistics.median(t["torchinfo"][at] for _, t in rows)
        ratios = statistics.median(t["archcalc"][at] / t["torchinfo"][at] for _, t in rows if t["torchinfo"][at])
        print(f"median {kind:<4}: archcalc {ours:.3f} s, torchinfo {theirs:.3f} s: archcalc / torchinfo "
              f"{ours / theirs:.2f}x (median of per-model ratios {ratios:.2f}x; goal <= 0.5x)")
    for name, (what, _) in FLOORS.items():
        timed = [(t[name][0], t["torchinfo"][0], t["archcalc"][0]) for _, t in rows if t[name]]
        if timed:
            floor = statistics.median(f for f, _, _ in timed)
            theirs = statistics.median(t for _, t, _ in timed)
            ours = statistics.median(a for _, _, a in timed)
            print(f"{name} floor, {what}, on the {len(timed)} models where it runs: median {floor:.4f} s = "
                  f"{floor / theirs:.2f}x torchinfo's median there ({theirs:.4f} s); archcalc's median there is "
                  f"{ours / floor:.2f}x it")
    print("slowest in archcalc:")
    for model_type, times in sorted(rows, key=lambda r: -r[1]["archcalc"][0])[:10]:
        print(f"  {model_type:<36} {times['archcalc'][0]:6.2f} s (torchinfo {times['torchinfo'][0]:.2f} s)")
    slow = [(m, t["archcalc"][0]) for m, t in rows if t["archcalc"][0] > SLOW_SECONDS]
    print(f"over {SLOW_SECONDS:g} s: " + (", ".join(f"{m} ({s:.1f} s)" for m, s in slow) if slow else "none"))
    for line in failed:
        print(f"failed: {line}")


if __name__ == "__main__":
    main()
