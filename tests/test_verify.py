"""``archcalc verify``: every zoo model holds against a real forward pass, fvcore, torch's flop
counter and the profiler; a wrong rule is caught and named; JSON carries every check.

Expected values come from torch itself (the real forward pass, ``numel()``, the counters)
or from published numbers (torchvision's parameter counts); never from our own output.
"""

from __future__ import annotations

import json
import textwrap

import pytest

from archcalc.api import load_graph
from archcalc.errors import ArchcalcError
from archcalc.zoo import zoo_names

torch = pytest.importorskip("torch")
pytest.importorskip("fvcore")

from archcalc.layers.conv import ConvRule  # noqa: E402
from archcalc.verify import verify  # noqa: E402

torch.set_num_threads(2)

#: every check verify makes, by kind
CHECKS = {
    "structure": {"output shapes", "parameters per layer", "parameter total"},
    "flops": {
        "torch flop counter total",
        "torch flop counter per layer",
        "fvcore total",
        "fvcore per layer",
        "profiler conv/matmul total",
        "profiler conv/matmul per layer",
    },
    "memory": {"peak memory", "allocation per layer"},
    "timing": {"time"},
}


def small_input(name: str) -> str | None:
    """64x64x3 where the spec takes it; 64 tokens for a token model; else the spec's own input (lenet5's
    32x32x1, mobilenet_v1's 224)."""
    for size in ("64x64x3", "64"):
        try:
            load_graph(name, input=size)
        except ArchcalcError:
            continue
        return size
    return None


def verify_json(run_cli, *args: str) -> tuple[int, dict]:
    result = run_cli("verify", *args, "--format", "json")
    return result.exit_code, json.loads(result.stdout)


#: 6.7B parameters (27 GB in float32) do not fit the test machine; tests/test_llm_zoo.py compares it on meta
TOO_LARGE = {"llama2_7b"}


@pytest.mark.parametrize("name", [name for name in zoo_names() if name not in TOO_LARGE])
def test_zoo_model_verifies_on_cpu(run_cli, name):
    size = small_input(name)
    code, data = verify_json(run_cli, name, *(["--input", size] if size else []), "--no-timing")
    gating = [c for c in data["checks"] if c["kind"] in ("structure", "flops")]
    failing = [f"{c['name']}: {c['summary']} {c['details']}" for c in gating if c["status"] != "pass"]
    assert not failing, "\n".join(failing)
    assert code == 0 and data["passed"] and data["exit_code"] == 0
    assert {c["name"] for c in gating} == CHECKS["structure"] | CHECKS["flops"]
    assert all(layer["shape_ok"] and layer["params_ok"] for layer in data["layers"])


def test_json_has_every_check_and_the_numbers_hold(run_cli):
    code, data = verify_json(run_cli, "resnet18", "--input", "32x32x3", "--repeat", "1", "--warmup", "0")
    assert code == 0
    by_kind: dict[str, set[str]] = {}
    for check in data["checks"]:
        by_kind.setdefault(check["kind"], set()).add(check["name"])
        assert check["status"] in ("pass", "info"), check
        assert set(check) >= {"predicted", "measured", "ratio", "unit", "summary", "details", "layers"}
    assert by_kind == CHECKS
    checks = {c["name"]: c for c in data["checks"]}
    # torchvision's published parameter count of resnet18 (torchvision.models docs: 11,689,512)
    assert checks["parameter total"]["measured"] == 11_689_512
    assert checks["output shapes"]["measured"] == len(data["layers"]) == 69
    # every layer carries predicted and measured numbers of every check
    for layer in data["layers"]:
        assert layer["measured_output_shape"] == layer["output_shape"]
        assert layer["measured_fvcore_flops"] == layer["fvcore_flops"]
        assert layer["measured_torch_flops"] == layer["torch_flops"]
        assert layer["measured_profiler_flops"] == layer["profiler_flops"]
        assert layer["measured_bytes"] is not None
        assert layer["timing"]["bound"] in ("compute", "memory", "none")
    fc = next(layer for layer in data["layers"] if layer["name"] == "fc")
    assert fc["output_shape"] == [1, 1000] and fc["params"] == 512 * 1000 + 1000
    memory, timing = data["memory"], data["timing"]
    assert memory["measured_bytes"] > 0 and memory["ratio"] > 0
    assert memory["notes"]
    assert -1 <= timing["spearman"] <= 1 and timing["compared_layers"] > 10
    assert timing["peaks"]["measured"] is True and timing["peaks"]["source"]
    assert timing["dominant"] and set(timing["bound_shares"]) <= {"compute", "memory"}
    assert data["environment"]["cpu_name"] and data["environment"]["device"] == "cpu"
    assert data["verdict"].startswith("PASS: 9/9")


def test_wrong_parameter_rule_fails_and_names_the_layer(run_cli, monkeypatch):
    original = ConvRule.params

    def one_weight_too_many(self, attrs, in_shapes, out_shape):
        counts = original(self, attrs, in_shapes, out_shape)
        return type(counts)(weights=counts.weights + 1, biases=counts.biases, buffers=counts.buffers)

    monkeypatch.setattr(ConvRule, "params", one_weight_too_many)
    result = run_cli("verify", "lenet5", "--no-timing")
    assert result.exit_code == 1, result.output
    assert "FAIL" in result.stdout and "parameters per layer" in result.stdout
    assert "conv1 (conv): predicted 157 parameters (151 weights + 6 biases)" in result.stdout
    assert "torch 156" in result.stdout and "Traceback" not in result.output

    code, data = verify_json(run_cli, "lenet5", "--no-timing")
    assert code == 1 and not data["passed"]
    failed = {c["name"]: c for c in data["checks"] if c["status"] == "fail"}
    assert set(failed) == {"parameters per layer", "parameter total"}
    assert failed["parameters per layer"]["layers"] == ["conv1", "conv2"]
    assert failed["parameter total"]["predicted"] - failed["parameter total"]["measured"] == 2


def test_shape_off_by_one_fails_and_names_the_layer(monkeypatch):
    original = ConvRule.output_shape

    def one_row_too_many(self, attrs, in_shapes):
        result = original(self, attrs, in_shapes)
        c, h, w = result.shape
        return type(result)((c, h + 1, w), result.notes)

    monkeypatch.setattr(ConvRule, "output_shape", one_row_too_many)
    result = verify("lenet5", timing=False)
    assert not result.passed and result.exit_code == 1
    shapes = next(c for c in result.checks if c.name == "output shapes")
    assert shapes.status.value == "fail"
    assert shapes.layers[0] == "conv1"
    assert "conv1 (conv): predicted 29x28x6, torch 28x28x6" in shapes.details  # H x W x C, as the table
    assert "output shapes (conv1" in result.verdict
    # the FLOPs of the convolutions follow the wrong shape, and the counters say so per layer
    torch_layers = next(c for c in result.checks if c.name == "torch flop counter per layer")
    assert torch_layers.status.value == "fail" and "conv1" in torch_layers.layers
    assert any("aten.convolution" in line for line in torch_layers.details)


def test_forward_failure_is_a_failed_check_naming_the_layer(run_cli, tmp_path):
    spec = tmp_path / "wrong.yaml"
    spec.write_text(textwrap.dedent("""\
        name: wrong
        input: 8x8x3
        layers:
          - conv: {filters: 4, kernel: 3, pad: 1}
          - flatten
          - linear: 10
        """))
    graph, _ = load_graph(str(spec))
    assert graph.node("linear1").attrs["in_features"] == 256

    original = ConvRule.output_shape

    def twice_as_wide(self, attrs, in_shapes):
        result = original(self, attrs, in_shapes)
        c, h, w = result.shape
        return type(result)((c, h, 2 * w), result.notes)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(ConvRule, "output_shape", twice_as_wide)
        result = run_cli("verify", str(spec), "--no-timing")
    assert result.exit_code == 1, result.output
    assert "forward pass stopped in layer 'linear1'" in result.stdout
    assert "skipped: the forward pass failed" in result.stdout
    assert "Traceback" not in result.output


def test_live_module_target(run_cli, tmp_path):
    pytest.importorskip("archcalc.frontends.torch_module")
    source = tmp_path / "net.py"
    source.write_text(textwrap.dedent("""\
        import torch
        from torch import nn


        class Net(nn.Module):
            def __init__(self, width=8):
                super().__init__()
                self.conv = nn.Conv2d(3, width, 3, padding=1)
                self.relu = nn.ReLU()
                self.fc = nn.Linear(width * 8 * 8, 10)

            def forward(self, x):
                x = self.relu(self.relu(self.conv(x)) + 1)
                x = torch.nn.functional.max_pool2d(x, 2)
                return self.fc(torch.flatten(x, 1))
        """))
    code, data = verify_json(run_cli, f"{source}:Net", "--input", "16x16x3", "--arg", "width=4", "--no-timing")
    assert code == 0, data["verdict"]
    checks = {c["name"]: c for c in data["checks"]}
    assert checks["parameter total"]["measured"] == (3 * 9 * 4 + 4) + (4 * 64 * 10 + 10)
    assert all(checks[name]["status"] == "pass" for name in CHECKS["flops"])


def test_user_module_is_left_as_found():
    pytest.importorskip("archcalc.frontends.torch_module")
    module = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3), torch.nn.ReLU()).train()
    before = {k: v.clone() for k, v in module.state_dict().items()}
    result = verify(module, (3, 10, 10), dtype="bfloat16", timing=False)
    assert result.passed, result.verdict
    assert module.training and all(p.dtype == torch.float32 for p in module.parameters())
    assert all(torch.equal(before[k], v) for k, v in module.state_dict().items())
    assert not module._forward_hooks and not module[0]._forward_pre_hooks


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the message on machines without CUDA")
def test_cuda_without_a_gpu_is_a_user_error(run_cli):
    result = run_cli("verify", "lenet5", "--device", "cuda")
    assert result.exit_code == 2
    assert "CUDA is not available" in result.output and "Traceback" not in result.output


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--dtype", "int8"], "verify runs in float32, float16, bfloat16"),
        (["--format", "xml"], "unknown format 'xml'"),
        (["--device", "tpu"], "unknown device 'tpu'"),
    ],
)
def test_bad_options_are_user_errors(run_cli, args, message):
    result = run_cli("verify", "lenet5", "--no-timing", *args)
    assert result.exit_code == 2 and message in result.output and "Traceback" not in result.output


def test_every_output_format(run_cli, tmp_path):
    for suffix in ("md", "csv", "html", "json"):
        path = tmp_path / f"lenet5.{suffix}"
        result = run_cli("verify", "lenet5", "--repeat", "1", "--warmup", "0", "-o", str(path))
        assert result.exit_code == 0, result.output
        text = path.read_text(encoding="utf-8")
        if suffix == "md":
            assert text.startswith("# archcalc verify: lenet5") and "**PASS: 9/9" in text
            assert "| ✓ | flops | fvcore total |" in text and "## Time" in text and "## Memory" in text
        elif suffix == "csv":
            lines = text.splitlines()  # loads as it is: the header first, one line per layer
            assert lines[0].startswith("name,type,output_shape") and len(lines) == 1 + 12
            assert lines[1].startswith("conv1,conv,28x28x6,")  # per sample, H x W x C
        elif suffix == "html":
            assert text.startswith("<!DOCTYPE html>") and "<table>" in text and "PASS: 9/9" in text
        else:
            assert json.loads(text)["passed"] is True


def test_terminal_table_and_progress(run_cli):
    result = run_cli("verify", "lenet5", "--repeat", "1", "--warmup", "0")
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert out.splitlines()[-1].startswith("PASS: 9/9 structural and FLOP checks hold")
    for heading in ("Checks", "Memory", "Time", "Layers", "Notes"):
        assert f"\n{heading}\n" in out
    assert "✓ flops     fvcore total" in out and "conv1" in out
    assert "CUDA allocator statistics and kernel times are skipped" in out


def test_allocation_profile_net_and_peak():
    from archcalc.verify.profiling import allocation_profile

    # (time, bytes): +100, +50, -100 inside [1, 3]: keeps 50, peaks at 150
    records = [(1, 100), (2, 50), (3, -100), (5, 10), (9, -60)]
    assert allocation_profile(records, 1, 3) == (50, 150)
    assert allocation_profile(records, 2, 9) == (50 - 100 + 10 - 60, 50)
    assert allocation_profile(records, 4, 4) == (0, 0)


def test_fvcore_counts_made_exclusive():
    from archcalc.verify.flops import exclusive

    # fvcore's by_module counts include sub-modules: block = its own 4 + block.inner's 3
    inclusive = {"": {"conv": 10, "add": 1}, "block": {"conv": 7}, "block.inner": {"conv": 3}, "head": {"mm": 3}}
    assert exclusive(inclusive, {"block", "block.inner", "head"}) == {
        "block": {"conv": 4},
        "block.inner": {"conv": 3},
        "head": {"mm": 3},
    }
