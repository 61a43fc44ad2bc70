"""benchmarks/gpu_llm_check.py without a GPU: it imports, parses its arguments, and its dry run prints
archcalc's side of every comparison a GPU run makes (no recompute / selective / full, both profiles)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")

SCRIPT = Path(__file__).resolve().parent.parent / "benchmarks" / "gpu_llm_check.py"


def _script():
    spec = importlib.util.spec_from_file_location("gpu_llm_check", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_dry_run_prints_every_plan_with_archcalcs_figures(capsys):
    check = _script()
    argv = ["--dry-run", "--layers", "2", "--width", "128", "--tokens", "32", "--batch", "2"]
    check.main(argv)
    out = capsys.readouterr().out
    rows = [line for line in out.splitlines() if line.startswith("| kept after forward")]
    assert len(rows) == 6
    figures = check.predicted_activations(transformers.GPT2LMHeadModel(check.gpt_config(check.parse_args(argv))),
                                          check.parse_args(argv))
    for (profile, plan), nbytes in figures.items():
        assert f"| kept after forward, --recompute {plan}, {profile} profile | (GPU) | {nbytes:,} |" in rows
    # the model a GPU runs: heads of 64, the fused tanh GELU; no s x s tensors kept under selective recompute
    b, t, h, layers = 2, 32, 128, 2
    for profile in ("cpu", "cuda"):
        assert figures[(profile, "none")] > figures[(profile, "selective")] > figures[(profile, "full")]
    # full recompute: the same block inputs; outside the blocks the embedding's dropout mask is 1 B, not 2 (bf16)
    assert figures[("cuda", "full")] == figures[("cpu", "full")] - b * t * h
    assert figures[("cuda", "selective")] < figures[("cpu", "selective")]  # 1-byte dropout masks
    # full recompute keeps each block's input (2 b t h in bf16) and what is saved outside the blocks
    assert figures[("cuda", "full")] >= layers * 2 * b * t * h
    assert "CUDA context + allocator reserve | (GPU) | 536,870,912 |" in out


def test_without_a_gpu_it_says_so():
    check = _script()
    if torch.cuda.is_available():
        pytest.skip("a GPU is here: the real check would run")
    with pytest.raises(SystemExit, match="no CUDA GPU"):
        check.main(["--layers", "1", "--width", "64", "--tokens", "8", "--batch", "1"])


def test_arguments_are_checked():
    check = _script()
    with pytest.raises(SystemExit):
        check.parse_args(["--width", "100"])
