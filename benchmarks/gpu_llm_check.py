"""Prefill, decode and a training step of a small GPT-2-like model on a CUDA GPU, against archcalc.

Measures, in bf16:

* prefill of ``--tokens`` tokens for ``--batch`` sequences: time (CUDA events, best of
  ``--repeat``) and peak memory (``torch.cuda.max_memory_allocated``);
* decode of ``--new`` tokens one at a time with the KV cache: time per token, tokens/s, peak
  memory, and the size of ``past_key_values``;
* one training step (forward + backward, flash attention as SDPA picks it on CUDA): peak memory;
* the activations a training step keeps, under each recompute plan (``none``; ``selective``: every
  SDPA call wrapped in ``torch.utils.checkpoint``, the attention core recomputed in backward;
  ``full``: transformers' per-block gradient checkpointing): ``torch.cuda.memory_allocated()``
  after the forward minus before it, and ``torch.cuda.max_memory_allocated()`` of the step;
* the CUDA context (``total - free - memory_reserved`` from ``torch.cuda.mem_get_info``, with no
  other process on the GPU) and the allocator's reserve (``memory_reserved - max_memory_allocated``)

and compares them with archcalc's roofline (datasheet peaks of this GPU), KV cache and memory
predictions (weights + KV cache + peak live activations for inference; for training, the kept
activations of both profiles, "measured: CPU/meta kernels" and the "CUDA kernel profile", under
each recompute plan, and the ``--cuda-overhead`` default). The model's GELU is transformers'
``gelu_pytorch_tanh`` (``F.gelu(approximate="tanh")``, fused on CUDA), so that the CUDA profile
describes the step. Writes ``docs/verification/gpu-llm-<gpu>.md``.

    python benchmarks/gpu_llm_check.py --tokens 1024 --batch 8
    python benchmarks/gpu_llm_check.py --dry-run --layers 2 --width 128 --tokens 64   # no GPU: the plan only

Not run in this project's CI (no GPU there); run it where a GPU is available. ``--dry-run``
builds the model on the CPU and prints archcalc's figures for every row the GPU run would
compare, with the measured column empty (``tests/test_gpu_llm_check.py`` runs it).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import torch


def cuda_time(fn, repeat: int) -> float:
    """Best of ``repeat`` timings of ``fn`` in seconds (CUDA events)."""
    fn()
    torch.cuda.synchronize()
    best = float("inf")
    for _ in range(repeat):
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        start.record()
        fn()
        end.record()
        torch.cuda.synchronize()
        best = min(best, start.elapsed_time(end) / 1e3)
    return best


RECOMPUTE_PLANS = ("none", "selective", "full")
PROFILES = ("cpu", "cuda")


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tokens", type=int, default=1024)
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--new", type=int, default=64, help="tokens to decode")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--layers", type=int, default=12)
    parser.add_argument("--width", type=int, default=768)
    parser.add_argument("--out", type=Path, default=None)
    parser.add_argument("--dry-run", action="store_true",
                        help="no GPU: build on the CPU and print archcalc's side of every comparison")
    args = parser.parse_args(argv)
    if args.width % 64:
        parser.error(f"--width must be a multiple of 64 (heads of 64), got {args.width}")
    return args


def gpt_config(args):
    """The small GPT-2-like model both sides size: heads of 64, dropout on, the fused tanh GELU."""
    import transformers

    return transformers.GPT2Config(n_layer=args.layers, n_embd=args.width, n_head=args.width // 64,
                                   n_positions=max(1024, args.tokens + args.new), activation_function="gelu_pytorch_tanh")


def predicted_activations(model, args) -> dict[tuple[str, str], int]:
    """archcalc's kept activations of one training step, (profile, recompute) -> bytes: the measurement on
    CPU / meta kernels ("cpu", math attention as the CPU runs it) and the CUDA kernel profile ("cuda")."""
    from archcalc.llm.saved_tensors import FUSED, MATH, measure_saved_activations

    figures = {}
    step = {"kwargs": {"use_cache": False}, "batch": args.batch, "dtype": "bfloat16"}  # as the GPU step runs
    math = measure_saved_activations(model, f"{args.tokens}:int64", attention=MATH, **step)
    cuda = measure_saved_activations(model, f"{args.tokens}:int64", attention=FUSED, **step).cuda_profile()
    for profile, saved in (("cpu", math), ("cuda", cuda)):
        for plan in RECOMPUTE_PLANS:
            # after the forward of a full-recompute step only the block inputs and the outside are kept;
            # the one block recomputed at a time is live during backward (the step's peak)
            kept = saved.outside_bytes + sum(saved.block_input_bytes.values()) if plan == "full" else \
                saved.recomputed_bytes(plan)
            figures[(profile, plan)] = kept
    return figures


def dry_run(args) -> str:
    """The rows a GPU run compares, archcalc's side filled in, on the CPU."""
    import transformers

    from archcalc.llm.overheads import DEFAULT_CUDA_OVERHEAD

    model = transformers.GPT2LMHeadModel(gpt_config(args))
    figures = predicted_activations(model, args)
    lines = [f"# GPU check (dry run, no GPU): GPT-2-like, {args.layers} layers of {args.width}, bf16, batch "
             f"{args.batch}, {args.tokens} tokens", "", "| quantity | measured | archcalc |", "| --- | --- | --- |"]
    for (profile, plan), nbytes in figures.items():
        lines.append(f"| kept after forward, --recompute {plan}, {profile} profile | (GPU) | {nbytes:,} |")
    lines.append(f"| CUDA context + allocator reserve | (GPU) | {DEFAULT_CUDA_OVERHEAD:,} |")
    return "\n".join(lines) + "\n"


def kept_after_forward(model, ids, plan: str) -> tuple[int, int]:
    """(allocated after the forward - before, peak of the step - before) of one bf16 training step on CUDA
    under a recompute plan; gradients freed after."""
    import contextlib
    from unittest import mock

    import torch.nn.functional as F
    from torch.utils.checkpoint import checkpoint

    sdpa = F.scaled_dot_product_attention

    def recomputed_sdpa(*args, **kwargs):
        return checkpoint(sdpa, *args, use_reentrant=False, **kwargs)

    patch = mock.patch.object(F, "scaled_dot_product_attention", recomputed_sdpa) if plan == "selective" else \
        contextlib.nullcontext()
    if plan == "full":
        model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
    model.train()
    torch.cuda.synchronize()
    torch.cuda.reset_peak_memory_stats()
    base = torch.cuda.memory_allocated()
    with patch:
        loss = model(ids, use_cache=False).logits.float().sum()
        torch.cuda.synchronize()
        kept = torch.cuda.memory_allocated() - base
        loss.backward()
    torch.cuda.synchronize()
    peak = torch.cuda.max_memory_allocated() - base
    del loss
    model.zero_grad(set_to_none=True)
    if plan == "full":
        model.gradient_checkpointing_disable()
    return kept, peak


def main(argv=None) -> None:
    args = parse_args(argv)
    if args.dry_run:
        print(dry_run(args), end="")
        return
    if not torch.cuda.is_available():
        raise SystemExit("no CUDA GPU: this check measures on a GPU (--dry-run prints archcalc's side alone)")
    import transformers

    import archcalc
    from archcalc.llm.kv_cache import kv_cache
    from archcalc.llm.serving import serving
    from archcalc.verify.peaks import lookup_gpu

    device = torch.device("cuda")
    name = torch.cuda.get_device_name()
    peaks = lookup_gpu(name)
    config = gpt_config(args)
    cpu_model = transformers.GPT2LMHeadModel(config)
    figures = predicted_activations(cpu_model, args)
    model = cpu_model.to(device, torch.bfloat16).eval()
    free, total = torch.cuda.mem_get_info()
    context = total - free - torch.cuda.memory_reserved()  # the CUDA context (no other process on the GPU)
    ids = torch.randint(0, config.vocab_size, (args.batch, args.tokens), device=device)

    report = archcalc.analyze(model, f"{args.tokens}:int64", batch=args.batch, dtype="bfloat16")
    cache = kv_cache(report, args.tokens, args.batch, "bfloat16")
    predicted = serving(report, peaks, cache) if peaks else None

    # prefill
    torch.cuda.reset_peak_memory_stats()
    base = torch.cuda.memory_allocated()
    with torch.no_grad():
        prefill_s = cuda_time(lambda: model(ids, use_cache=True), args.repeat)
        out = model(ids, use_cache=True)
    prefill_peak = torch.cuda.max_memory_allocated() - base
    past = out.past_key_values
    past_bytes = sum(layer.keys.numel() * layer.keys.element_size() + layer.values.numel() * layer.values.element_size()
                     for layer in past.layers)

    # decode
    token = out.logits[:, -1:].argmax(-1)
    torch.cuda.synchronize()
    start = time.perf_counter()
    with torch.no_grad():
        for _ in range(args.new):
            out = model(token, past_key_values=past, use_cache=True)
            past = out.past_key_values
            token = out.logits[:, -1:].argmax(-1)
    torch.cuda.synchronize()
    decode_s = (time.perf_counter() - start) / args.new
    decode_peak = torch.cuda.max_memory_allocated() - base
    del out, past

    # training step
    model.train()
    torch.cuda.reset_peak_memory_stats()
    base = torch.cuda.memory_allocated()
    model(ids).logits.float().sum().backward()
    train_peak = torch.cuda.max_memory_allocated() - base
    trained = archcalc.analyze(model, f"{args.tokens}:int64", batch=args.batch, dtype="bfloat16")
    model.zero_grad(set_to_none=True)
    steps = {plan: kept_after_forward(model, ids, plan) for plan in RECOMPUTE_PLANS}
    slack = torch.cuda.memory_reserved() - torch.cuda.max_memory_allocated()

    weights = report.totals.param_bytes
    lines = [f"# GPU check: GPT-2-like, {args.layers} layers of {args.width}, bf16, {name}", "",
             f"batch {args.batch}, prompt {args.tokens} tokens, {args.new} decoded; archcalc "
             f"{archcalc.__version__}, torch {torch.__version__}, transformers {transformers.__version__}", "",
             "| quantity | measured | archcalc | ratio |", "| --- | --- | --- | --- |"]

    def row(what, measured, expected):
        ratio = f"{measured / expected:.2f}" if expected else "-"
        lines.append(f"| {what} | {measured:,.6g} | {expected:,.6g} | {ratio} |")

    row("KV cache bytes (past_key_values)", past_bytes, float(cache.total_bytes))
    if predicted is not None:
        row("prefill seconds", prefill_s, predicted.prefill.seconds)
        row("decode seconds per token", decode_s, predicted.decode.seconds)
        row("decode tokens/s", args.batch / decode_s, predicted.decode.tokens_per_s)
    row("prefill peak bytes over the weights", prefill_peak,
        float(cache.total_bytes) + report.totals.peak_activation_bytes)
    row("decode peak bytes over the weights", decode_peak, float(cache.total_bytes) * (1 + args.new / args.tokens))
    row("training step peak bytes over the weights (grads + saved)", train_peak,
        weights + (trained.totals.saved_activation_bytes or 0))
    from archcalc.llm.overheads import DEFAULT_CUDA_OVERHEAD

    for plan, (kept, peak) in steps.items():
        for profile in PROFILES:
            row(f"kept after forward, --recompute {plan}, {profile} profile", kept, figures[(profile, plan)])
        row(f"step peak over the weights, --recompute {plan} (grads + cuda profile)", peak,
            weights + figures[("cuda", plan)])
    row("CUDA context (total - free - reserved) + allocator reserve after the steps", context + slack,
        DEFAULT_CUDA_OVERHEAD)
    text = "\n".join(lines) + "\n"
    out_path = args.out or Path("docs/verification") / f"gpu-llm-{name.lower().replace(' ', '-')}.md"
    out_path.write_text(text, encoding="utf-8")
    print(text)


if __name__ == "__main__":
    main()
