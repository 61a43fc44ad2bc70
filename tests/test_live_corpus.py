"""Tricky live modules, each against its truth from torch itself.

Parameters: tied weights, partially frozen layers, modules never called, a parameter used only
through einsum, a pruned layer. Inputs: several positional inputs, a dict input, keyword inputs,
token ids, example inputs from a file. Forwards that mix samples across the batch, call
sys.exit, or are TorchScript. The truths are ``named_parameters()`` (which counts a shared
tensor once), ``numel()``, real forward passes and ``torch.utils.flop_counter.FlopCounterMode``.
"""

from __future__ import annotations

import textwrap

import pytest

torch = pytest.importorskip("torch")

from torch import nn  # noqa: E402
from torch.utils.flop_counter import FlopCounterMode  # noqa: E402

from archcalc.errors import ArchcalcError  # noqa: E402
from archcalc.frontends import analyze_module  # noqa: E402


def parameters(module: nn.Module, trainable: bool = False) -> int:
    """What torch counts: every registered parameter once (named_parameters dedups shared ones)."""
    return sum(p.numel() for p in module.parameters() if p.requires_grad or not trainable)


def torch_flops(module: nn.Module, *args, **kwargs) -> int:
    counter = FlopCounterMode(display=False)
    with counter, torch.no_grad():
        module(*args, **kwargs)
    return counter.get_total_flops()


class Tied(nn.Module):
    def __init__(self):
        super().__init__()
        self.a = nn.Linear(16, 16)
        self.b = nn.Linear(16, 16)
        self.b.weight = self.a.weight

    def forward(self, x):
        return self.b(self.a(x))


def test_tied_weights_count_once_and_say_where():
    model = Tied()
    report = analyze_module(model, (16,))
    assert report.totals.params == parameters(model) == 16 * 16 + 16 + 16
    b = report.row("b")
    assert b.shares_params_with == "a" and b.params == 16 * 16 + 16  # the layer still uses all of them
    assert sum(row.owned_params for row in report.rows) == report.totals.params


def test_frozen_bias_alone_is_frozen():
    conv = nn.Conv2d(3, 8, 3)
    conv.bias.requires_grad_(False)
    report = analyze_module(conv, (3, 8, 8))
    assert report.totals.params == parameters(conv) == 224
    assert report.totals.trainable_params == parameters(conv, trainable=True) == 216
    # training memory: the frozen bias keeps no gradient and no optimizer state (float32, Adam)
    fixed = (224 - 216) * 4
    activations = report.totals.activation_bytes + report.totals.input_bytes
    assert report.totals.training_bytes["adam"] == 216 * 4 * 4 + fixed + activations


class Heads(nn.Module):
    def __init__(self):
        super().__init__()
        self.heads = nn.ModuleDict({"small": nn.Linear(8, 4), "large": nn.Linear(8, 64)})
        self.unused = nn.Conv2d(3, 3, 1)

    def forward(self, x, head: str = "small"):
        return self.heads[head](x)


def test_modules_never_called_count_in_the_totals():
    model = Heads()
    report = analyze_module(model, (8,))
    assert report.totals.params == parameters(model)
    assert {u.module: u.params for u in report.not_called} == {"heads.large": 8 * 64 + 64, "unused": 3 * 3 + 3}
    # said once, under the table (and in the JSON's not_called), not as a warning: the model is right
    from archcalc.render.table import sharing_lines

    said = [line.plain for line in sharing_lines(report)]
    assert any(text.startswith("not called in forward: heads.large") for text in said), said
    assert not any("never called" in str(w) for w in report.warnings)


class Einsum(nn.Module):
    def __init__(self):
        super().__init__()
        self.w = nn.Parameter(torch.randn(2, 8, 4))

    def forward(self, x):
        return torch.einsum("bhnd,hde->bhne", x, self.w)


def test_parameter_used_only_through_einsum():
    model = Einsum()
    report = analyze_module(model, (2, 6, 8), convention="torch")
    assert report.totals.params == parameters(model) == 64
    assert report.totals.macs == 2 * 6 * 8 * 4 == 384  # h * n * d * e per sample
    assert report.totals.flops == torch_flops(model, torch.randn(1, 2, 6, 8))
    assert report.rows[0].output_shape == tuple(model(torch.randn(1, 2, 6, 8)).shape[1:])


class Buffered(nn.Module):
    def __init__(self):
        super().__init__()
        self.register_buffer("basis", torch.randn(3, 5, 7))

    def forward(self, x):
        return torch.bmm(x, self.basis.expand(x.shape[0], 5, 7)[:1].expand(x.shape[0], -1, -1))


def test_matmul_against_a_constant_is_counted():
    class Project(nn.Module):
        def __init__(self):
            super().__init__()
            self.register_buffer("basis", torch.randn(5, 7))

        def forward(self, x):
            return x @ self.basis

    model = Project()
    report = analyze_module(model, (4, 5), convention="torch")
    assert report.totals.macs == 4 * 5 * 7
    assert report.totals.flops == torch_flops(model, torch.randn(1, 4, 5))
    assert report.totals.buffers == 35 and report.counts_status == "complete"


def test_pruned_layer_counts_its_real_tensors():
    from torch.nn.utils import prune

    model = nn.Sequential(nn.Linear(10, 6))
    prune.l1_unstructured(model[0], "weight", amount=0.5)
    report = analyze_module(model, (10,))
    assert report.totals.params == parameters(model) == 66  # weight_orig and bias
    assert report.totals.buffers == sum(b.numel() for b in model.buffers()) == 60  # weight_mask
    assert any("pruning masks" in str(w) for w in report.warnings)


class TwoInputs(nn.Module):
    def __init__(self):
        super().__init__()
        self.image = nn.Conv2d(3, 4, 3, padding=1)
        self.meta = nn.Linear(10, 4)

    def forward(self, x, side, *, scale: float = 1.0, mask=None):
        out = self.image(x).mean((2, 3)) + self.meta(side)
        return out * mask if mask is not None else out * scale


def test_several_positional_and_keyword_inputs():
    model = TwoInputs()
    report = analyze_module(model, [(3, 8, 8), (10,)], kwargs={"mask": (4,)}, convention="torch", batch=2)
    x, side, mask = torch.randn(2, 3, 8, 8), torch.randn(2, 10), torch.randn(2, 4)
    assert report.output_shape == tuple(model(x, side, mask=mask).shape[1:])
    assert report.totals.params == parameters(model)
    assert report.totals.flops == torch_flops(model, x, side, mask=mask)
    assert [i.name for i in report.inputs] == ["input", "input:1", "input:mask"]
    assert report.totals.input_bytes == 2 * (3 * 8 * 8 + 10 + 4) * 4


class DictInput(nn.Module):
    def __init__(self):
        super().__init__()
        self.proj = nn.Linear(6, 3)

    def forward(self, batch):
        return self.proj(batch["features"]) * batch["weights"]


def test_a_dict_input():
    model = DictInput()
    report = analyze_module(model, [{"features": (5, 6), "weights": (5, 3)}], convention="torch")
    sample = {"features": torch.randn(1, 5, 6), "weights": torch.randn(1, 5, 3)}
    assert report.output_shape == tuple(model(sample).shape[1:])
    assert report.totals.flops == torch_flops(model, sample)


class Tokens(nn.Module):
    def __init__(self, vocab=100, width=16):
        super().__init__()
        self.embed = nn.Embedding(vocab, width)
        self.head = nn.Linear(width, vocab, bias=False)
        self.head.weight = self.embed.weight

    def forward(self, ids):
        return self.head(self.embed(ids))


def test_token_ids_and_a_tied_head():
    model = Tokens()
    report = analyze_module(model, "12:int64", convention="torch")
    ids = torch.zeros(1, 12, dtype=torch.long)
    assert report.output_shape == tuple(model(ids).shape[1:])
    assert report.totals.params == parameters(model) == 100 * 16
    assert report.totals.input_bytes == 12 * 8  # int64 token ids
    assert report.totals.flops == torch_flops(model, ids)


def test_example_inputs_from_a_file(tmp_path, run_cli):
    (tmp_path / "net.py").write_text(textwrap.dedent(
        """
        import torch
        from torch import nn

        class Net(nn.Module):
            def __init__(self):
                super().__init__()
                self.a = nn.Linear(7, 3)
                self.b = nn.Linear(2, 3)

            def forward(self, x, y):
                return self.a(x) + self.b(y)

        def make_inputs():
            return torch.randn(4, 7), torch.randn(4, 2)
        """
    ))
    result = run_cli(f"{tmp_path}/net.py:Net", "--example", f"{tmp_path}/net.py:make_inputs", "--format", "json")
    assert result.exit_code == 0, result.output
    import json

    data = json.loads(result.stdout)
    assert data["totals"]["params"] == 7 * 3 + 3 + 2 * 3 + 3
    assert data["batch"] == 4  # the example's own batch (make_inputs gives 4 samples)
    assert data["totals"]["macs"] == 4 * (7 * 3 + 2 * 3)
    assert [i["shape"] for i in data["inputs"]] == [[7], [2]]
    result = run_cli(f"{tmp_path}/net.py:Net", "--input", "7", "--input", "2", "--format", "json")
    assert json.loads(result.stdout)["totals"]["macs"] == 7 * 3 + 2 * 3


def test_a_forward_that_mixes_samples_is_analysed_as_a_whole():
    class Gram(nn.Module):
        def forward(self, x):
            return x.matmul(x.t())

    model = Gram()
    report = analyze_module(model, (10,), batch=4, convention="torch")
    assert report.output_shape == tuple(model(torch.randn(4, 10)).shape) == (4, 4)
    assert report.totals.flops == torch_flops(model, torch.randn(4, 10)) == 2 * 4 * 4 * 10
    assert any("mixes samples" in str(w) for w in report.warnings)


def test_channels_are_read_from_what_the_model_accepts():
    class Doubles(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = nn.Conv2d(6, 8, 3)

        def forward(self, x):
            return self.conv(torch.cat([x, x], 1))

    report = analyze_module(Doubles(), "32x32x3")  # the first conv's 6 channels are not the input's
    assert report.input_shape == (3, 32, 32) and report.output_shape == (8, 30, 30)
    report = analyze_module(nn.Conv2d(3, 8, 3), "3x32x32")  # written C x H x W: the model says so
    assert report.input_shape == (3, 32, 32)
    assert any("C x H x W" in str(w) for w in report.warnings)


@pytest.mark.parametrize(
    "forward, message",
    [
        ("__import__('sys').exit(0)", "called sys.exit(0)"),
        ("raise ValueError('no such head: 3')", "ValueError: no such head: 3"),
    ],
)
def test_a_forward_that_exits_or_raises_is_a_two_line_error(tmp_path, run_cli, forward, message):
    (tmp_path / "bad.py").write_text(textwrap.dedent(
        f"""
        import torch

        class Net(torch.nn.Module):
            def forward(self, x):
                {forward}
        """
    ))
    result = run_cli(f"{tmp_path}/bad.py:Net", "--input", "4")
    assert result.exit_code == 2
    assert message in result.output and "Traceback" not in result.output
    assert "bad.py:" in result.output  # the file and the line of the forward
    assert len(result.output.strip().splitlines()) <= 3


def test_torchscript_is_refused_with_the_reason():
    scripted = torch.jit.script(nn.Linear(4, 2))
    with pytest.raises(ArchcalcError, match="TorchScript"):
        analyze_module(scripted, (4,))


def test_the_module_is_left_as_found():
    model = TwoInputs()
    model.train()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    hooks = (dict(model._forward_hooks), dict(model._forward_pre_hooks))
    analyze_module(model, [(3, 8, 8), (10,)], kwargs={"scale": 2.0})
    assert model.training and all(m.training for m in model.modules())
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())
    assert (dict(model._forward_hooks), dict(model._forward_pre_hooks)) == hooks
    assert {p.device.type for p in model.parameters()} == {"cpu"}
    assert {p.dtype for p in model.parameters()} == {torch.float32}


def test_no_heavy_torch_import_is_left_behind():
    """The capture stands in for torch._dynamo and sympy while it runs; afterwards torch is as it was."""
    import subprocess
    import sys

    code = textwrap.dedent(
        """
        import sys, torch
        from torch import nn
        from archcalc.frontends import analyze_module
        model = nn.Sequential(nn.Conv2d(3, 8, 3), nn.BatchNorm2d(8), nn.ReLU())
        analyze_module(model, (3, 16, 16))
        assert "torch._dynamo" not in sys.modules and "sympy" not in sys.modules, "heavy import"
        assert "_dynamo" not in vars(torch)
        compiled = torch.compile(nn.Linear(3, 2), backend="eager")  # the real dynamo still works
        print(tuple(compiled(torch.randn(1, 3)).shape))
        """
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip().endswith("(1, 2)")


def test_the_table_says_what_is_shared_and_what_forward_never_called():
    from archcalc.render.table import report_lines

    class Both(Heads):
        def __init__(self):
            super().__init__()
            self.tied = Tied()

        def forward(self, x):
            return self.tied(self.heads["small"](x).repeat(1, 4))

    text = "\n".join(str(line) for line in report_lines(analyze_module(Both(), (8,)), width=100))
    assert "shared parameters: tied.b with tied.a" in text
    assert "not called in forward: heads.large (576), unused (12)" in text


class ReadsValues(nn.Module):
    """A forward that reads a value (``.item()``): the meta capture cannot run it, the real fallback does."""

    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(64, 32)

    def forward(self, x):
        if x.abs().sum().item() >= 0:  # always true: the branch needs the value all the same
            x = x * 2
        return self.fc(x)


@pytest.mark.parametrize("budget, batch, whole", [(None, 1, False), (1000, 1, True), (1000, 6, False)],
                         ids=["cheap: per sample", "costly: whole batch", "costly, batch over the prime"])
def test_a_costly_real_fallback_captures_the_whole_batch(monkeypatch, budget, batch, whole):
    """The real fallback finds the batch axis with a real forward at a batch prime (5 here): that
    costs the prime times the batch-1 forward. Past ``REAL_PRIME_FLOPS`` (and when the batch asked
    for is smaller than the prime) the whole batch is captured as it is, with a note; the FLOPs
    agree with FlopCounterMode on a real forward at that batch either way."""
    from archcalc.frontends import torch_module

    if budget is not None:
        monkeypatch.setattr(torch_module, "REAL_PRIME_FLOPS", budget)
    model = ReadsValues()
    report = analyze_module(model, (64,), batch=batch, convention="torch")
    notes = [str(w) for w in report.warnings if w.kind == "whole batch"]
    assert any("real forward" in str(w) for w in report.warnings)
    assert report.totals.flops == torch_flops(model, torch.randn(batch, 64)) == batch * 2 * 64 * 32
    if whole:
        assert len(notes) == 1 and f"5 x {2 * 64 * 32 / 1000:.2f}K FLOPs" in notes[0], notes
        assert report.output_shape == tuple(model(torch.randn(batch, 64)).shape) == (batch, 32)
    else:
        assert not notes
        assert report.output_shape == tuple(model(torch.randn(batch, 64)).shape[1:]) == (32,)
