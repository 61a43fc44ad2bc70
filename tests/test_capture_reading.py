"""What a live capture reports besides the counts (issue 16): every output forward returns,
named; the batch prime chosen against the model's own sizes; the ledger check against torch's
flop formulas; and what the table shows for a live model (views folded, H x W x C for image
maps only, no receptive field once tokens or attention mix positions).

Truths: the real forward's outputs, torch's FlopCounterMode, and the model code written in the
test (which sizes it produces, which axes it permutes).
"""

from __future__ import annotations

import json

import pytest

torch = pytest.importorskip("torch")
from torch import nn  # noqa: E402
from torch.utils.flop_counter import FlopCounterMode  # noqa: E402
from typer.testing import CliRunner  # noqa: E402

import archcalc  # noqa: E402
from archcalc.cli import app, normalize_argv  # noqa: E402
from archcalc.frontends import capture_guards, torch_ops  # noqa: E402
from tests.test_capture_patterns import Pooler  # noqa: E402


def run_cli(*argv: str):
    return CliRunner().invoke(app, normalize_argv(list(argv)), env={"COLUMNS": "120", "NO_COLOR": "1"})


class Pooled(Pooler):
    """A Hugging Face-style encoder (test_capture_patterns.Pooler) returning a dict: the hidden
    states and the pooled first token, by name."""

    def forward(self, x):
        hidden, pooled = super().forward(x)
        return {"last_hidden_state": hidden, "pooler_output": pooled}


def test_every_output_forward_returns_is_reported_by_name():
    model = Pooled()
    out = model(torch.randn(3, 5, 8))
    report = archcalc.analyze(model, (5, 8), batch=3)
    named = {o.name: o for o in report.outputs}
    assert set(named) == set(out)
    for name, tensor in out.items():
        assert named[name].batch_shape(3) == tuple(tensor.shape)
        assert tuple(named[name].shape) == tuple(tensor.shape[1:])
    assert report.output_shape == tuple(out["last_hidden_state"].shape[1:])  # the first, not the last op
    exported = report.to_dict()["outputs"]
    assert [o["name"] for o in exported] == list(out)
    assert exported[1]["batch_shape"] == list(out["pooler_output"].shape)


def test_the_batch_prime_divides_no_size_the_model_makes():
    """A model whose one-sample sizes include 97 and 89 (multiples too) is captured at the next prime."""

    class Sized(nn.Module):
        def __init__(self):
            super().__init__()
            self.a = nn.Linear(97, 2 * 89)

        def forward(self, x):
            return self.a(x).reshape(-1, 2, 89)

    probe = capture_guards.SizeProbe()
    with torch.device("meta"), probe:
        Sized().to("meta")(torch.empty(1, 97, device="meta"))
    chosen = capture_guards.first_free_prime(probe.sizes, capture_guards.META_CANDIDATES)
    assert chosen not in (97, 89) and all(size % chosen for size in probe.sizes if size > 1)
    model = Sized()
    x = torch.randn(2, 97)
    with FlopCounterMode(display=False) as counter:
        out = model(x)
    report = archcalc.analyze(model, (97,), batch=2, convention="torch")
    assert report.totals.flops == counter.get_total_flops()
    assert report.outputs[0].batch_shape(2) == tuple(out.shape)


def test_the_ledger_says_when_a_row_misses_what_torch_counts(monkeypatch):
    """Take the matmul family's bmm handler away: the op is no longer priced, and the capture's own
    check against torch's formulas says by how much (never a silent difference)."""

    class Scores(nn.Module):
        def forward(self, q):
            return torch.bmm(q, q.transpose(1, 2))

    original = torch_ops.aten_specs

    def without_bmm(call):
        return None if call.name == "bmm" else original(call)

    monkeypatch.setattr(torch_ops, "aten_specs", without_bmm)
    monkeypatch.setattr(torch_ops, "function_specs", lambda call: None)
    report = archcalc.analyze(Scores(), (6, 4), convention="torch")
    ledger = [w for w in report.warnings if w.kind == "ledger"]
    expected = 2 * 6 * 6 * 4  # one sample's bmm, 2 FLOPs per MAC, at the capture's batch prime below
    assert len(ledger) == 1
    text = str(ledger[0])
    batch = int(text.split("batch of ")[1].split()[0])
    assert f"{expected * batch:,}" in text


def test_a_correct_capture_carries_no_ledger_warning():
    model = nn.Sequential(nn.Conv2d(3, 8, 3), nn.ReLU(), nn.Flatten(), nn.Linear(8 * 6 * 6, 10))
    report = archcalc.analyze(model, "8x8x3", convention="torch")
    assert not [w for w in report.warnings if w.kind == "ledger"]


class Tokens(nn.Module):
    """Patches to tokens, attention over them, channels-last inside: no rectangle after the flatten."""

    def __init__(self):
        super().__init__()
        self.patch = nn.Conv2d(3, 16, 4, 4)
        self.attn = nn.MultiheadAttention(16, 2, batch_first=True)
        self.head = nn.Linear(16, 10)

    def forward(self, x):
        t = self.patch(x).flatten(2).transpose(1, 2)
        t = t + self.attn(t, t, t, need_weights=False)[0]
        return self.head(t.mean(1))


def test_receptive_field_only_while_the_tensor_is_an_image():
    report = archcalc.analyze(Tokens(), "16x16x3")
    assert tuple(report.row("patch").rf.size) == (4, 4)  # the 4x4/4 patch conv: a 4-pixel field
    after = [row for row in report.rows if row.name != "patch"]
    assert after and all(row.rf is None for row in after)
    assert not [w for w in report.warnings if w.kind in ("rf", "advice")]


def test_the_table_folds_views_and_keeps_pytorch_order_for_tokens(tmp_path):
    (tmp_path / "tokens.py").write_text(
        "import torch, torch.nn as nn\n" + "\n".join(
            line for line in __import__("inspect").getsource(Tokens).splitlines()) + "\n")
    result = run_cli(f"{tmp_path}/tokens.py:Tokens", "--input", "16x16x3")
    assert result.exit_code == 0, result.output
    text = result.output
    views = [row for row in archcalc.analyze(Tokens(), "16x16x3").rows
             if row.op in ("movement", "reshape") and not row.params and not row.macs]
    assert f"{len(views)} views (permute, reshape, slicing" in text
    assert "4x4x16" in text  # the patch conv's output, an image: H x W x C
    assert "16x16 " in text or "16x16\n" in text  # 16 tokens of 16 features, PyTorch's order
    every = run_cli(f"{tmp_path}/tokens.py:Tokens", "--input", "16x16x3", "--all")
    assert "views (permute" not in every.output
    assert len(every.output.splitlines()) == len(text.splitlines()) + len(views) - 1


def test_example_inputs_keep_their_batch(tmp_path):
    (tmp_path / "net.py").write_text(
        "import torch, torch.nn as nn\n"
        "class Net(nn.Linear):\n    def __init__(self):\n        super().__init__(4, 2)\n"
        "def make_inputs():\n    return torch.randn(5, 4)\n")
    result = run_cli(f"{tmp_path}/net.py:Net", "--example", f"{tmp_path}/net.py:make_inputs", "-f", "json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["batch"] == 5
    assert data["totals"]["macs"] == 5 * 4 * 2


class _Dims(nn.Module):
    """torch.cat on channels (dim=1) of an image, and on the last axis (dim=-1) of tokens, and a
    softmax over dim=-1: the table names each dim as written, not archcalc's per-sample axis."""

    def __init__(self):
        super().__init__()
        self.a, self.b = nn.Conv2d(3, 4, 3, padding=1), nn.Conv2d(3, 5, 3, padding=1)
        self.p, self.q = nn.Linear(8, 4), nn.Linear(8, 5)

    def forward(self, x):
        image = torch.cat([self.a(x), self.b(x)], dim=1)
        tokens = image.flatten(2).transpose(1, 2)[..., :8]
        return torch.cat([self.p(tokens), self.q(tokens)], dim=-1).softmax(dim=-1)


@pytest.mark.parametrize("convention", ["macs", "torch"])
def test_the_table_names_each_dim_as_written(convention):
    from archcalc.report import describe_attrs

    report = archcalc.analyze(_Dims(), "3x8x8", convention=convention)
    shown = {row.name: f"{row.op} {describe_attrs(row.op, row.attrs)}" for row in report.rows}
    concats = [text for name, text in shown.items() if text.startswith("concat")]
    assert concats == ["concat dim=1", "concat dim=-1"], shown
    assert any(text == "softmax dim=-1" for text in shown.values()), shown
    assert not any("axis=" in text for text in shown.values()), shown
