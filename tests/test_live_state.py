"""A live model is left exactly as found, and its forward reaches nothing outside the analysis
(issue 16's "the model must never be changed", issue 20 §4).

Truths: the model's own tensors and attributes before the analysis (identity, device, values),
torch's RNG state, what the user's next forward gives, stdout as the process sees it, and a
child process's exit status and time for --timeout and Ctrl-C.
"""

from __future__ import annotations

import json
import random
import signal
import subprocess
import sys
import textwrap
import time

import pytest

torch = pytest.importorskip("torch")
from torch import nn  # noqa: E402
from typer.testing import CliRunner  # noqa: E402

import archcalc  # noqa: E402
from archcalc.cli import app, normalize_argv  # noqa: E402
from archcalc.frontends import ModuleError  # noqa: E402


def run_cli(*argv: str):
    return CliRunner().invoke(app, normalize_argv(list(argv)), env={"COLUMNS": "100", "NO_COLOR": "1"})


def state(model: nn.Module) -> dict:
    """Every tensor under every name (identity, device, dtype, values), attributes and flags."""
    tensors = {}
    for prefix, sub in model.named_modules(remove_duplicate=False):
        for name, tensor in list(sub._parameters.items()) + list(sub._buffers.items()):
            if tensor is not None:
                tensors[f"{prefix}.{name}"] = (id(tensor), tensor.device.type, tensor.dtype,
                                               tensor.detach().clone())
    attributes = {prefix: (type(sub), sorted(sub.__dict__), sub.training)
                  for prefix, sub in model.named_modules(remove_duplicate=False)}
    return {"tensors": tensors, "attributes": attributes}


def assert_same(before: dict, after: dict) -> None:
    assert before["attributes"] == after["attributes"]
    assert before["tensors"].keys() == after["tensors"].keys()
    for key, (ident, device, dtype, values) in before["tensors"].items():
        now = after["tensors"][key]
        assert (ident, device, dtype) == now[:3], key
        assert torch.equal(values, now[3]), key


class TwoNames(nn.Module):
    """timm's coat_lite_tiny pattern: one submodule registered under two names."""

    def __init__(self):
        super().__init__()
        self.a = nn.Linear(4, 4)
        self.b = self.a
        self.register_buffer("steps", torch.zeros((), dtype=torch.long))

    def forward(self, x):
        self.cache = x * 2  # an attribute set in forward: a meta tensor must not stay behind
        return self.b(x)


def test_a_module_under_two_names_is_left_as_found_and_runs_after():
    torch.manual_seed(0)
    model = TwoNames().train()
    before = state(model)
    x = torch.randn(3, 4)
    expected = model(x)
    del model.cache
    report = archcalc.analyze(model, "4")
    assert report.totals.params == sum(p.numel() for p in model.parameters())
    assert_same(before, state(model))
    assert model.training and model.a.training
    assert torch.equal(model(x), expected)  # the next real forward works and gives the same


def test_the_random_state_is_restored():
    class Noisy(nn.Module):
        def __init__(self):
            super().__init__()
            self.l = nn.Linear(4, 4)

        def forward(self, x):
            if x.sum() > 0:  # a value: the real fallback runs, drawing a random input
                return self.l(x) + torch.rand(1)
            return self.l(x)

    model = Noisy()  # made first: initialising its weights draws from the generator
    torch.manual_seed(1)
    random.seed(1)
    torch_state, python_state = torch.get_rng_state(), random.getstate()
    archcalc.analyze(model, "4")
    assert torch.equal(torch.get_rng_state(), torch_state)
    assert random.getstate() == python_state


def test_the_real_fallback_runs_on_copies_of_the_weights():
    class InPlace(nn.Module):
        """Updates its weight and a buffer in place, and reads a value (.item())."""

        def __init__(self):
            super().__init__()
            self.l = nn.Linear(4, 4)
            self.register_buffer("seen", torch.zeros(()))

        def forward(self, x):
            with torch.no_grad():
                self.l.weight.mul_(2)
                self.seen += x.shape[0]
            scale = float(x.abs().max().item()) + 1.0
            return self.l(x) / scale

    model = InPlace()
    before = state(model)
    report = archcalc.analyze(model, "4")
    assert any(w.kind == "capture" for w in report.warnings)  # the fallback ran, and said so
    assert_same(before, state(model))


def test_a_submodule_built_in_forward_is_not_left_behind():
    class BuiltLate(nn.Module):
        def __init__(self):
            super().__init__()
            self.proj = None

        def forward(self, x):
            if self.proj is None:
                self.proj = nn.Linear(x.shape[-1], 4)
            return self.proj(x)

    model = BuiltLate()
    report = archcalc.analyze(model, "8")
    assert report.totals.params == 8 * 4 + 4  # counted as it ran
    assert model.proj is None  # and not left on the model, on meta
    assert model(torch.randn(2, 8)).shape == (2, 4)


def test_lazy_modules_are_refused_with_a_reason(tmp_path):
    model = nn.Sequential(nn.LazyLinear(4))
    with pytest.raises(ModuleError, match="lazy modules \\(LazyLinear\\)"):
        archcalc.analyze(model, "8")
    (tmp_path / "lazy.py").write_text("import torch.nn as nn\nclass Net(nn.Sequential):\n"
                                      "    def __init__(self):\n        super().__init__(nn.LazyLinear(4))\n")
    result = run_cli(f"{tmp_path}/lazy.py:Net", "--input", "8")
    assert result.exit_code == 2
    assert "Traceback" not in result.output and len(result.output.strip().splitlines()) <= 3


SEEN_DEVICES: list[str] = []


class Factories(nn.Module):
    def __init__(self):
        super().__init__()
        self.l = nn.Linear(4, 4)

    def forward(self, x):
        big = torch.zeros(50_000, 50_000, device="cpu")  # 10 GB if it were real
        SEEN_DEVICES.append(big.device.type)
        print("a print in forward")
        return self.l(x) + big[:1, :4]


def test_factories_that_name_a_device_stay_on_meta_and_prints_go_to_stderr(capsys):
    SEEN_DEVICES.clear()
    report = archcalc.analyze(Factories(), "4")
    assert SEEN_DEVICES and set(SEEN_DEVICES) == {"meta"}
    assert report.output_shape == (4,)
    captured = capsys.readouterr()
    assert captured.out == ""
    assert "a print in forward" in captured.err


def test_json_on_stdout_stays_json_when_forward_prints(tmp_path):
    (tmp_path / "chatty.py").write_text(textwrap.dedent("""
        import torch.nn as nn
        class Net(nn.Module):
            def __init__(self):
                super().__init__()
                self.l = nn.Linear(4, 2)
            def forward(self, x):
                print("shapes:", tuple(x.shape))
                return self.l(x)
    """))
    result = subprocess.run([sys.executable, "-m", "archcalc", f"{tmp_path}/chatty.py:Net", "--input", "4",
                             "-f", "json"], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["totals"]["params"] == 4 * 2 + 2
    assert "shapes:" in result.stderr


FOREVER = textwrap.dedent("""
    import torch.nn as nn
    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.l = nn.Linear(4, 4)
        def forward(self, x):
            while True:
                try:
                    x = self.l(x)
                except Exception:  # a forward that swallows errors cannot swallow the time limit
                    pass
""")


def test_timeout_ends_a_forward_that_never_ends(tmp_path):
    (tmp_path / "forever.py").write_text(FOREVER)
    start = time.monotonic()
    result = subprocess.run([sys.executable, "-m", "archcalc", f"{tmp_path}/forever.py:Net", "--input", "4",
                             "--timeout", "2"], capture_output=True, text=True, timeout=120)
    assert result.returncode == 2
    assert "--timeout 2 s" in result.stderr and "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) <= 2
    assert time.monotonic() - start < 60


def test_ctrl_c_ends_the_run_promptly(tmp_path):
    (tmp_path / "forever.py").write_text(FOREVER)
    child = subprocess.Popen([sys.executable, "-m", "archcalc", f"{tmp_path}/forever.py:Net", "--input", "4"],
                             stderr=subprocess.PIPE, text=True,
                             preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    time.sleep(6)  # importing torch and entering the forward
    child.send_signal(signal.SIGINT)
    sent = time.monotonic()
    _, err = child.communicate(timeout=60)
    assert child.returncode == 130
    assert time.monotonic() - sent < 10
    assert "Traceback" not in err and err.strip() == "archcalc: interrupted"
