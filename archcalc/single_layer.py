"""Single-layer questions: one layer on one input, answered by the same rules as networks.

``analyze_layer("conv2d", "32x32x3", {"filters": 10, "kernel": 5, "pad": 2})``
builds a one-node Graph through :class:`archcalc.ir.GraphBuilder` and runs
:func:`archcalc.analysis.analyze_graph`, so every number (output shape,
parameters, activation memory, MACs, FLOPs, receptive field) comes from the
layer's rule. Families add words for exercises (``Family.shorthands`` and
``Family.composites``); the conv family's:

* ``depthwise``: a convolution with ``groups = Cin`` (``multiplier`` filters per channel);
* ``pointwise_conv``: a 1 x 1 convolution;
* ``dilated``: a convolution with ``dilation`` 2 unless given;
* ``transposed``: a transposed convolution;
* ``separable``: depthwise ``kernel x kernel`` then pointwise 1 x 1 to ``filters``
  channels (two layers, as in MobileNet and Xception).

A question is read as a course means it (:meth:`~archcalc.layers.base.Rule.question_args`):
"a fully connected layer of 256 units on a 28x28x1 input" connects every input
to every unit (784 x 256 + 256 parameters), so a dense layer flattens an image
first; ``per_position`` asks for torch's ``nn.Linear`` on the last axis instead.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Any, Mapping

from archcalc.analysis import analyze_graph
from archcalc.conventions import Convention, get_convention
from archcalc.errors import AnalysisWarning, InputError
from archcalc.inputs import parse_numbers, read_input
from archcalc.ir import INPUT, Graph, GraphBuilder
from archcalc.layers import all_families, all_ops, get_rule
from archcalc.report import Report


def _shorthands() -> dict[str, tuple[str, dict[str, Any], str]]:
    """Single-layer question words of every family (``depthwise`` -> a conv with depthwise on)."""
    return {name: entry for family in all_families().values() for name, entry in family.shorthands.items()}


def _composites() -> dict[str, tuple[Callable[..., None], tuple[str, ...], str]]:
    """Questions about a few layers at once (``separable``), by name and alias."""
    found = {}
    for family in all_families().values():
        for name, (build, aliases, summary) in family.composites.items():
            for word in (name, *aliases):
                found[word] = (build, aliases if word == name else (), summary)
    return found


def layer_types() -> list[tuple[str, tuple[str, ...], str]]:
    """(name, aliases, summary) of the layer types a single-layer question is about: the
    one-input rules (merges need branches; ops recorded from live modules need torch) and
    the families' shorthands and composites."""
    types = [
        (op, tuple(rule.aliases), rule.summary)
        for op, rule in sorted(all_ops().items())
        if rule.arity == 1 and "fn" not in rule.keys  # one input; not an op recorded from a live module
    ]
    types += [(name, (), summary) for name, (_, _, summary) in _shorthands().items()]
    for family in all_families().values():
        types += [(name, aliases, summary) for name, (_, aliases, summary) in family.composites.items()]
    return types


def layer_graph(
    op: str,
    input_shape: tuple[int, ...],
    args: Mapping[str, Any] | None = None,
    strict: bool = False,
    per_position: bool = False,
) -> Graph:
    """The Graph of one layer (or of a composite such as ``separable``) on ``input_shape`` (C, H, W),
    with the arguments the question implies (``question_args``) under the ones given."""
    args = dict(args or {})
    word = op.lower()
    shape = tuple(input_shape)
    builder = GraphBuilder(name=op, input_shape=shape, strict=strict, description=f"a single {op} layer")
    composites = _composites()
    if word in composites:
        if per_position:
            raise InputError(f"--per-position is about dense layers (on the last axis), not {op}")
        composites[word][0](builder, args, INPUT)
        return builder.build()
    shorthands = _shorthands()
    if word in shorthands:
        base, defaults, _ = shorthands[word]
        implied = get_rule(base).question_args(shape, per_position)
        builder.add(word, base, {**implied, **defaults, **args}, [INPUT])
        return builder.build()
    rule = get_rule(word)
    builder.add(rule.op, rule.op, {**rule.question_args(shape, per_position), **args}, [INPUT])
    return builder.build()


def analyze_layer(
    op: str,
    input: Any,
    args: Mapping[str, Any] | None = None,
    *,
    batch: int = 1,
    dtype: str = "float32",
    convention: str | Convention = "macs",
    include: tuple[str, ...] = (),
    exclude: tuple[str, ...] = (),
    layout: str | None = None,
    strict: bool = False,
    per_position: bool = False,
) -> Report:
    """The Report of one layer on ``input`` (``"32x32x3"`` as H x W x C, ``"4x31"`` with
    ``layout="chw"`` a sequence C x L, ``"5x9x9x2"`` a volume D x H x W x C, or ``4096``).

    >>> analyze_layer("conv2d", "32x32x3", {"filters": 10, "kernel": 5, "pad": 2}).totals.params
    760
    >>> analyze_layer("fc", "28x28x1", {"units": 256}).totals.params  # flattened: 784 * 256 + 256
    200960
    """
    if input is None:
        raise InputError("a single-layer question needs --input, e.g. --input 32x32x3 (or 4096 for a vector)")
    numbers = parse_numbers(input)
    note = None
    if len(numbers) == 2 and (layout or "").lower() == "chw":  # a sequence C x L (nn.Conv1d, nn.MaxPool1d...)
        shape = tuple(numbers)
    else:
        reading = read_input(input, expected_channels=None, layout=layout)
        shape, note = reading.shape, reading.note
    if isinstance(convention, str):
        convention = get_convention(convention, include, exclude)
    graph = layer_graph(op, shape, args, strict=strict, per_position=per_position)
    if note:
        graph = replace(graph, warnings=(AnalysisWarning(note, kind="input"), *graph.warnings))
    return analyze_graph(graph, batch=batch, dtype=dtype, convention=convention)
