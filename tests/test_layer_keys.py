"""Layers derived once per distinct key (archcalc.layer_keys): the key tells apart what a rule may
treat differently, and a layer looked up gives what deriving it alone gives."""

from __future__ import annotations

from fractions import Fraction

import pytest

import archcalc
from archcalc.layer_keys import layer_key
from archcalc.spec.loader import LineList, LineStr

SHAPES = ((4, 8, 8),)


@pytest.mark.parametrize("a, b", [
    (3, 3.0), (1, True), (0, False), ((3, 3), [3, 3]), ((1, (1, 1)), (1, [1, 1])), ("3", 3), (None, 0),
], ids=["int-float", "int-bool", "zero-false", "tuple-list", "nested", "str-int", "none-zero"])
def test_values_python_finds_equal_give_different_keys(a, b):
    assert layer_key("conv", {"kernel": a}, SHAPES) != layer_key("conv", {"kernel": b}, SHAPES)


def test_op_shapes_and_output_are_in_the_key():
    assert layer_key("conv", {}, SHAPES) != layer_key("maxpool", {}, SHAPES)
    assert layer_key("conv", {}, SHAPES) != layer_key("conv", {}, ((4, 8, 9),))
    assert layer_key("conv", {}, SHAPES, (4, 8, 8)) != layer_key("conv", {}, SHAPES, (4, 6, 6))


def test_spec_text_and_lists_read_as_their_values():
    """The spec reader's strings and lists carry a line; the same text on two lines is one layer."""
    text, items = LineStr("same"), LineList([3, 3])
    text.line, items.line = 7, 8
    assert layer_key("conv", {LineStr("pad"): text, "kernel": items}, SHAPES) == \
        layer_key("conv", {"pad": "same", "kernel": [3, 3]}, SHAPES)


def test_equal_values_shared_or_not_give_one_key():
    pair = (1, 1)
    assert layer_key("conv", {"pad": (pair, pair)}, SHAPES) == layer_key("conv", {"pad": ((1, 1), (1, 1))}, SHAPES)


@pytest.mark.parametrize("value", [Fraction(1, 2), object(), {1, 2}.__class__], ids=["fraction", "object", "type"])
def test_values_of_other_types_give_no_key(value):
    assert layer_key("conv", {"x": value}, SHAPES) is None


def test_a_layer_after_its_twin_fails_as_it_fails_alone():
    """``groups: true`` equals ``groups: 1`` to Python, but is refused: after a twin with
    ``groups: 1`` (same input shape), it is derived, not looked up, and refused all the same."""
    twin = "conv: {filters: 3, kernel: 3, pad: 1, groups: 1}"
    bad = "conv: {filters: 3, kernel: 3, pad: 1, groups: true}"
    for spec in (f"{{name: m, input: 8x8x3, layers: [{bad}]}}", f"{{name: m, input: 8x8x3, layers: [{twin}, {bad}]}}"):
        with pytest.raises(archcalc.ArchcalcError, match="groups must be a whole number"):
            archcalc.analyze(spec)


def test_repeated_layers_own_their_attributes():
    """Rows of a repeat share a derivation, not a mutable mapping."""
    report = archcalc.analyze("{name: m, input: 8x8x4, layers: [{repeat: 3, layers: [conv: {filters: 4, kernel: 3, pad: 1}]}]}")
    first, second, third = report.rows
    assert first.attrs == second.attrs == third.attrs
    assert first.attrs is not second.attrs and second.attrs is not third.attrs
    # the receptive field still grows layer by layer: 3, 5, 7 (Distill recurrence, stride 1)
    assert [row.rf.size for row in report.rows] == [(3, 3), (5, 5), (7, 7)]


def _zoo_and_live_graphs():
    from archcalc.api import load_graph
    from archcalc.zoo import zoo_names

    for name in zoo_names():
        yield name, load_graph(name)[0]
    torch = pytest.importorskip("torch")
    from archcalc.frontends.torch_module import capture_module

    class Block(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = torch.nn.Conv2d(3, 3, 3, padding=1)
            self.norm = torch.nn.BatchNorm2d(3)

        def forward(self, x):
            return torch.relu(self.norm(self.conv(x))) + x

    yield "live", capture_module(torch.nn.Sequential(Block(), Block(), torch.nn.Flatten(), torch.nn.Linear(48, 5)),
                                 "3x4x4").graph


def test_the_key_a_node_carries_is_the_key_of_its_layer():
    """The builder gives each node the key of what it derived (the analysis looks its results up by
    it): for every node of every zoo network and a live module, the key made afresh from the node."""
    checked = 0
    for name, graph in _zoo_and_live_graphs():
        for node in graph.nodes:
            assert node.key == layer_key(node.op, node.attrs, node.input_shapes, node.rule_output_shape), (name, node.name)
            checked += node.key is not None
    assert checked > 1000


def test_rounds_of_a_repeat_read_as_the_layers_written_out():
    """A repeat's rounds read each plain-number mapping once (the loader keeps what it read): the
    report is the one of the same layers written out by hand, alias keys and shrinking shapes
    included, and a round that no longer fits fails as the written-out layer does."""
    body = "[conv2d: {filters: 6, kernel: 3, stride: 2}, relu, maxpool: {size: 2, stride: 1}]"
    repeated = archcalc.analyze(f"{{name: m, input: 64x64x3, layers: [{{repeat: 3, layers: {body}}}]}}")
    written = archcalc.analyze("{name: m, input: 64x64x3, layers: [" + ", ".join(
        f"conv2d: {{name: conv{i}, filters: 6, kernel: 3, stride: 2}}, relu: {{name: relu{i}}}, "
        f"maxpool: {{name: maxpool{i}, size: 2, stride: 1}}" for i in (1, 2, 3)) + "]}")
    assert [(r.name, r.output_shape, r.macs, r.params, r.rf) for r in repeated.rows] == \
        [(r.name, r.output_shape, r.macs, r.params, r.rf) for r in written.rows]
    assert [r.output_shape for r in repeated.rows][::3] == [(6, 31, 31), (6, 14, 14), (6, 6, 6)]
    with pytest.raises(archcalc.ArchcalcError) as too_many:
        archcalc.analyze(f"{{name: m, input: 64x64x3, layers: [{{repeat: 6, layers: {body}}}]}}")
    # rounds 1-4 take 64 to 31, 14, 6, 2 pixels (conv stride 2, then a 2x2 pool stride 1): the fifth conv fails
    assert "layer 'conv5' (conv): kernel 3 is larger than the padded input height" in str(too_many.value)
