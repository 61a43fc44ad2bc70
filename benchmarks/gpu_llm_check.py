"""Prefill, decode and a training step of a small GPT-2-like model on a CUDA GPU, against archcalc.

Measures, in bf16:

* prefill of ``--tokens`` tokens for ``--batch`` sequences: time (CUDA events, best of
  ``--repeat``) and peak memory (``torch.cuda.max_memory_allocated``);
* decode of ``--new`` tokens one at a time with the KV cache: time per token, tokens/s, peak
  memory, and the size of ``past_key_values``;
* one training step (forward + backward, flash attention as SDPA picks it on CUDA): peak memory.

and compares them with archcalc's roofline (datasheet peaks of this GPU), KV cache and memory
predictions (weights + KV cache + peak live activations for inference; weights + gradients +
saved activations for training). Writes ``docs/verification/gpu-llm-<gpu>.md``.

    python benchmarks/gpu_llm_check.py --tokens 1024 --batch 8

Not run in this project's CI (no GPU there); run it where a GPU is available.
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tokens", type=int, default=1024)
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--new", type=int, default=64, help="tokens to decode")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--layers", type=int, default=12)
    parser.add_argument("--width", type=int, default=768)
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    if not torch.cuda.is_available():
        raise SystemExit("no CUDA GPU: this check measures on a GPU")
    import transformers

    import archcalc
    from archcalc.llm.kv_cache import kv_cache
    from archcalc.llm.serving import serving
    from archcalc.verify.peaks import lookup_gpu

    device = torch.device("cuda")
    name = torch.cuda.get_device_name()
    peaks = lookup_gpu(name)
    config = transformers.GPT2Config(n_layer=args.layers, n_embd=args.width, n_head=args.width // 64,
                                     n_positions=max(1024, args.tokens + args.new))
    model = transformers.GPT2LMHeadModel(config).to(device, torch.bfloat16).eval()
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
    text = "\n".join(lines) + "\n"
    out_path = args.out or Path("docs/verification") / f"gpu-llm-{name.lower().replace(' ', '-')}.md"
    out_path.write_text(text, encoding="utf-8")
    print(text)


if __name__ == "__main__":
    main()
