"""Property-based checks: random conv / pool / linear stacks against torch and fvcore.

Each example draws a small network (random kernel, stride, padding, dilation,
groups, ceil_mode; every layer either an ``nn.Module`` or the same op written
with ``torch.nn.functional``) and checks archcalc's live-module analysis layer
by layer against a real forward pass (hooks), ``numel()``, fvcore's
``FlopCountAnalysis.by_module()`` and ``FlopCounterMode``.

CI runs a fixed, derandomised set of examples. Release check (1000 examples, about a minute on 2 cores):

    ARCHCALC_HYPOTHESIS_EXAMPLES=1000 /work/venv/bin/pytest tests/test_properties.py -q
"""

from __future__ import annotations

import os

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("hypothesis")
fvcore_nn = pytest.importorskip("fvcore.nn")

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from archcalc.frontends import analyze_module

nn = torch.nn
F = torch.nn.functional

EXAMPLES = int(os.environ.get("ARCHCALC_HYPOTHESIS_EXAMPLES", "100"))
BATCH = 2

SETTINGS = settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


class Functional(nn.Module):
    """One op written with torch.nn.functional on the module's own parameters."""

    def __init__(self, op: str, template: nn.Module | None = None, **options) -> None:
        super().__init__()
        self.op = op
        self.options = options
        if template is not None:
            self.weight = template.weight
            self.bias = template.bias

    def forward(self, x):
        if self.op == "conv":
            return F.conv2d(x, self.weight, self.bias, **self.options)
        if self.op == "maxpool":
            return F.max_pool2d(x, **self.options)
        if self.op == "avgpool":
            return F.avg_pool2d(x, **self.options)
        if self.op == "flatten":
            return torch.flatten(x, 1)
        return F.linear(x, self.weight, self.bias)


def _fits(layer: nn.Module, shape, kernel, padding, dilation=(1, 1)) -> tuple[int, ...] | None:
    """The output shape torch gives, or None when the window does not fit in the padded input.

    (torch's pooling accepts a window larger than the padded input, its C
    integer division rounding toward zero; archcalc reports that as a layer
    that does not fit, so such layers are not drawn.)
    """
    for size, k, p, d in zip(shape[1:], kernel, padding, dilation):
        if d * (k - 1) + 1 > size + 2 * p:
            return None
    try:
        with torch.no_grad():
            return tuple(layer(torch.zeros(1, *shape)).shape[1:])
    except RuntimeError:
        return None


def _pair(draw, low, high):
    return (draw(st.integers(low, high)), draw(st.integers(low, high)))


@st.composite
def networks(draw):
    shape = (draw(st.integers(1, 4)), draw(st.integers(5, 24)), draw(st.integers(5, 24)))
    input_shape = shape
    layers: list[nn.Module] = []
    for _ in range(draw(st.integers(1, 4))):
        kind = draw(st.sampled_from(["maxpool", "conv", "avgpool"]))
        functional = draw(st.booleans())
        if kind == "conv":
            cin = shape[0]
            groups = draw(st.sampled_from([g for g in range(1, cin + 1) if cin % g == 0]))
            filters = groups * draw(st.integers(1, 3))
            kernel = _pair(draw, 1, 5)
            options = {
                "stride": _pair(draw, 1, 3),
                "padding": _pair(draw, 0, 2),
                "dilation": _pair(draw, 1, 2),
                "groups": groups,
            }
            module = nn.Conv2d(cin, filters, kernel, bias=draw(st.booleans()), **options)
            layer = Functional("conv", module, **options) if functional else module
            out = _fits(layer, shape, kernel, options["padding"], options["dilation"])
        else:
            kernel = _pair(draw, 1, 3)
            options = {
                "kernel_size": kernel,
                "stride": _pair(draw, 1, 3),
                "padding": (draw(st.integers(0, kernel[0] // 2)), draw(st.integers(0, kernel[1] // 2))),
                "ceil_mode": draw(st.booleans()),
            }
            if kind == "maxpool":
                options["dilation"] = _pair(draw, 1, 2)
                layer = Functional("maxpool", **options) if functional else nn.MaxPool2d(**options)
            else:
                options["count_include_pad"] = draw(st.booleans())
                layer = Functional("avgpool", **options) if functional else nn.AvgPool2d(**options)
            out = _fits(layer, shape, kernel, options["padding"], options.get("dilation", (1, 1)))
        if out is None or min(out) < 1:
            continue
        layers.append(layer)
        shape = out
    layers.append(Functional("flatten") if draw(st.booleans()) else nn.Flatten())
    features = shape[0] * shape[1] * shape[2]
    for _ in range(draw(st.integers(1, 2))):
        units = draw(st.integers(1, 12))
        module = nn.Linear(features, units, bias=draw(st.booleans()))
        layers.append(Functional("linear", module) if draw(st.booleans()) else module)
        features = units
    return nn.Sequential(*layers).eval(), input_shape


def _hook_shapes(model: nn.Module, x) -> dict[str, tuple[int, ...]]:
    shapes: dict[str, tuple[int, ...]] = {}

    def record(name):
        def hook(module, args, out):
            shapes[name] = tuple(out.shape[1:])

        return hook

    handles = [m.register_forward_hook(record(name)) for name, m in model.named_children()]
    try:
        with torch.no_grad():
            model(x)
    finally:
        for handle in handles:
            handle.remove()
    return shapes


@SETTINGS
@given(networks())
def test_random_stacks_match_torch_and_fvcore(case):
    model, input_shape = case
    x = torch.randn(BATCH, *input_shape)
    shapes = _hook_shapes(model, x)
    exact = analyze_module(model, input_shape, batch=BATCH, convention="exact")
    names = [name for name, _ in model.named_children()]
    assert [row.name for row in exact.rows] == names
    assert exact.not_counted == {}
    for row, (name, module) in zip(exact.rows, model.named_children()):
        assert row.output_shape == shapes[name], name
        assert row.params == sum(p.numel() for p in module.parameters()), name
    assert exact.totals.params == sum(p.numel() for p in model.parameters())

    analysis = fvcore_nn.FlopCountAnalysis(model, x)
    analysis.unsupported_ops_warnings(False)
    analysis.uncalled_modules_warnings(False)
    per_module = analysis.by_module()
    fvcore_report = analyze_module(model, input_shape, batch=BATCH, convention="fvcore")
    for row in fvcore_report.rows:
        assert row.flops == per_module[row.name], row.name
        if row.op in ("conv", "linear"):
            assert row.macs == per_module[row.name], row.name
    assert fvcore_report.totals.flops == analysis.total()

    from torch.utils.flop_counter import FlopCounterMode

    with FlopCounterMode(display=False) as counter, torch.no_grad():
        model(x)
    torch_report = analyze_module(model, input_shape, batch=BATCH, convention="torch")
    assert torch_report.totals.flops == counter.get_total_flops()


@SETTINGS
@given(networks())
def test_meta_copy_matches_real_weights(case):
    """The same network built on the meta device gives the same report (no weights needed)."""
    model, input_shape = case
    real = analyze_module(model, input_shape, convention="exact")
    meta = analyze_module(_meta_twin(model), input_shape, convention="exact")
    assert meta.rows == real.rows and meta.totals == real.totals


def _meta_twin(model: nn.Module) -> nn.Module:
    import copy

    memo = {
        id(p): nn.Parameter(torch.empty_like(p, device="meta"), requires_grad=p.requires_grad)
        for p in model.parameters()
    }
    return copy.deepcopy(model, memo)
