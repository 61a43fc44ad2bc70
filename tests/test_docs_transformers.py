"""docs/transformers.md is real: every ```console block is run and its output compared, as the
README's are (tests/test_readme.py). After a deliberate change of the output, refresh it with

    ARCHCALC_UPDATE_DOCS=1 pytest tests/test_docs_transformers.py

and read the diff before committing it. The figures the prose quotes are checked below too.
"""

from __future__ import annotations

import os
import re
import shlex
from pathlib import Path

import pytest

pytest.importorskip("torch")
pytest.importorskip("transformers")

from typer.testing import CliRunner  # noqa: E402

from archcalc.cli import app, normalize_argv  # noqa: E402

DOC = Path(__file__).resolve().parent.parent / "docs" / "transformers.md"
BLOCK = re.compile(r"```console\n\$ (archcalc [^\n]*)\n(.*?)```", re.S)
WIDTH = "100"


def run(command: str) -> str:
    argv = shlex.split(command)[1:]
    result = CliRunner().invoke(app, normalize_argv(argv), env={"COLUMNS": WIDTH, "NO_COLOR": "1", "TERM": "dumb"})
    assert result.exit_code == 0, f"{command} exited {result.exit_code}:\n{result.output}"
    return "\n".join(line.rstrip() for line in result.stdout.splitlines()).strip("\n") + "\n"


def blocks() -> list[tuple[str, str]]:
    return BLOCK.findall(DOC.read_text(encoding="utf-8"))


def test_the_three_questions_are_asked():
    text = DOC.read_text(encoding="utf-8")
    for question in ("Does Llama-2-7B fine-tune on 8 GPUs with ZeRO-2?", "How big is the KV cache at 4k tokens?",
                     "How many tokens/s can an H100 decode?",
                     "Can I QLoRA-fine-tune Llama-3-70B on one 80 GB GPU?",
                     "How many 4k-token conversations does Mixtral-8x7B serve on 2 H100s in fp8?",
                     "Tensor-parallel 8 for Llama-3-70B training: memory per GPU?"):
        assert f"## {question}" in text
    assert len(blocks()) >= 5


@pytest.mark.parametrize("command, shown", blocks(), ids=[c for c, _ in blocks()])
def test_doc_example_output_is_real(command, shown):
    actual = run(command)
    if os.environ.get("ARCHCALC_UPDATE_DOCS"):
        text = DOC.read_text(encoding="utf-8")
        DOC.write_text(text.replace(f"$ {command}\n{shown}", f"$ {command}\n{actual}", 1), encoding="utf-8")
        return
    assert "\n".join(line.rstrip() for line in shown.splitlines()).strip("\n") + "\n" == actual


def test_quoted_figures():
    """The prose's numbers, from the formulas: Llama-2-7B has 6,738,415,616 parameters, 32 layers,
    32 heads of 128."""
    params = 6_738_415_616
    gib = 2**30
    states_zero2 = 2 * params + (2 + 12) * params / 8  # 2 B weights + (gradients + K = 12) / 8
    assert round(states_zero2 / gib, 1) == 23.5
    assert round(16 * params / gib) == 100  # ZeRO-0: 16 B per parameter
    per_token = 32 * 32 * (128 + 128) * 2  # layers x heads x (K + V widths) x bf16
    assert per_token == 512 * 2**10 and 4096 * per_token == 2 * gib
    seventy_per_token = 80 * 8 * (128 + 128) * 2  # Llama-2-70B: 80 layers, 8 key/value heads of 128
    assert seventy_per_token == 320 * 2**10
    assert 80 * 64 * (128 + 128) * 2 == 8 * seventy_per_token == 2.5 * 2**20  # one per query head (MHA)
    decode = (2 * params + 2 * gib) / 3.35e12  # weights + cache over the H100 SXM's bandwidth
    assert round(decode * 1e3, 1) == 4.7 or round(decode * 1e3, 1) == 4.6


def test_quoted_figures_of_the_new_questions():
    """QLoRA on Llama-3-70B (80 layers, 8192 wide, 64 / 8 heads of 128, MLP 28,672, vocab 128,256):
    NF4 is 4 + 8/64 + 32/(64 x 256) bits (QLoRA, section 3); rank-16 adapters on the 7 linear
    layers of each block; Mixtral's cache per token; TP 8's model states (16 B per parameter / 8)."""
    h, kv, inter, layers, vocab = 8192, 1024, 28672, 80, 128256
    linear = layers * (2 * h * h + 2 * h * kv + 3 * h * inter)
    total = 70_553_706_496
    adapters = layers * 16 * (2 * (h + h) + 2 * (h + kv) + 2 * (h + inter) + (inter + h))
    assert adapters == 207_093_760
    nf4 = 4 / 8 + 8 / 64 / 8 + 32 / (64 * 256) / 8
    base = linear * nf4 + (total - linear) * 2 + adapters * 2
    assert round(base / 2**30, 1) == 37.2
    assert round(adapters * (2 + 4) / 2**30, 1) == 1.2 and round(adapters * (2 + 2 + 4) / 2**30, 1) == 1.5
    assert 32 * 8 * (128 + 128) * 2 == 128 * 2**10 and 4096 * 128 * 2**10 == 512 * 2**20
    assert round(16 * total / 8 / 1e9, 1) == 141.1


def test_quoted_figures_of_recompute_and_profiles():
    """Korthikanti et al. 2022, Table 2, for GPT-3 175B (s = 2,048, b = 1, h = 12,288, a = 96), and the gaps
    of the CUDA profile the page names: layer norms' mean and rstd (2 x 2 x 4 s b), log-sum-exp (4 a s b)."""
    s, b, h, a = 2048, 1, 12288, 96
    text = DOC.read_text(encoding="utf-8")
    assert round(s * b * h * (34 + 5 * a * s / h) / 1e9, 2) == 2.87
    assert f"{34 * s * b * h / 1e9:.3g} GB" == "0.856 GB" and f"{2 * s * b * h / 1e9:.3g} GB" == "0.0503 GB"
    assert f"{34 * s * b * h:,} + {2 * 2 * 4 * s * b:,} + {4 * a * s * b:,} bytes" in text
    assert round(100 * (16 * s * b + 4 * a * s * b) / (34 * s * b * h), 1) == 0.1
    for figure in ("2.87 GB", "0.856 GB", "0.0503 GB", "512 MiB"):
        assert figure in text
