"""Live nn.Module analysis: every op captured, the same numbers as specs, torch and fvcore.

Expected values come from closed-form arithmetic written here, from real torch
forward passes (hooks, ``numel()``), from fvcore's ``FlopCountAnalysis`` and
from ``torch.utils.flop_counter.FlopCounterMode`` -- never from archcalc.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from fractions import Fraction

import pytest

torch = pytest.importorskip("torch")
nn = torch.nn
F = torch.nn.functional

from archcalc.analysis import analyze_graph
from archcalc.errors import ArchcalcError
from archcalc.frontends import (
    ModuleError,
    analyze_module,
    is_module_target,
    load_module_target,
    parse_arg_pairs,
)
from archcalc.spec import load_spec
from archcalc.zoo import zoo_names, zoo_path


def fvcore_total(model: nn.Module, x) -> int:
    fvcore_nn = pytest.importorskip("fvcore.nn")
    analysis = fvcore_nn.FlopCountAnalysis(model.eval(), x)
    analysis.unsupported_ops_warnings(False)
    analysis.uncalled_modules_warnings(False)
    return int(analysis.total())


def torch_flops(model: nn.Module, x) -> int:
    """FlopCounterMode's total on torch's reference paths.

    On the CPU, torch's fused kernels have no flop formula: the flash-attention
    kernel ``_scaled_dot_product_flash_attention_for_cpu`` and
    ``nn.MultiheadAttention``'s ``_native_multi_head_attention`` fast path (taken
    under ``no_grad``) count 0. The math backend and grad mode run the ops torch
    does price (``bmm``, ``addmm``), as its CUDA kernels are priced
    (``sdpa_flop_count``).
    """
    from torch.nn.attention import SDPBackend, sdpa_kernel
    from torch.utils.flop_counter import FlopCounterMode

    with sdpa_kernel(SDPBackend.MATH), FlopCounterMode(display=False) as counter:
        model.eval()(x)
    return int(counter.get_total_flops())


def leaf_outputs(model: nn.Module, x) -> dict[str, tuple[int, ...]]:
    """Per-sample output shape of every named submodule in a real forward pass (hooks)."""
    shapes: dict[str, tuple[int, ...]] = {}

    def record(name):
        def hook(module, args, out):
            shapes.setdefault(name, tuple(out.shape[1:]))

        return hook

    handles = [module.register_forward_hook(record(name)) for name, module in model.named_modules() if name]
    try:
        with torch.no_grad():
            model.eval()(x)
    finally:
        for handle in handles:
            handle.remove()
    return shapes


def rf(report, name):
    return tuple(int(v) for v in report.row(name).rf.size)


# -- round trip: spec -> torch_builder -> live analysis == spec ------------------------------


def _builder():
    return pytest.importorskip(
        "archcalc.torch_builder", reason="archcalc/torch_builder.py (spec -> nn.Module) is not there yet"
    )


ROW_FIELDS = ("op", "inputs", "input_shapes", "output_shape", "weights", "biases", "buffers", "ops", "macs", "rf")


def assert_same_report(spec_report, live_report):
    assert [r.name for r in live_report.rows] == [r.name for r in spec_report.rows]
    for expected, got in zip(spec_report.rows, live_report.rows):
        for field in ROW_FIELDS:
            assert getattr(got, field) == getattr(expected, field), (expected.name, field)
    assert live_report.totals == spec_report.totals
    assert live_report.not_counted == {}


#: transformer specs: the builder makes their attention (heads split inside), class token and position
#: table as small modules of tensor ops, which a live capture records one op at a time, so the rows
#: cannot match one to one; tests/test_llm_zoo.py compares them with the transformers models instead
TOKEN_SPECS = {"vit_b_16", "gpt2", "bert_base", "llama2_7b"}


@pytest.mark.parametrize("model", [m for m in zoo_names() if m not in TOKEN_SPECS])
def test_zoo_round_trip(model):
    """Every zoo spec, rebuilt as an nn.Module on the meta device, analyses to the same report row by row."""
    builder = _builder()
    graph = load_spec(zoo_path(model))
    with torch.device("meta"):
        module = builder.build_module(graph)
    for convention in ("exact", "fvcore", "torch"):
        spec_report = analyze_graph(graph, batch=2, convention=convention)
        live_report = analyze_module(module, graph.input_shape, batch=2, convention=convention)
        assert_same_report(spec_report, live_report)


def test_round_trip_with_real_weights_leaves_the_module_alone():
    builder = _builder()
    graph = load_spec(zoo_path("resnet18"))
    module = builder.build_module(graph).train()
    before = {k: v.clone() for k, v in module.state_dict().items()}
    attributes = set(vars(module))
    live = analyze_module(module, graph.input_shape, convention="exact")
    assert_same_report(analyze_graph(graph, convention="exact"), live)
    assert all(m.training for m in module.modules())
    assert set(vars(module)) == attributes
    assert module.state_dict().keys() == before.keys()
    assert all(torch.equal(before[k], v) for k, v in module.state_dict().items())
    assert all(p.device.type == "cpu" for p in module.parameters())


# -- hand-written models: every op with its numbers --------------------------------------------


class LeNet(nn.Module):
    """LeNet-5 whose forward uses torch.tanh, F.avg_pool2d, F.max_pool2d and reshape instead of modules."""

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 6, 5)
        self.conv2 = nn.Conv2d(6, 16, 5)
        self.fc1 = nn.Linear(16 * 5 * 5, 120)
        self.fc2 = nn.Linear(120, 84)
        self.fc3 = nn.Linear(84, 10)

    def forward(self, x):
        x = F.avg_pool2d(torch.tanh(self.conv1(x)), 2)
        x = F.max_pool2d(torch.tanh(self.conv2(x)), kernel_size=2)
        x = x.reshape(x.shape[0], -1)
        x = torch.tanh(self.fc1(x))
        x = torch.tanh(self.fc2(x))
        return self.fc3(x)


def test_lenet_with_functional_ops():
    model = LeNet()
    report = analyze_module(model, "32x32x1")
    expected = [
        # name, op, shape, params, MACs (closed form: Cout*Ho*Wo*Cin*k*k, in*out)
        ("conv1", "conv", (6, 28, 28), 6 * 25 + 6, 6 * 28 * 28 * 25),
        ("tanh1", "tanh", (6, 28, 28), 0, 0),
        ("avgpool1", "avgpool", (6, 14, 14), 0, 0),
        ("conv2", "conv", (16, 10, 10), 16 * 6 * 25 + 16, 16 * 10 * 10 * 6 * 25),
        ("tanh2", "tanh", (16, 10, 10), 0, 0),
        ("maxpool1", "maxpool", (16, 5, 5), 0, 0),
        ("reshape1", "reshape", (400,), 0, 0),
        ("fc1", "linear", (120,), 400 * 120 + 120, 400 * 120),
        ("tanh3", "tanh", (120,), 0, 0),
        ("fc2", "linear", (84,), 120 * 84 + 84, 120 * 84),
        ("tanh4", "tanh", (84,), 0, 0),
        ("fc3", "linear", (10,), 84 * 10 + 10, 84 * 10),
    ]
    assert [(r.name, r.op, r.output_shape, r.params, r.macs) for r in report.rows] == expected
    assert report.row("avgpool1").inputs == ("tanh1",)
    assert report.row("reshape1").inputs == ("maxpool1",)
    # tanh: 1 transcendental per element; avg pool 2x2: 3 adds + 1 div per output; max pool: 3 comparisons
    assert report.row("tanh1").ops.exps == 6 * 28 * 28
    assert (report.row("avgpool1").ops.adds, report.row("avgpool1").ops.divs) == (6 * 14 * 14 * 3, 6 * 14 * 14)
    assert report.row("maxpool1").ops.cmps == 16 * 5 * 5 * 3
    # receptive field: 5, +1 (pool 2 at jump 1), +4*2, +1*4, then the whole 32x32 input
    assert [rf(report, n) for n in ("conv1", "avgpool1", "conv2", "maxpool1", "fc1")] == [
        (5, 5),
        (6, 6),
        (14, 14),
        (16, 16),
        (32, 32),
    ]
    x = torch.randn(3, 1, 32, 32)
    assert model(x).shape == (3, 10)
    assert report.totals.params == sum(p.numel() for p in model.parameters())
    batch = analyze_module(model, (1, 32, 32), batch=3, convention="fvcore")
    assert batch.totals.flops == fvcore_total(model, x)
    assert analyze_module(model, (1, 32, 32), batch=3, convention="torch").totals.flops == torch_flops(model, x)
    assert report.not_counted == {}


class BasicBlock(nn.Module):
    def __init__(self, channels):
        super().__init__()
        self.conv1 = nn.Conv2d(channels, channels, 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(channels)
        self.conv2 = nn.Conv2d(channels, channels, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(channels)
        self.relu = nn.ReLU(inplace=True)

    def forward(self, x):
        identity = x
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        out += identity
        return self.relu(out)


class TinyResNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.stem = nn.Conv2d(3, 8, 3, stride=2, padding=1)
        self.layer1 = nn.Sequential(BasicBlock(8), BasicBlock(8))
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(8, 10)

    def forward(self, x):
        x = self.layer1(self.stem(x))
        return self.fc(torch.flatten(self.pool(x), 1))


def test_resnet_block_inplace_add():
    model = TinyResNet()
    report = analyze_module(model, (3, 32, 32), batch=2, convention="exact")
    add = report.row("layer1.1.add1")
    assert add.op == "add"
    assert add.inputs == ("layer1.1.bn2", "layer1.0.relu#2")  # out += identity; relu called twice
    assert add.output_shape == (8, 16, 16)
    assert add.ops.adds == 2 * 8 * 16 * 16  # one add per element, batch 2
    assert report.row("layer1.1.relu#2").inputs == ("layer1.1.add1",)
    assert report.row("flatten1").op == "flatten"
    # receptive field: stem 3 (jump 2); each 3x3 conv adds 2*2; the add takes the larger branch
    assert rf(report, "stem") == (3, 3)
    assert rf(report, "layer1.0.add1") == (3 + 4 + 4, 3 + 4 + 4)
    assert rf(report, "layer1.1.add1") == (3 + 16, 3 + 16)
    x = torch.randn(2, 3, 32, 32)
    shapes = leaf_outputs(model, x)
    for name in ("stem", "layer1.0.conv1", "layer1.1.bn2", "pool", "fc"):
        assert report.row(name).output_shape == shapes[name]
    assert report.totals.params == sum(p.numel() for p in model.parameters())
    assert report.totals.buffers == sum(b.numel() for b in model.buffers())
    assert analyze_module(model, (3, 32, 32), batch=2, convention="fvcore").totals.flops == fvcore_total(model, x)
    assert analyze_module(model, (3, 32, 32), batch=2, convention="torch").totals.flops == torch_flops(model, x)


class Inception(nn.Module):
    def __init__(self, cin=16):
        super().__init__()
        self.b1 = nn.Conv2d(cin, 8, 1)
        self.b3 = nn.Sequential(nn.Conv2d(cin, 4, 1), nn.ReLU(), nn.Conv2d(4, 8, 3, padding=1))
        self.b5 = nn.Sequential(nn.Conv2d(cin, 4, 1), nn.ReLU(), nn.Conv2d(4, 8, 5, padding=2))
        self.proj = nn.Conv2d(cin, 8, 1)

    def forward(self, x):
        pooled = F.max_pool2d(x, 3, stride=1, padding=1)
        return F.relu(torch.cat([self.b1(x), self.b3(x), self.b5(x), self.proj(pooled)], dim=1))


def test_inception_concat():
    model = Inception()
    report = analyze_module(model, (16, 12, 12), convention="exact")
    cat = report.row("concat1")
    assert cat.inputs == ("b1", "b3.2", "b5.2", "proj")
    assert cat.output_shape == (32, 12, 12)
    assert cat.attrs["axis"] == 0
    assert report.row("proj").inputs == ("maxpool1",)
    assert report.row("relu1").inputs == ("concat1",)
    assert rf(report, "concat1") == (5, 5)  # the largest branch (5x5); 3x3 pool + 1x1 gives 3
    assert rf(report, "proj") == (3, 3)
    macs = 12 * 12 * (8 * 16 + 4 * 16 + 8 * 4 * 9 + 4 * 16 + 8 * 4 * 25 + 8 * 16)
    assert report.totals.macs == macs
    x = torch.randn(1, 16, 12, 12)
    assert model(x).shape[1:] == report.output_shape
    assert analyze_module(model, (16, 12, 12), convention="fvcore").totals.flops == fvcore_total(model, x) == macs


class TinyAttention(nn.Module):
    """Self-attention written out (matmul, scale, softmax) next to F.scaled_dot_product_attention."""

    def __init__(self, dim=16, heads=2):
        super().__init__()
        self.heads = heads
        self.qkv = nn.Linear(dim, 3 * dim)
        self.proj = nn.Linear(dim, dim)

    def forward(self, x):
        b, t, d = x.shape
        q, k, v = self.qkv(x).reshape(b, t, 3, self.heads, d // self.heads).permute(2, 0, 3, 1, 4).unbind(0)
        scores = torch.matmul(q, k.transpose(-2, -1)) * (d // self.heads) ** -0.5
        manual = scores.softmax(dim=-1) @ v
        fused = F.scaled_dot_product_attention(q, k, v)
        return self.proj((manual + fused).transpose(1, 2).reshape(b, t, d))


def test_attention_ops():
    model = TinyAttention()
    t, d, h = 10, 16, 2
    hd = d // h
    report = analyze_module(model, (t, d), convention="exact")
    assert report.row("qkv").macs == t * d * 3 * d
    assert report.row("matmul1").output_shape == (h, t, t)
    assert report.row("matmul1").macs == h * t * t * hd  # q @ k^T
    assert report.row("softmax1").attrs["axis"] == 2
    assert report.row("matmul2").macs == h * t * t * hd  # weights @ v
    sdpa = report.row("attention1")
    assert sdpa.inputs == ("unbind1", "unbind2", "unbind3")
    assert sdpa.output_shape == (h, t, hd)
    assert sdpa.macs == h * t * t * (hd + hd)
    assert report.row("proj").macs == t * d * d
    assert report.totals.params == sum(p.numel() for p in model.parameters())
    assert report.not_counted == {}
    x = torch.randn(2, t, d)
    assert model(x).shape[1:] == report.output_shape
    # torch's flop counter: 2 * MACs of linear, matmul and sdpa (sdpa_flop_count)
    assert analyze_module(model, (t, d), batch=2, convention="torch").totals.flops == torch_flops(model, x)
    # fvcore counts linear and matmul, and reports scaled_dot_product_attention as unsupported (0)
    assert analyze_module(model, (t, d), batch=2, convention="fvcore").totals.flops == fvcore_total(model, x)


@pytest.mark.parametrize(
    "a, b",
    [((7, 5), (5, 4)), ((3, 7, 5), (3, 5, 4)), ((2, 1, 7, 5), (3, 5, 4)), ((7, 5), (2, 5, 4)), ((4, 1, 3), (1, 3, 6))],
)
def test_matmul_rule_against_torch(a, b):
    """Per-sample operands (batch 2 prepended): shape from torch.matmul, 2 * MACs from FlopCounterMode."""
    from torch.utils.flop_counter import FlopCounterMode

    from archcalc.layers import get_rule

    rule = get_rule("matmul")
    attrs = rule.normalize({}, (a, b))
    out = rule.output_shape(attrs, (a, b)).shape
    with FlopCounterMode(display=False) as counter:
        real = torch.matmul(torch.randn(2, *a), torch.randn(2, *b))
    assert out == tuple(real.shape[1:])
    ops = rule.ops(attrs, (a, b), out)
    assert ops.macs == real[0].numel() * a[-1]
    assert 2 * ops.torch == counter.get_total_flops()


@pytest.mark.parametrize("q, k, v", [((4, 6, 8), (4, 10, 8), (4, 10, 5)), ((12, 16), (12, 16), (12, 16))])
def test_attention_rule_against_torch(q, k, v):
    from torch.nn.attention import SDPBackend, sdpa_kernel
    from torch.utils.flop_counter import FlopCounterMode

    from archcalc.layers import get_rule

    rule = get_rule("attention")
    attrs = rule.normalize({}, (q, k, v))
    out = rule.output_shape(attrs, (q, k, v)).shape
    tensors = [torch.randn(2, *s) for s in (q, k, v)]
    with sdpa_kernel(SDPBackend.MATH), FlopCounterMode(display=False) as counter:
        real = F.scaled_dot_product_attention(*tensors)
    assert out == tuple(real.shape[1:])
    heads = q[0] if len(q) == 3 else 1
    macs = heads * q[-2] * k[-2] * (q[-1] + v[-1])  # Q K^T and weights x V
    assert rule.ops(attrs, (q, k, v), out).macs == macs
    assert 2 * rule.ops(attrs, (q, k, v), out).torch == counter.get_total_flops()


def test_reductions_and_pointwise_ops():
    class Head(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = nn.Conv2d(3, 4, 3)

        def forward(self, x):
            x = self.conv(x) * 0.5 + 1
            return torch.exp(x).mean((2, 3))  # global average pooling written as a reduction

    report = analyze_module(Head(), (3, 10, 10), convention="exact")
    n = 4 * 8 * 8
    assert [(r.name, r.op) for r in report.rows] == [
        ("conv", "conv"),
        ("mul1", "pointwise"),
        ("add1", "pointwise"),
        ("exp1", "pointwise"),
        ("mean1", "reduction"),
    ]
    assert (report.row("mul1").ops.muls, report.row("add1").ops.adds, report.row("exp1").ops.exps) == (n, n, n)
    mean = report.row("mean1")
    assert mean.output_shape == (4,)
    assert (mean.ops.adds, mean.ops.divs) == (4 * (64 - 1), 4)
    assert rf(report, "mean1") == (10, 10)  # the whole input, like global pooling


def test_multihead_attention_module_is_priced_from_its_aten_ops():
    model = nn.Sequential(nn.Linear(8, 16))
    mha = nn.MultiheadAttention(16, 4, batch_first=True)

    class Wrapper(nn.Module):
        def __init__(self):
            super().__init__()
            self.embed = model
            self.mha = mha

        def forward(self, x):
            x = self.embed(x)
            return self.mha(x, x, x, need_weights=False)[0]

    wrapper = Wrapper()
    t = 6
    report = analyze_module(wrapper, (t, 8), convention="torch")
    assert report.totals.params == sum(p.numel() for p in wrapper.parameters())
    assert report.not_counted == {}
    assert report.output_shape == (t, 16)
    x = torch.randn(1, t, 8)
    assert report.totals.flops == torch_flops(wrapper, x)


def test_learned_operands_and_tokens_are_parameters():
    class Tokens(nn.Module):
        def __init__(self):
            super().__init__()
            self.cls = nn.Parameter(torch.zeros(1, 1, 8))
            self.pos = nn.Parameter(torch.zeros(1, 5, 8))
            self.gamma = nn.Parameter(torch.ones(8))
            self.head = nn.Parameter(torch.randn(8, 3))

        def forward(self, x):
            x = torch.cat([self.cls.expand(x.shape[0], -1, -1), x], dim=1) + self.pos
            x = x * self.gamma
            return x[:, 0] @ self.head

    model = Tokens()
    report = analyze_module(model, (4, 8))
    # the class token spread over the batch is a learned input (8 parameters), then joined to x
    assert [(r.op, r.params) for r in report.rows] == [
        ("movement", 8),
        ("concat", 0),
        ("pointwise", 5 * 8),
        ("pointwise", 8),
        ("movement", 0),
        ("linear", 8 * 3),
    ]
    assert report.row("mul1").ops.muls == 5 * 8
    assert report.totals.params == sum(p.numel() for p in model.parameters())
    assert report.output_shape == tuple(model(torch.randn(2, 4, 8)).shape[1:])


def test_unknown_ops_are_listed_not_dropped():
    class Odd(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = nn.Linear(6, 6)

        def forward(self, x):
            # (cumsum and sort are priced since the moe family; these two are not)
            return self.fc(torch.logcumsumexp(x, dim=1).cummax(dim=1).values)

    report = analyze_module(Odd(), (6,))
    assert report.not_counted == {"logcumsumexp": 1, "cummax": 1}
    assert report.counts_status == "partial"
    assert [r.op for r in report.rows] == ["uncounted", "uncounted", "linear"]  # cummax's unused indices are dropped
    assert report.row("fc").inputs == ("cummax1",)
    assert report.to_dict()["not_counted"] == {"logcumsumexp": 1, "cummax": 1}


def test_shared_and_frozen_parameters():
    class Tied(nn.Module):
        def __init__(self):
            super().__init__()
            self.encoder = nn.Linear(8, 8)
            self.decoder = nn.Linear(8, 8, bias=False)
            self.decoder.weight = self.encoder.weight
            self.frozen = nn.Linear(8, 4)
            self.frozen.requires_grad_(False)

        def forward(self, x):
            x = self.encoder(x)
            x = self.encoder(x)  # the same module twice
            return self.frozen(self.decoder(x))

    model = Tied()
    report = analyze_module(model, (8,))
    assert [r.name for r in report.rows] == ["encoder", "encoder#2", "decoder", "frozen"]
    assert report.row("encoder#2").shares_params_with == "encoder"
    assert report.row("decoder").shares_params_with == "encoder"
    assert report.totals.params == sum(p.numel() for p in model.parameters()) == 8 * 8 + 8 + 8 * 4 + 4
    assert report.totals.trainable_params == sum(p.numel() for p in model.parameters() if p.requires_grad)
    assert report.totals.macs == 3 * 64 + 32


def test_user_module_is_left_as_found():
    model = TinyResNet().train()
    model.layer1[0].eval()
    flags = {name: m.training for name, m in model.named_modules()}
    before = {k: v.clone() for k, v in model.state_dict().items()}
    attributes = {name: set(vars(m)) for name, m in model.named_modules()}
    report = analyze_module(model, (3, 32, 32))
    assert report.rows
    from torch.nn.modules import module as module_globals

    for name, m in model.named_modules():
        assert m.training == flags[name]
        assert not m._forward_hooks and not m._forward_pre_hooks
        assert set(vars(m)) == attributes[name]
    assert not module_globals._global_forward_hooks and not module_globals._global_forward_pre_hooks
    assert model.state_dict().keys() == before.keys()
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())
    assert {p.device.type for p in model.parameters()} == {"cpu"}


def test_meta_and_real_weights_agree():
    real = TinyResNet()
    with torch.device("meta"):
        meta = TinyResNet()
    a = analyze_module(real, (3, 32, 32), convention="exact")
    b = analyze_module(meta, (3, 32, 32), convention="exact")
    assert a.rows == b.rows and a.totals == b.totals


class Branchy(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(4, 4)

    def forward(self, x):
        x = self.fc(x)
        if x.sum() > 0:  # reads a value: impossible on meta tensors
            return torch.relu(x)
        return torch.tanh(x)


def test_data_dependent_forward():
    with torch.device("meta"):
        meta = Branchy()
    with pytest.raises(ModuleError) as caught:
        analyze_module(meta, (4,))
    message = str(caught.value)
    assert "test_module_import.py" in message and "reads tensor values" in message and "x.sum() > 0" in message
    real = Branchy()
    report = analyze_module(real, (4,))
    assert report.rows[0].name == "fc" and report.rows[-1].op in ("relu", "tanh")
    assert any("real forward pass" in str(w) for w in report.warnings)


def test_forward_errors_name_the_numbers():
    with pytest.raises(ModuleError) as caught:
        analyze_module(LeNet(), (3, 32, 32))
    message = str(caught.value)
    assert "LeNet.forward" in message and "(batch, 3, 32, 32)" in message and "97" not in message
    with pytest.raises(ArchcalcError):
        analyze_module("not a module", (3, 32, 32))


def test_ten_billion_parameter_model_in_little_memory():
    """A VGG-16 widened 8.8x (about 10.3 billion parameters) built on meta, analysed under 1 GiB of RSS."""
    script = textwrap.dedent(
        """
        import json, resource, sys, time
        import torch
        from torch import nn
        from archcalc.frontends import analyze_module

        k = 8.8
        widths = [int(64 * k), int(128 * k), int(256 * k), int(512 * k)]
        cfg = [0, 0, "M", 1, 1, "M", 2, 2, 2, "M", 3, 3, 3, "M", 3, 3, 3, "M"]
        with torch.device("meta"):
            layers, cin = [], 3
            for v in cfg:
                if v == "M":
                    layers.append(nn.MaxPool2d(2))
                else:
                    layers += [nn.Conv2d(cin, widths[v], 3, padding=1), nn.ReLU(inplace=True)]
                    cin = widths[v]
            hidden = int(4096 * k)
            model = nn.Sequential(*layers, nn.Flatten(), nn.Linear(cin * 49, hidden), nn.ReLU(),
                                  nn.Linear(hidden, hidden), nn.ReLU(), nn.Linear(hidden, 1000))
        def peak_rss_mib():
            # this process's own peak: VmHWM (ru_maxrss also counts the parent's resident size at the
            # fork that started this process: a grown pytest worker's, near 1 GiB late in the suite)
            try:
                with open("/proc/self/status") as status:
                    return next(int(line.split()[1]) for line in status if line.startswith("VmHWM:")) / 1024
            except (OSError, StopIteration):
                return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

        start = time.perf_counter()
        report = analyze_module(model, (3, 224, 224))
        seconds = time.perf_counter() - start
        print(json.dumps({
            "params": report.totals.params,
            "numel": sum(p.numel() for p in model.parameters()),
            "macs": report.totals.macs,
            "rss_mib": peak_rss_mib(),
            "seconds": seconds,
        }))
        """
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["params"] == result["numel"] > 10_000_000_000
    assert result["rss_mib"] < 1024, result
    print(f"10B model: {result['params']:,} params, peak RSS {result['rss_mib']:.0f} MiB, {result['seconds']:.2f} s")


# -- loading targets -----------------------------------------------------------------------------


MODEL_FILE = """
import torch
from torch import nn


class Net(nn.Module):
    def __init__(self, width, depth=2, act="relu", sizes=(3, 3)):
        super().__init__()
        self.width, self.act, self.sizes = width, act, sizes
        self.layers = nn.Sequential(*[nn.Linear(width, width) for _ in range(depth)])

    def forward(self, x):
        return self.layers(x)


def make_net(width=4):
    return Net(width, depth=1)


def not_a_module():
    return 42


helper_value = 3
"""


@pytest.fixture
def model_file(tmp_path):
    path = tmp_path / "mymodel.py"
    path.write_text(MODEL_FILE)
    return path


def test_load_module_target_from_file(model_file):
    module = load_module_target(f"{model_file}:Net", {"width": "8", "depth": "3", "act": "gelu", "sizes": "[1, 2]"})
    assert (module.width, module.act, module.sizes) == (8, "gelu", [1, 2])
    assert len(module.layers) == 3
    assert all(p.device.type == "meta" for p in module.parameters())  # no weights allocated
    report = analyze_module(module, (8,))
    assert report.totals.params == 3 * (8 * 8 + 8)
    assert parse_arg_pairs(["width=8", "act=gelu", "sizes=[1, 2]"]) == {"width": "8", "act": "gelu", "sizes": "[1, 2]"}
    with pytest.raises(ModuleError, match="key=value"):
        parse_arg_pairs(["width"])
    factory = load_module_target(f"{model_file}:make_net", {})
    assert len(factory.layers) == 1
    assert is_module_target(f"{model_file}:Net") and is_module_target("torchvision:resnet50")
    assert not is_module_target("vgg16") and not is_module_target("specs/vgg16.yaml")


@pytest.mark.parametrize(
    "target, args, words",
    [
        ("{file}:Nett", {}, ["defines no 'Nett'", "Net", "make_net"]),
        ("{file}:Net", {}, ["cannot build", "width"]),
        ("{file}:Net", {"colour": "red"}, ["colour"]),
        ("{file}:not_a_module", {}, ["int", "not a torch.nn.Module"]),
        ("{file}:helper_value", {}, ["not a class or a function"]),
        ("missing_file.py:Net", {}, ["no such file", "missing_file.py"]),
        ("{file}", {}, ["path/to/file.py:ClassOrFactory"]),
    ],
)
def test_load_module_target_errors(model_file, target, args, words):
    with pytest.raises(ModuleError) as caught:
        load_module_target(target.format(file=model_file), args)
    for word in words:
        assert word in str(caught.value)


def test_load_module_target_syntax_error(tmp_path):
    path = tmp_path / "broken.py"
    path.write_text("import torch\n\nclass Net(:\n    pass\n")
    with pytest.raises(ModuleError) as caught:
        load_module_target(f"{path}:Net", {})
    assert f"{path}:3" in str(caught.value)


@pytest.mark.parametrize("package", ["torchvision", "timm"])
def test_package_targets(package):
    try:
        __import__(package)
    except ImportError:
        with pytest.raises(ModuleError, match=f"{package} is not installed"):
            load_module_target(f"{package}:resnet18", {})
        return
    module = load_module_target(f"{package}:resnet18", {})
    if package == "torchvision":  # timm constructors may need values (then built on the CPU, still no download)
        assert all(p.device.type == "meta" for p in module.parameters())
    report = analyze_module(module, (3, 224, 224))
    assert report.totals.params == sum(p.numel() for p in module.parameters())
    assert report.not_counted == {}
    with pytest.raises(ModuleError, match="no model"):
        load_module_target(f"{package}:resnet_eighteen", {})


def test_input_as_typed_text():
    report = analyze_module(LeNet(), "32x32")  # H x W: channels from the first conv
    assert report.input_shape == (1, 32, 32)
    assert report.row("conv1").rf.jump == (Fraction(1), Fraction(1))
