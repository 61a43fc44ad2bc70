"""The independent check of ``archcalc quiz``: 200 random single-layer variants against real torch layers.

For every variant the test builds the layer itself, in torch, from the numbers drawn for the
student (not through archcalc's torch builder), and compares the key with:

* the output shape of a forward pass, and its memory (``numel() * 4`` bytes);
* ``sum(p.numel())`` for the parameters;
* ``torch.utils.flop_counter.FlopCounterMode`` for the FLOPs (its count is 2 x MACs, no bias,
  the ``flops`` convention the quiz uses by default) and the MACs (half of it);
* the receptive field, measured with autograd: the input pixels with a non-zero gradient of
  one central output, with every weight set to 1 (max pooling measured as average pooling of
  the same window, whose gradient reaches every pixel of the window).

A second set of variants, drawn with ``allow_floor``, checks the floored shapes too.
"""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")
from torch import nn  # noqa: E402
from torch.utils.flop_counter import FlopCounterMode  # noqa: E402

from archcalc.quiz import QuizOptions, make_quiz  # noqa: E402

torch.set_num_threads(1)  # small layers: threads only contend on a shared machine

VARIANTS = make_quiz("layer", QuizOptions(), students=200, seed=2024)
FLOORED = make_quiz("layer", QuizOptions(allow_floor=True), students=60, seed=99)


def build(kind: str, v: dict) -> tuple[nn.Module, nn.Module | None]:
    """The torch layer of a variant from its drawn values, and the module whose receptive field is measured."""
    c = v.get("channels")
    if kind == "conv":
        layer = nn.Conv2d(c, v["filters"], v["kernel"], v["stride"], v["pad"])
    elif kind == "dilated":
        layer = nn.Conv2d(c, v["filters"], v["kernel"], v["stride"], v["pad"], dilation=v["dilation"])
    elif kind == "depthwise":
        layer = nn.Conv2d(c, c, v["kernel"], v["stride"], v["pad"], groups=c)
    elif kind == "separable":
        layer = nn.Sequential(nn.Conv2d(c, c, v["kernel"], v["stride"], v["pad"], groups=c),
                              nn.Conv2d(c, v["filters"], 1))
    elif kind == "transposed":
        layer = nn.ConvTranspose2d(c, v["filters"], v["kernel"], v["stride"], v["pad"],
                                   output_padding=v["output_padding"])
        return layer, None
    elif kind == "pool":
        window = (v["kernel"], v["stride"], v["pad"])
        layer = nn.MaxPool2d(*window) if v["op"] == "maxpool" else nn.AvgPool2d(*window)
        return layer, nn.AvgPool2d(*window)
    elif kind == "dense":
        layer = nn.Sequential(nn.Flatten(), nn.Linear(v["size"] * v["size"] * c, v["units"]))
    else:
        raise AssertionError(kind)
    return layer, layer


def measured_rf(module: nn.Module, channels: int, size: int) -> int | None:
    """The extent, per side, of the input pixels one central output depends on (None when it
    touches the border, where padding cuts it)."""
    with torch.no_grad():
        for parameter in module.parameters():
            parameter.fill_(1.0 if parameter.dim() > 1 else 0.0)
    x = torch.ones(1, channels, size, size, requires_grad=True)
    y = module(x)
    if y.dim() == 4:
        out = y[0, 0, y.shape[2] // 2, y.shape[3] // 2]
    else:
        out = y[0, 0]
    out.backward()
    rows = torch.nonzero(x.grad[0].abs().sum(dim=(0, 2))).flatten()
    first, last = int(rows.min()), int(rows.max())
    if (first == 0 or last == size - 1) and y.dim() == 4:
        return None
    return last - first + 1


def key_of(variant) -> dict:
    """The key's answers of the variant's last asked layer, and its total row."""
    rows = [r for r in variant.rows if r.label != "total"]
    answers = {q: a.value for q, a in rows[-1].answers.items()}
    total = next((r for r in variant.rows if r.label == "total"), None)
    if total is not None:
        answers.update({f"total_{q}": a.value for q, a in total.answers.items()})
    if len(rows) == 2:  # separable: the first layer's counts too
        answers.update({f"first_{q}": a.value for q, a in rows[0].answers.items()})
    return answers


def torch_numbers(kind: str, v: dict):
    layer, rf_module = build(kind, v)
    x = torch.zeros(1, v["channels"], v["size"], v["size"])
    with FlopCounterMode(display=False) as counter:
        y = layer(x)
    params = sum(p.numel() for p in layer.parameters())
    return layer, rf_module, y, params, counter.get_total_flops()


def test_the_200_variants_cover_every_single_layer_kind():
    kinds = {v.values["layer"] for v in VARIANTS}
    assert kinds == {"conv", "pool", "dense", "depthwise", "separable", "dilated", "transposed"}
    assert len(VARIANTS) == 200


@pytest.mark.parametrize("variant", VARIANTS, ids=[f"{v.number}-{v.values['layer']}" for v in VARIANTS])
def test_key_matches_a_real_torch_layer(variant):
    kind = variant.values["layer"]
    v = dict(variant.values)
    layer, rf_module, y, params, flops = torch_numbers(kind, v)
    key = key_of(variant)
    out_shape = tuple(y.shape[1:])
    assert key["shape"] == out_shape, (v, key["shape"], out_shape)
    assert key["memory"] == y.numel() * 4
    total_params = key.get("total_params", key["params"])
    assert total_params == params
    if "macs" in key:
        total_macs = key.get("total_macs", key["macs"] + key.get("first_macs", 0))
        total_flops = key.get("total_flops", key["flops"] + key.get("first_flops", 0))
        assert total_flops == flops, (v, total_flops, flops)
        assert 2 * total_macs == flops
    if "rf" in key and rf_module is not None:
        measured = measured_rf(rf_module, v["channels"], v["size"])
        if measured is not None:
            assert key["rf"][0] == key["rf"][1] == measured, (v, key["rf"], measured)


@pytest.mark.parametrize("variant", FLOORED, ids=[f"{v.number}-{v.values['layer']}" for v in FLOORED])
def test_floored_variants_match_torch_too(variant):
    kind = variant.values["layer"]
    layer, _, y, params, flops = torch_numbers(kind, dict(variant.values))
    key = key_of(variant)
    assert key["shape"] == tuple(y.shape[1:])
    assert key.get("total_params", key["params"]) == params


def test_the_receptive_field_is_measured_for_most_variants():
    """Not a vacuous check: the centre output's field lies inside the input for most variants."""
    measured = 0
    for variant in VARIANTS[:60]:
        kind = variant.values["layer"]
        _, rf_module = build(kind, dict(variant.values))
        if rf_module is not None and "rf" in variant.rows[-1].answers:
            measured += measured_rf(rf_module, variant.values["channels"], variant.values["size"]) is not None
    assert measured >= 40


def test_some_floored_variants_are_traps_and_no_default_one_is():
    """--allow-floor draws sizes where (W - F + 2P)/S + 1 is not whole; by default every draw fits."""
    import archcalc

    def floors(variant) -> bool:
        report = archcalc.analyze(variant.model, variant.input)
        return any(w.kind == "fit" for w in report.warnings)

    assert not any(floors(v) for v in VARIANTS)
    assert sum(floors(v) for v in FLOORED) >= 5
