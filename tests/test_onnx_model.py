"""ONNX files: modules exported with torch.onnx.export and read back give the parameters and MACs
of the live module (archcalc.analyze on the module itself, whose counts tests/test_torch_nn.py
checks against torch); dynamic axes fixed with --input; unknown ops listed, never dropped; bad
files refused in one or two lines."""

from __future__ import annotations

import warnings

import pytest

torch = pytest.importorskip("torch")
onnx = pytest.importorskip("onnx")
from torch import nn  # noqa: E402

from archcalc.api import analyze  # noqa: E402
from tests.torch_truth import trained  # noqa: E402


def export(module, args, path, **options):
    """The TorchScript-based exporter (dynamo=False): fast, and in torch 2.13 CPU it needs no
    onnxscript. Eval mode; opset 18 (LayerNormalization is in the standard domain); no constant
    folding, which would fold a BatchNorm into the conv before it."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(module.eval(), args, str(path), dynamo=False, opset_version=18, do_constant_folding=False,
                          **options)
    return str(path)


class Cnn(nn.Module):
    """torchvision-style: a stem, a residual block, global pooling and a classifier."""

    def __init__(self):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(3, 16, 3, stride=2, padding=1), nn.ReLU(), nn.MaxPool2d(3, 2, 1))
        self.conv1 = nn.Conv2d(16, 16, 3, padding=1)
        self.bn1 = nn.BatchNorm2d(16)
        self.conv2 = nn.Conv2d(16, 16, 3, padding=1, bias=False)
        self.down = nn.Conv2d(16, 32, 1, stride=2)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(32, 10)

    def forward(self, x):
        x = self.stem(x)
        x = torch.relu(x + self.conv2(torch.relu(self.bn1(self.conv1(x)))))
        return self.fc(torch.flatten(self.pool(self.down(x)), 1))


class Lstm(nn.Module):
    def __init__(self):
        super().__init__()
        self.lstm = nn.LSTM(8, 16, num_layers=2, batch_first=True)
        self.fc = nn.Linear(16, 3)

    def forward(self, x):
        y, _ = self.lstm(x)
        return self.fc(y[:, -1])


def encoder():
    layer = nn.TransformerEncoderLayer(32, 4, 64, dropout=0.0, batch_first=True)
    return nn.TransformerEncoder(layer, 2, enable_nested_tensor=False)


ROUND_TRIPS = {
    "cnn": (Cnn, (3, 32, 32)),
    "transformer encoder": (encoder, (10, 32)),
    "lstm": (Lstm, (5, 8)),
}


@pytest.mark.parametrize("case", sorted(ROUND_TRIPS))
@pytest.mark.parametrize("convention", ["macs", "flops"])
def test_exported_model_counts_equal_the_live_module(case, convention, tmp_path):
    make, shape = ROUND_TRIPS[case]
    module = trained(make())
    path = export(module, (torch.randn(1, *shape),), tmp_path / "model.onnx")
    live = analyze(module, [shape], convention=convention)
    read = analyze(path, convention=convention)
    assert read.totals.params == live.totals.params == sum(p.numel() for p in module.parameters())
    assert read.totals.buffers == sum(b.numel() for n, b in module.named_buffers() if "num_batches" not in n)
    assert read.totals.macs == live.totals.macs > 0
    assert read.totals.flops == live.totals.flops
    assert not read.not_counted
    if case == "cnn":  # the receptive field composes the same way through the residual block
        fields = [[r.rf.size for r in report.rows if r.op == "conv"] for report in (read, live)]
        assert fields[0] == fields[1] and len(fields[0]) == 4


class Mixed(nn.Module):
    """A conv without bias and a BatchNorm, a transformer layer over its pixels, an LSTM: one
    model with what each exporter writes differently (a computed zero bias, sliced and
    transposed weights, concatenated LSTM weights)."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 16, 3, padding=1, bias=False)
        self.bn = nn.BatchNorm2d(16)
        self.attention = nn.TransformerEncoderLayer(16, 2, 32, dropout=0.0, batch_first=True)
        self.lstm = nn.LSTM(16, 8, batch_first=True)
        self.head = nn.Linear(8, 4)

    def forward(self, x):
        tokens = torch.relu(self.bn(self.conv(x))).flatten(2).transpose(1, 2)
        y, _ = self.lstm(self.attention(tokens))
        return self.head(y[:, -1])


@pytest.mark.slow
def test_the_default_dynamo_exporter_round_trips_too(tmp_path):
    """torch 2.13's default exporter (torch.export, then onnxscript; some seconds), without its
    optimizer, which folds BatchNorm into conv and merges equal initializers into one."""
    pytest.importorskip("onnxscript")
    import contextlib
    import io

    module = trained(Mixed()).eval()
    with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
        warnings.simplefilter("ignore")
        torch.onnx.export(module, (torch.randn(1, 3, 8, 8),), str(tmp_path / "dynamo.onnx"), dynamo=True,
                          optimize=False, external_data=False)
    live = analyze(module, [(3, 8, 8)])
    read = analyze(str(tmp_path / "dynamo.onnx"))
    assert read.totals.params == live.totals.params == sum(p.numel() for p in module.parameters())
    assert read.totals.buffers == 2 * 16
    assert read.totals.macs == live.totals.macs > 0
    assert not read.not_counted


#: torch.nn families the exporter supports: (module, per-sample input shape or an int64 length)
FAMILIES = {
    "Conv1d": (lambda: nn.Conv1d(4, 6, 3, stride=2, padding=1), (4, 16)),
    "Conv2d groups": (lambda: nn.Conv2d(4, 8, 3, padding=1, groups=2), (4, 9, 9)),
    "Conv2d dilation": (lambda: nn.Conv2d(3, 5, 3, dilation=2, bias=False), (3, 12, 12)),
    "Conv3d": (lambda: nn.Conv3d(2, 4, 3), (2, 6, 6, 6)),
    "ConvTranspose2d": (lambda: nn.ConvTranspose2d(4, 3, 3, stride=2, padding=1, output_padding=1), (4, 5, 5)),
    "Linear": (lambda: nn.Linear(12, 7), (12,)),
    "Linear on tokens": (lambda: nn.Linear(12, 7), (5, 12)),
    "BatchNorm2d": (lambda: nn.BatchNorm2d(6), (6, 5, 5)),
    "BatchNorm1d": (lambda: nn.BatchNorm1d(6), (6,)),
    "LayerNorm": (lambda: nn.LayerNorm(8), (4, 8)),
    "GroupNorm": (lambda: nn.GroupNorm(2, 6), (6, 4, 4)),
    "InstanceNorm2d": (lambda: nn.InstanceNorm2d(6, affine=True), (6, 4, 4)),
    "MaxPool2d": (lambda: nn.MaxPool2d(3, 2, padding=1), (3, 9, 9)),
    "AvgPool2d": (lambda: nn.AvgPool2d(2), (3, 8, 8)),
    "AdaptiveAvgPool2d": (lambda: nn.AdaptiveAvgPool2d(1), (3, 8, 8)),
    "LSTM bidirectional": (lambda: nn.LSTM(6, 5, bidirectional=True, batch_first=True), (7, 6)),
    "GRU": (lambda: nn.GRU(6, 5, batch_first=True), (7, 6)),
    "RNN": (lambda: nn.RNN(6, 5, batch_first=True), (7, 6)),
    "Embedding": (lambda: nn.Embedding(20, 8), 6),
    "PReLU": (lambda: nn.PReLU(4), (4, 3, 3)),
    "ReLU": (nn.ReLU, (10,)),
    "GELU": (nn.GELU, (10,)),
    "SiLU": (nn.SiLU, (10,)),
    "Hardswish": (nn.Hardswish, (10,)),
    "LeakyReLU": (lambda: nn.LeakyReLU(0.2), (10,)),
    "ELU": (nn.ELU, (10,)),
    "Softmax": (lambda: nn.Softmax(-1), (4, 10)),
    "Tanh": (nn.Tanh, (10,)),
    "Sigmoid": (nn.Sigmoid, (10,)),
    "PixelShuffle": (lambda: nn.PixelShuffle(2), (8, 3, 3)),
    "Upsample": (lambda: nn.Upsample(scale_factor=2), (3, 4, 4)),
    "Flatten": (nn.Flatten, (3, 4, 4)),
    "ConvTranspose1d": (lambda: nn.ConvTranspose1d(4, 3, 3, stride=2), (4, 9)),
    "Conv2d padding same": (lambda: nn.Conv2d(3, 4, 4, padding="same"), (3, 8, 8)),
    "MaxPool1d": (lambda: nn.MaxPool1d(3, 2), (4, 11)),
    "AvgPool1d": (lambda: nn.AvgPool1d(2), (4, 10)),
    "AdaptiveAvgPool2d 2x2": (lambda: nn.AdaptiveAvgPool2d(2), (3, 8, 8)),
    "AdaptiveMaxPool2d": (lambda: nn.AdaptiveMaxPool2d(1), (3, 8, 8)),
    "LPPool2d": (lambda: nn.LPPool2d(2, 2), (3, 8, 8)),
    "LayerNorm two axes": (lambda: nn.LayerNorm([4, 8]), (4, 8)),
    "LocalResponseNorm": (lambda: nn.LocalResponseNorm(3), (6, 4, 4)),
    "GRU two layers": (lambda: nn.GRU(6, 5, num_layers=2, batch_first=True), (7, 6)),
    "Softplus": (nn.Softplus, (10,)),
    "Softsign": (nn.Softsign, (10,)),
    "ReLU6": (nn.ReLU6, (10,)),
    "Hardtanh": (nn.Hardtanh, (10,)),
    "Hardsigmoid": (nn.Hardsigmoid, (10,)),
    "Mish": (nn.Mish, (10,)),
    "SELU": (nn.SELU, (10,)),
    "CELU": (nn.CELU, (10,)),
    "LogSoftmax": (lambda: nn.LogSoftmax(-1), (4, 10)),
    "GLU": (lambda: nn.GLU(-1), (4, 10)),
    "Tanhshrink": (nn.Tanhshrink, (10,)),
    "Softshrink": (nn.Softshrink, (10,)),
    "Hardshrink": (nn.Hardshrink, (10,)),
    "Dropout": (nn.Dropout, (10,)),
    "Identity": (nn.Identity, (10,)),
    "PixelUnshuffle": (lambda: nn.PixelUnshuffle(2), (2, 4, 4)),
    "ZeroPad2d": (lambda: nn.ZeroPad2d(1), (2, 4, 4)),
    "ReflectionPad2d": (lambda: nn.ReflectionPad2d(1), (2, 4, 4)),
    "Upsample bilinear": (lambda: nn.Upsample(scale_factor=2, mode="bilinear"), (3, 4, 4)),
}
#: not in FAMILIES: torch 2.13's exporter refuses nn.ChannelShuffle (aten::channel_shuffle) and
#: nn.Threshold with a non-zero threshold


@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_every_exportable_nn_family_round_trips(family, tmp_path):
    make, shape = FAMILIES[family]
    module = trained(make())
    if isinstance(shape, int):
        example, live_input = torch.randint(0, 20, (1, shape)), f"{shape}:int64"
    else:
        example, live_input = torch.randn(1, *shape), [shape]
    path = export(module, (example,), tmp_path / "family.onnx")
    live = analyze(module, live_input)
    read = analyze(path)
    assert (read.totals.params, read.totals.macs) == (live.totals.params, live.totals.macs)
    assert read.totals.params == sum(p.numel() for p in module.parameters())
    output = module(example)
    if isinstance(output, tuple):  # a recurrent module: (output, final state), rows in either order
        assert tuple(output[0].shape[1:]) in {row.output_shape for row in read.rows}
    else:
        assert read.rows[-1].output_shape == tuple(output.shape[1:])


def test_two_input_attention_module(tmp_path):
    module = nn.MultiheadAttention(16, 2, batch_first=True)
    x = torch.randn(1, 6, 16)
    path = export(module, (x, x, x), tmp_path / "mha.onnx")
    live = analyze(module, [(6, 16)] * 3)
    read = analyze(path)
    assert read.totals.params == live.totals.params == sum(p.numel() for p in module.parameters())
    assert read.totals.macs == live.totals.macs


def test_dynamic_axes_are_fixed_by_name(tmp_path, run_cli):
    module = Cnn()
    path = export(module, (torch.randn(1, 3, 32, 32),), tmp_path / "dynamic.onnx", input_names=["image"],
                  dynamic_axes={"image": {0: "batch", 2: "height", 3: "width"}})
    result = run_cli(path)
    assert result.exit_code == 2 and "height" in result.stderr, result.output
    assert "--input height=N,width=N" in result.stderr
    assert len(result.stderr.strip().splitlines()) <= 2
    for size in (32, 64):
        live = analyze(module, [(3, size, size)])
        read = analyze(path, f"batch=1,height={size},width={size}")
        assert read.totals.macs == live.totals.macs
    batched = analyze(path, "batch=3,height=32,width=32")
    assert batched.batch == 3 and batched.totals.macs == 3 * analyze(path, "image=1x3x32x32").totals.macs
    result = run_cli(path, "--input", "height=48,width=40", "--batch", "2", "--exact")
    assert result.exit_code == 0, result.output
    assert f"{2 * analyze(module, [(3, 48, 40)]).totals.macs:,}" in result.stdout


def test_same_upper_padding_at_stride_two_pads_the_end(tmp_path):
    """TensorFlow-style "same" (auto_pad SAME_UPPER) at stride 2 on 9 x 9: out = ceil(9 / 2) = 5,
    total padding (5 - 1) * 2 + 3 - 9 = 2, one pixel each side; on 8 x 8: out 4, total 1, at the end."""
    from onnx import TensorProto, helper, numpy_helper
    import numpy as np

    for size, out, pad_row in ((9, 5, False), (8, 4, True)):
        weight = numpy_helper.from_array(np.ones((4, 2, 3, 3), dtype=np.float32), "w")
        node = helper.make_node("Conv", ["x", "w"], ["y"], name="conv", auto_pad="SAME_UPPER", strides=[2, 2])
        graph = helper.make_graph([node], "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 2, size, size])],
                                  [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)], initializer=[weight])
        path = tmp_path / f"same{size}.onnx"
        onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)]), str(path))
        report = analyze(str(path))
        assert report.row("conv").output_shape == (4, out, out)
        assert report.row("conv").macs == out * out * 4 * (3 * 3 * 2)
        assert report.totals.params == 4 * 2 * 3 * 3
        assert any(r.name == "conv.pad" for r in report.rows) == pad_row
        if pad_row:
            assert report.row("conv.pad").output_shape == (2, size + 1, size + 1)


def test_unknown_ops_are_listed_not_dropped(tmp_path):
    from onnx import TensorProto, helper

    nodes = [
        helper.make_node("Relu", ["x"], ["a"], name="relu"),
        helper.make_node("CumSum", ["a", "axis"], ["b"], name="cumsum"),
        helper.make_node("Mystery", ["b"], ["y"], name="custom", domain="com.example"),
    ]
    graph = helper.make_graph(
        nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4, 5])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 4, 5])],
        initializer=[helper.make_tensor("axis", TensorProto.INT64, [], [1])],
        value_info=[helper.make_tensor_value_info("b", TensorProto.FLOAT, [1, 4, 5])])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18), helper.make_opsetid("com.example", 1)])
    path = tmp_path / "unknown.onnx"
    onnx.save(model, str(path))
    report = analyze(str(path))
    assert [row.name for row in report.rows] == ["relu", "cumsum", "custom"]
    assert report.not_counted == {"CumSum": 1, "Mystery": 1}
    assert report.counts_status == "partial"


def test_the_plain_command_line_reads_onnx_and_checkpoints(tmp_path, capsys):
    """``archcalc FILE`` through main(): the fast path (no typer) for a graph, typer for a checkpoint."""
    from archcalc.cli import main

    module = trained(Cnn())
    path = export(module, (torch.randn(1, 3, 32, 32),), tmp_path / "cnn.onnx")
    with pytest.raises(SystemExit) as done:
        main([path, "--exact"])
    assert done.value.code == 0
    assert f"{analyze(module, [(3, 32, 32)]).totals.macs:,}" in capsys.readouterr().out
    safetensors_torch = pytest.importorskip("safetensors.torch")
    safetensors_torch.save_file(dict(module.state_dict()), str(tmp_path / "cnn.safetensors"))
    with pytest.raises(SystemExit) as done:
        main([str(tmp_path / "cnn.safetensors"), "--exact"])
    assert done.value.code == 0
    assert f"({sum(t.numel() for t in module.state_dict().values()):,})" in capsys.readouterr().out


def test_weights_in_an_external_file_are_never_read(tmp_path):
    """Large models keep their weights beside the .onnx; archcalc reads the initializers' dims
    only, so the analysis runs with that file gone."""
    module = trained(Cnn())
    path = export(module, (torch.randn(1, 3, 32, 32),), tmp_path / "inline.onnx")
    model = onnx.load(path)
    onnx.save_model(model, str(tmp_path / "external.onnx"), save_as_external_data=True,
                    all_tensors_to_one_file=True, location="external.data", size_threshold=0)
    (tmp_path / "external.data").unlink()
    read = analyze(str(tmp_path / "external.onnx"))
    assert read.totals.params == sum(p.numel() for p in module.parameters())
    assert read.totals.macs == analyze(module, [(3, 32, 32)]).totals.macs


def test_bad_onnx_files_get_one_or_two_lines(tmp_path, run_cli):
    good = export(nn.Linear(4, 2), (torch.randn(1, 4),), tmp_path / "good.onnx")
    whole = open(good, "rb").read()
    (tmp_path / "truncated.onnx").write_bytes(whole[: len(whole) // 2])
    (tmp_path / "text.onnx").write_bytes(b"this is not a protobuf \xff\xfe at all")
    (tmp_path / "empty.onnx").write_bytes(b"")
    for name in ("truncated.onnx", "text.onnx", "empty.onnx"):
        result = run_cli(str(tmp_path / name))
        assert result.exit_code == 2, (name, result.output)
        assert result.stderr.startswith("error: ") and name in result.stderr, result.stderr
        assert len(result.stderr.strip().splitlines()) <= 2, result.stderr
        assert "Traceback" not in result.output
