"""torch.export (.pt2) and TorchScript (.pt) files: parameters and MACs equal the live module's
(archcalc.analyze on the nn.Module they were saved from); bad files get one or two lines."""

from __future__ import annotations

import warnings

import pytest

torch = pytest.importorskip("torch")
from torch import nn  # noqa: E402

from archcalc.api import analyze  # noqa: E402
from tests.torch_truth import trained  # noqa: E402


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 8, 3, padding=1)
        self.bn = nn.BatchNorm2d(8)
        self.fc = nn.Linear(8, 10)

    def forward(self, x):
        return self.fc(torch.relu(self.bn(self.conv(x))).mean((2, 3)))


def live_counts(module, shape=(3, 16, 16)):
    report = analyze(module, [shape])
    return report.totals.params, report.totals.macs


def test_pt2_with_a_dynamic_batch_goes_through_the_live_capture(tmp_path):
    module = Net().eval()
    program = torch.export.export(module, (torch.randn(2, 3, 16, 16),),
                                  dynamic_shapes=({0: torch.export.Dim("batch")},))
    torch.export.save(program, str(tmp_path / "net.pt2"))
    report = analyze(str(tmp_path / "net.pt2"))  # the input shape comes from the program
    assert (report.totals.params, report.totals.macs) == live_counts(module)
    assert report.totals.params == sum(p.numel() for p in module.parameters())


@pytest.mark.slow
def test_pt2_with_a_static_batch_is_read_through_onnx(tmp_path):
    """The live capture runs at a symbolic batch, which a static program refuses: its graph goes
    through torch.onnx.export (the dynamo exporter: about 3 s on first use, its import)."""
    pytest.importorskip("onnxscript")
    module = Net().eval()
    torch.export.save(torch.export.export(module, (torch.randn(2, 3, 16, 16),)), str(tmp_path / "static.pt2"))
    report = analyze(str(tmp_path / "static.pt2"))
    params, macs = live_counts(module)
    assert report.batch == 2
    assert report.totals.params == params
    assert report.totals.macs == 2 * macs
    assert any("torch.onnx.export" in w.message for w in report.warnings)


@pytest.mark.parametrize("how", ["script", "trace"])
def test_torchscript_equals_the_live_module(how, tmp_path):
    pytest.importorskip("onnx")
    module = trained(Net()).eval()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        scripted = torch.jit.script(module) if how == "script" else torch.jit.trace(module, torch.randn(1, 3, 16, 16))
    scripted.save(str(tmp_path / "net.pt"))
    report = analyze(str(tmp_path / "net.pt"), "1x3x16x16")
    assert (report.totals.params, report.totals.macs) == live_counts(module)
    assert report.totals.buffers == 16  # running mean and variance (num_batches_tracked is not exported)


def test_scripted_module_passed_live(tmp_path):
    pytest.importorskip("onnx")
    module = Net().eval()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        scripted = torch.jit.script(module)
    report = analyze(scripted, (3, 16, 16), batch=2)
    params, macs = live_counts(module)
    assert report.totals.params == params and report.totals.macs == 2 * macs


def test_bad_torch_files_get_one_or_two_lines(tmp_path, run_cli):
    module = Net().eval()
    torch.jit.script(module).save(str(tmp_path / "good.pt"))
    torch.save(module.state_dict(), str(tmp_path / "weights.pt"))
    (tmp_path / "text.pt2").write_text("not a program")
    (tmp_path / "truncated.pt").write_bytes(open(tmp_path / "good.pt", "rb").read()[:300])
    cases = {
        ("good.pt",): "records no input shapes",
        ("weights.pt", "--input", "1x3x16x16"): "not a TorchScript file",
        ("truncated.pt", "--input", "1x3x16x16"): "not a TorchScript file",
        ("text.pt2",): "not a torch.export program",
    }
    for (name, *options), fragment in cases.items():
        result = run_cli(str(tmp_path / name), *options)
        assert result.exit_code == 2, (name, result.output)
        assert result.stderr.startswith("error: ") and fragment in result.stderr, (name, result.stderr)
        assert len(result.stderr.strip().splitlines()) <= 2, result.stderr
