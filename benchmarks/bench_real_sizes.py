"""Time ``archcalc.analyze`` against ``torchinfo.summary`` on full-size transformers models.

The sweep (``bench_sweep.py``) shrinks every architecture to 1-2 layers, where a real CPU
forward takes milliseconds and fixed costs decide. This benchmark takes the sizes users
analyse: the published configs of BERT-base, GPT-2, ViT-B/16, ConvNeXt-T, T5-small and a
Llama-style decoder (SmolLM-135M's config: 30 layers, GQA), built from their configs with random
real weights on the CPU (no download), at 128 tokens or a 224 x 224 image. Both tools run in
this one process on the same model and the same input, alternating (the machine may be shared:
compare the ratios, and the CPU seconds beside the wall seconds):

* archcalc: ``archcalc.analyze(model, input, convention="torch")`` (meta capture, training and
  LLM figures included);
* torchinfo: ``torchinfo.summary(model, input_data=..., verbose=0)`` (a real CPU forward with
  hooks on every module).

Each figure is the median of ``--repeat`` runs after one warm-up run. ``--no-memo`` turns off
archcalc's memo of meta kernels (``archcalc/frontends/meta_memo.py``) to show what it saves.

    python benchmarks/bench_real_sizes.py [--repeat 3] [--no-memo] [NAME ...]

Beside them, the floor of any meta-device analysis: the model's forward on meta tensors with
torch alone (``bench_sweep.bare_meta_forward``).

Figures (2026-12-07, main at ae8afd9, idle 2-core machine, ``--repeat 3``; wall seconds, archcalc /
torchinfo / bare meta forward): BERT-base 0.19 / 0.37 / 0.15, GPT-2 0.26 / 0.42 / 0.14, ViT-B/16
0.17 / 0.34 / 0.13, ConvNeXt-T 0.17 / 0.15 / 0.10, T5-small 0.33 / 0.15 / 0.14, SmolLM-135M 0.63 /
0.42 / 0.31: median ratio archcalc / torchinfo 0.86x, bare meta forward / torchinfo 0.54x.
torchinfo's times vary most from run to run (its real forward uses both cores): an earlier run the
same day gave BERT-base 0.19 / 0.24 and GPT-2 0.22 / 0.33.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_sweep import _timed, bare_meta_forward  # noqa: E402  (median wall and CPU seconds after a warm-up call)

TOKENS = 128

#: name -> (config class, published config values, model class, input kind)
MODELS = {
    "bert-base": ("BertConfig", {}, "BertModel", "tokens"),
    "gpt2": ("GPT2Config", {}, "GPT2LMHeadModel", "tokens"),
    "vit-b16": ("ViTConfig", {}, "ViTModel", "image"),
    "convnext-t": ("ConvNextConfig", {"depths": [3, 3, 9, 3], "hidden_sizes": [96, 192, 384, 768]}, "ConvNextModel",
                   "image"),
    "t5-small": ("T5Config", {"d_model": 512, "d_ff": 2048, "num_layers": 6, "num_heads": 8}, "T5Model", "seq2seq"),
    "smollm-135m": ("LlamaConfig", {"hidden_size": 576, "intermediate_size": 1536, "num_hidden_layers": 30,
                                    "num_attention_heads": 9, "num_key_value_heads": 3, "vocab_size": 49152,
                                    "tie_word_embeddings": True}, "LlamaForCausalLM", "tokens"),
}


def build(name: str):
    import torch
    import transformers

    config_name, values, model_name, kind = MODELS[name]
    config = getattr(transformers, config_name)(**values)
    torch.manual_seed(0)
    model = getattr(transformers, model_name)(config).eval()
    if kind == "image":
        return model, {"pixel_values": ((3, 224, 224), "float32")}, {"pixel_values": torch.randn(1, 3, 224, 224)}
    ids = {"input_ids": ((TOKENS,), "int64")}
    real = {"input_ids": torch.zeros(1, TOKENS, dtype=torch.int64)}
    if kind == "seq2seq":
        ids["decoder_input_ids"] = ((TOKENS,), "int64")
        real["decoder_input_ids"] = torch.zeros(1, TOKENS, dtype=torch.int64)
    return model, ids, real


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("names", nargs="*", help=f"models (default: all of {', '.join(MODELS)})")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--no-memo", action="store_true", help="turn off archcalc's memo of meta kernels")
    options = parser.parse_args()
    import torch
    import torchinfo

    import archcalc
    from archcalc.frontends import meta_memo

    if options.no_memo:
        meta_memo._admitted = lambda func: False
    ratios, floors = [], []
    for name in options.names or MODELS:
        model, kwargs, real = build(name)

        def archcalc_call():
            with contextlib.redirect_stderr(io.StringIO()):
                archcalc.analyze(model, None, kwargs=kwargs, convention="torch")

        def torchinfo_call():
            with torch.no_grad():
                torchinfo.summary(model, input_data=real, verbose=0, device="cpu")

        ours = _timed(archcalc_call, options.repeat)
        theirs = _timed(torchinfo_call, options.repeat)
        floor = _timed(bare_meta_forward(model, real), options.repeat)
        ratios.append(ours[0] / theirs[0])
        floors.append(floor[0] / theirs[0])
        print(f"{name:12s} archcalc {ours[0]:6.2f} s (cpu {ours[1]:6.2f})   torchinfo {theirs[0]:6.2f} s "
              f"(cpu {theirs[1]:6.2f})   ratio {ours[0] / theirs[0]:5.2f}x   bare meta forward {floor[0]:6.2f} s "
              f"({floor[0] / theirs[0]:.2f}x torchinfo)", flush=True)
        del model
    print(f"median ratio archcalc / torchinfo (wall): {statistics.median(ratios):.2f}x; "
          f"bare meta forward / torchinfo: {statistics.median(floors):.2f}x")


if __name__ == "__main__":
    main()
