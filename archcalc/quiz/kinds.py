"""The kinds of exercise ``archcalc quiz`` writes, and how each builds one student's variant.

* single layer (one kind per template of ``exercises/layers.yaml``: conv, pool, dense,
  depthwise, separable, dilated, transposed) and ``layer`` (one of them per student);
* ``table``: fill in a table over a zoo model, a spec, or a small CNN drawn per student;
* ``rf``: the receptive field after each layer of a drawn stack (or of a model);
* ``compare``: two designs of the same job (``exercises/compare.yaml``);
* ``find-error``: a filled table with planted mistakes to find and correct.

Every answer comes from archcalc's analysis of the variant's network (:mod:`archcalc.quiz.answers`).
"""

from __future__ import annotations

import random
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from archcalc.errors import InputError
from archcalc.layers import lookup
from archcalc.quiz.answers import block_answers, input_answers, layer_answers, total_answers
from archcalc.quiz.draws import variant_random
from archcalc.quiz.networks import (
    Analysis,
    Network,
    draw_network,
    model_network,
    stack_layers,
    template_layers,
)
from archcalc.quiz.sheet import QUANTITIES, Row, Variant
from archcalc.quiz.styles import Style, column, shape_words, style
from archcalc.quiz.templates import settings, template, templates
from archcalc.report import LayerRow, Report, describe_attrs


@dataclass(frozen=True)
class QuizOptions:
    """What the teacher chose (the command's options).

    ``fixed``: values given with ``--set``; ``classic``: the published exercise's values;
    ``style``, ``rows``, ``columns``: the table (``table``, ``find-error``); ``errors``: how
    many mistakes a "find the error" table has."""

    model: str | None = None
    input: str | None = None
    convention: str = "flops"
    dtype: str = "float32"
    batch: int = 1
    fixed: Mapping[str, Any] = field(default_factory=dict)
    classic: bool = False
    allow_floor: bool = False
    style: str = "plain"
    rows: tuple[str, ...] = ()
    columns: tuple[str, ...] = ()
    errors: int = 3


@dataclass(frozen=True)
class Kind:
    """A kind of exercise: its name, its group, what MODEL means for it, how a variant is built."""

    name: str
    group: str
    summary: str
    model: str
    build: Callable[[str, int, int, QuizOptions], Variant]


# -- shared pieces -----------------------------------------------------------------------


#: settings a student reads in words (``stride 2``), in the order courses say them
_SETTING_WORDS = (("stride", "stride"), ("pad", "pad"), ("dilation", "dilation"), ("groups", "groups"))


def type_text(row: LayerRow) -> str:
    """The Type column, in words a student reads: ``conv 3x3, 16 filters, stride 1, pad 1``,
    ``maxpool 2x2, stride 2``, ``linear, 10 units`` (not ``conv f16 k3``, which reads like float16)."""
    from archcalc.render.table import ordered_attrs

    attrs = dict(ordered_attrs(row.attrs))
    head = row.op
    kernel = attrs.pop("kernel", None)
    if kernel is not None:
        head += f" {_side(kernel, square=True)}"
    parts = [head]
    if attrs.get("filters") is not None:
        parts.append(f"{attrs.pop('filters')} filters")
    if attrs.get("units") is not None:
        parts.append(f"{attrs.pop('units')} units")
    for key, word in _SETTING_WORDS:
        value = attrs.pop(key, None)
        if value is None or (key in ("dilation", "groups") and _side(value) == "1"):
            continue
        parts.append(f"{word} {_side(value)}")
    rest = describe_attrs(row.op, {k: v for k, v in attrs.items() if k not in ("filters", "units")})
    if rest:
        parts.append(rest)
    return ", ".join(parts)


def _side(value: Any, square: bool = False) -> str:
    """``3`` or ``(3, 3)`` -> ``3`` (``3x3`` for a kernel); ``(1, 2)`` -> ``1x2``."""
    if isinstance(value, (list, tuple)):
        if all(isinstance(v, (list, tuple)) and len(v) == 2 and v[0] == v[1] for v in value):
            value = tuple(v[0] for v in value)  # symmetric padding ((1, 1), (1, 1)) -> (1, 1)
        flat = [str(v) for v in value]
        if len(set(flat)) == 1:
            return "x".join(flat) if square else flat[0]
        return "x".join(flat)
    return f"{value}x{value}" if square else str(value)


def _analysis(options: QuizOptions, convention: str | None = None) -> Analysis:
    return Analysis(convention or options.convention, options.dtype, options.batch, options.allow_floor)


def _plain(questions: list[str], convention: str) -> Style:
    """The plain style's columns for ``questions`` (no FLOPs column when FLOPs are MACs)."""
    wanted = [q for q in questions if not (q == "flops" and convention == "macs")]
    base = style("plain")
    by_quantity = {c.quantity: c for c in base.columns}
    return replace(base, columns=tuple(by_quantity.get(q) or column(q) for q in wanted), total=())


def instructions(variant_style: Style, report: Report, has_total: bool = False) -> tuple[str, ...]:
    """What each column asks, in words."""
    said = []
    nbytes = report.bytes_per_element
    batch = f", batch {report.batch}" if report.batch != 1 else ""
    for col in variant_style.columns:
        quantity = col.quantity
        if quantity == "shape":
            said.append(f"{col.heading}: the output shape, {shape_words(variant_style.shape)} (a vector: its length)")
        elif quantity == "weights":
            said.append(f"{col.heading}: the weights, without the biases")
        elif quantity == "biases":
            said.append(f"{col.heading}: the biases")
        elif quantity == "params":
            said.append(f"{col.heading}: the learnable parameters, weights + biases"
                        + (f", in {_unit_words(col.unit)}" if col.unit else ""))
        elif quantity == "memory":
            unit = {"elements": "elements (numbers stored)", "B": "bytes"}.get(col.unit, col.unit + " (1 KB = 1024 B)")
            said.append(f"{col.heading}: the memory of the layer's output in {unit}, {report.dtype} "
                        f"({nbytes} B per element){batch}")
        elif quantity == "macs":
            said.append(f"{col.heading}: multiply-accumulates" + (f", in {_unit_words(col.unit)}" if col.unit else ""))
        elif quantity == "flops":
            said.append(f"{col.heading}: counted under the convention {report.convention.name}: "
                        f"{report.convention.label}" + (f", in {_unit_words(col.unit)}" if col.unit else ""))
        elif quantity == "rf":
            said.append(f"{col.heading}: how many input pixels one output sees, per side")
    if has_total:
        said.append("total: the whole network (each parameter counted once, memory of every layer's output)")
    return tuple(said)


def _unit_words(unit: str) -> str:
    return {"K": "thousands", "M": "millions", "G": "billions"}.get(unit, unit)


def _fixed(options: QuizOptions, body: Mapping[str, Any], name: str) -> dict[str, Any]:
    """The values the teacher fixed: ``--classic`` (the template's published values), ``--set``,
    and a square ``--input HxWxC`` as ``size`` and ``channels``."""
    fixed: dict[str, Any] = {}
    if options.classic:
        if "classic" not in body:
            raise InputError(f"the '{name}' exercise has no published (--classic) version")
        fixed.update(body["classic"])
    text = quiz_input(options)
    if text is not None:
        from archcalc.inputs import read_input

        shape = read_input(text).shape  # the one reading of every command (H x W x C, or C x H x W said so)
        if len(shape) != 3 or shape[1] != shape[2]:
            raise InputError(f"--input {text!r}: a drawn exercise takes a square H x W x C input "
                             "(e.g. 32x32x3)")
        fixed.update({"size": shape[1], "channels": shape[0]})
    fixed.update({k: v for k, v in options.fixed.items() if k != "input"})
    return fixed


def quiz_input(options: QuizOptions) -> str | None:
    """The input the teacher fixed: ``--input`` or ``--set input=...`` (read by :func:`archcalc.inputs.read_input`)."""
    if options.input is not None:
        return options.input
    value = options.fixed.get("input")
    return None if value is None else str(value)


def _layer_rows(report: Report, names: list[str] | None, columns, row_style: Style) -> list[Row]:
    rows = []
    for layer in report.rows:
        if names is not None and layer.name not in names:
            continue
        rows.append(Row(layer.name, type_text(layer), layer_answers(layer, report, columns, row_style), layer.name))
    return rows


def _variant(kind: str, number: int, seed: int, title: str, statement: str, network: Network, convention: str,
             options: QuizOptions, columns, rows: list[Row], variant_style: Style, **extra) -> Variant:
    report = network.report
    has_total = any(r.label == "total" for r in rows)
    return Variant(
        kind=kind, number=number, seed=seed, title=title, statement=statement, model=network.model,
        input=network.input, convention=convention, columns=tuple(columns), rows=tuple(rows),
        dtype=options.dtype, batch=options.batch, layout=variant_style.shape, values=dict(network.values),
        instructions=instructions(replace(variant_style, columns=tuple(columns)), report, has_total),
        report=report, **extra,
    )


# -- single layer --------------------------------------------------------------------------


def single_layer(name: str) -> Callable[[str, int, int, QuizOptions], Variant]:
    """The builder of the single-layer kind ``name`` (a template of layers.yaml)."""

    def build(kind: str, number: int, seed: int, options: QuizOptions) -> Variant:
        body = template("layers", name)
        rng = variant_random(kind, seed, number)
        network = draw_network(f"{name}-{number}", body, rng, _analysis(options), _fixed(options, body, name),
                               template_layers(body, f"quiz template '{name}'"))
        report = network.report
        layer_style = _plain(list(body["questions"]), options.convention)
        columns = layer_style.columns
        rows = _layer_rows(report, body.get("ask"), columns, layer_style)
        total = [c for c in columns if c.quantity in body.get("total", [])]
        if total:
            rows.append(Row("total", "", total_answers(report, total, layer_style)))
        statement = body["statement"].format(**network.values)
        return _variant(kind, number, seed, body["title"], statement, network, options.convention, options,
                        columns, rows, layer_style)

    return build


def any_single_layer(kind: str, number: int, seed: int, options: QuizOptions) -> Variant:
    """One single-layer kind per student, dealt round-robin (variant k gets the k-th kind of an
    order shuffled once by the seed), so that 30 students of 7 kinds get 4 or 5 of each."""
    names = list(templates("layers"))
    variant_random(kind, seed, 0).shuffle(names)  # variant numbers start at 1: 0 is the deal's own draw
    chosen = names[(number - 1) % len(names)]
    variant = single_layer(chosen)(kind, number, seed, options)
    return replace(variant, values={"layer": chosen, **variant.values})


# -- tables over a network -----------------------------------------------------------------


def _network(kind: str, number: int, seed: int, options: QuizOptions, convention: str,
             stack: str) -> tuple[Network, str]:
    """The network of a table: MODEL (the input drawn per student unless --input or --classic), or a
    network drawn from the stack template ``stack``. Also the exercise's title."""
    analysis = _analysis(options, convention)
    if options.model:
        given = quiz_input(options)
        rng = None if given is not None or options.classic else variant_random(kind, seed, number)
        network = model_network(options.model, given, analysis, rng)
        return network, f"{network.report.model} at {network.input}"
    body = template("stacks", stack)
    rng = variant_random(kind, seed, number)
    fixed = _fixed(options, body, stack)
    layers_of = stack_layers(body, f"quiz template '{stack}'")
    network = draw_network(f"{stack}-{number}", body, rng, analysis, fixed, layers_of)
    return network, body["title"]


def selected(report: Report, words: tuple[str, ...]) -> list[LayerRow]:
    """The layers a table asks about: ``all``, or kinds (``conv``, ``pool``, ``linear``: a layer
    type, an alias, or a category) and layer names (whole, or a dotted suffix)."""
    if not words or "all" in words:
        return list(report.rows)
    ops, categories, names = set(), set(), set()
    for word in words:
        rule = lookup(word)
        if rule is not None:
            ops.add(rule.op)
        elif any(r.category == word for r in report.rows):
            categories.add(word)
        else:
            names.add(word)
    found = [r for r in report.rows
             if r.op in ops or r.category in categories
             or any(r.name == n or r.name.endswith("." + n) for n in names)]
    unknown = [n for n in names if not any(r.name == n or r.name.endswith("." + n) for r in report.rows)]
    if unknown:
        raise InputError(f"--rows: '{unknown[0]}' is neither a layer kind nor a layer of {report.model}")
    if not found:
        raise InputError(f"--rows {','.join(words)}: no layer of {report.model} is of these kinds")
    return found


def _describe_layers(report: Report) -> str:
    lines = [f"{i}. `{row.name}`: {type_text(row)}" for i, row in enumerate(report.rows, start=1)]
    legend = "(f: filters, k: kernel, s: stride, p: padding, d: dilation, g: groups)"
    return "\n".join(lines) + "\n\n" + legend


def _table_style(options: QuizOptions) -> Style:
    chosen = style(options.style)
    return chosen.with_choices(options.rows, options.columns)


#: the rows of the last reports tabled: (id of the report, style) -> (the report, its rows). Variants
#: at the same input size share a Report (:func:`archcalc.quiz.networks.Analysis.run` keeps them), and
#: then the same rows: 1,000 students of ``quiz table vgg16`` table a few hundred reports, not 1,000
_ROWS: dict[tuple[int, Style], tuple[Report, list[Row]]] = {}


def table_rows(report: Report, table_style: Style) -> list[Row]:
    """The table's rows: the input row, the chosen layers, the total row (rows are frozen, and
    computed once per report and style)."""
    key = (id(report), table_style)
    kept = _ROWS.get(key)
    if kept is not None and kept[0] is report:
        return list(kept[1])
    rows = _table_rows(report, table_style)
    if len(_ROWS) >= 1024:
        _ROWS.clear()
    _ROWS[key] = (report, rows)
    return list(rows)


def _table_rows(report: Report, table_style: Style) -> list[Row]:
    columns = table_style.columns
    rows = []
    if table_style.input_row:
        rows.append(Row("input", "", input_answers(report, columns, table_style)))
    for layer in selected(report, table_style.rows):
        rows.append(Row(layer.name, type_text(layer), layer_answers(layer, report, columns, table_style), layer.name))
    total = [c for c in columns if c.quantity in table_style.total]
    if total:
        rows.append(Row("total", "", total_answers(report, total, table_style)))
    return rows


def fill_table(kind: str, number: int, seed: int, options: QuizOptions) -> Variant:
    """A table to fill in over MODEL (or a drawn small CNN)."""
    table_style = _table_style(options)
    convention = table_style.convention or options.convention
    network, title = _network(kind, number, seed, options, convention, "cnn")
    report = network.report
    rows = table_rows(report, table_style)
    statement = f"Fill in the table for {report.model} on a {network.input} input (H x W x C)."
    if not options.model:
        statement = template("stacks", "cnn")["statement"].format(**network.values) + "\n\n" + _describe_layers(report)
    return _variant(kind, number, seed, f"Table: {title}", statement, network, convention, options,
                    table_style.columns, rows, table_style)


def receptive_field(kind: str, number: int, seed: int, options: QuizOptions) -> Variant:
    """The receptive field (and shape) after each layer of a drawn stack, or of MODEL's layers."""
    body = template("stacks", "rf")
    table_style = _table_style(replace(options, columns=options.columns or tuple(body["questions"]),
                                       rows=options.rows or (tuple(body["model_rows"]) if options.model else ())))
    network, _ = _network(kind, number, seed, options, options.convention, "rf")
    report = network.report
    rows = table_rows(report, replace(table_style, total=(), input_row=False))
    if options.model:
        statement = f"Give the receptive field after each listed layer of {report.model} on a {network.input} input."
    else:
        statement = body["statement"].format(**network.values) + "\n\n" + _describe_layers(report)
    return _variant(kind, number, seed, body["title"], statement, network, options.convention, options,
                    table_style.columns, rows, table_style)


# -- two designs ---------------------------------------------------------------------------


def compare_designs(kind: str, number: int, seed: int, options: QuizOptions) -> Variant:
    """Two designs side by side (a pair of compare.yaml, MODEL; inception by default)."""
    pair = options.model or "inception"
    body = template("compare", pair)
    designs = body["designs"]
    names = list(designs)
    if len(names) != 2:
        raise InputError(f"compare template '{pair}' needs two designs, has {len(names)}")
    where = f"quiz template '{pair}'"
    paths = [[{"name": design, "layers": designs[design]}] for design in names]
    combined = {"layers": [{settings("compare")["side_by_side"]: {"paths": paths}}]}
    rng = variant_random(kind, seed, number)
    network = draw_network(f"{pair}-{number}", body, rng, _analysis(options), _fixed(options, body, pair),
                           template_layers(combined, where))
    report = network.report
    asked = set(body["layer_questions"]) | set(body["design_questions"])
    questions = [q for q in QUANTITIES if q in asked]
    pair_style = _plain(questions, options.convention)
    by_quantity = {c.quantity: c for c in pair_style.columns}
    layer_columns = [by_quantity[q] for q in body["layer_questions"] if q in by_quantity]
    design_columns = [by_quantity[q] for q in body["design_questions"] if q in by_quantity]
    rows: list[Row] = []
    members: dict[str, list[LayerRow]] = {}
    for design in names:
        members[design] = [r for r in report.rows if f".{design}." in f".{r.name}"]
        for layer in members[design]:
            if layer.macs > 0:
                label = layer.name[f".{layer.name}".index(f".{design}."):]  # from the design's name on
                rows.append(Row(label, type_text(layer), layer_answers(layer, report, layer_columns, pair_style),
                                layer.name))
    for design in names:
        block = members[design]
        rows.append(Row(design, "", block_answers(block, report, design_columns, pair_style),
                        block=tuple(r.name for r in block)))
    first, second = (sum(r.macs for r in members[d]) for d in names)
    p_first, p_second = (sum(r.params for r in members[d]) for d in names)
    notes = (f"{names[1]} / {names[0]}: parameters {p_second:,} / {p_first:,} = {p_second / p_first:.3f}x, "
             f"MACs {second:,} / {first:,} = {second / first:.3f}x",)
    statement = body["statement"].format(**network.values)
    statement += (f"\n\nRows named {names[0]} and {names[1]} ask about each design as a whole "
                  "(its sums, and the shape and receptive field of its output).")
    return _variant(kind, number, seed, body["title"], statement, network, options.convention, options,
                    pair_style.columns, rows, pair_style, notes=notes)


# -- find the error ------------------------------------------------------------------------


def find_error(kind: str, number: int, seed: int, options: QuizOptions) -> Variant:
    """A filled table over MODEL (or a drawn small CNN) with ``options.errors`` planted mistakes."""
    from archcalc.quiz.detect import planted_cells_detected
    from archcalc.quiz.mistakes import plant

    table = fill_table(kind, number, seed, options)
    rows = tuple(replace(row, answers={q: replace(a, shown=a.text) for q, a in row.answers.items()})
                 for row in table.rows)
    full = replace(table, rows=rows, title=table.title.replace("Table", "Find the errors", 1))
    rng = random.Random(f"archcalc-quiz-mistakes:{kind}:{seed}:{number}")
    planted = plant(full, table.report, options.errors, rng, planted_cells_detected)
    if len(planted.planted) < options.errors:
        raise InputError(f"only {len(planted.planted)} mistakes of the {options.errors} asked can be planted in this "
                         "table so that they are wrong under every reading (choose more rows or columns)")
    count = len(planted.planted)
    if options.model:
        statement = f"The table below was filled in for {table.report.model} on a {table.input} input (H x W x C)."
    else:
        statement = table.statement.replace("goes through", "went through", 1)
        statement += "\n\nThe table below was filled in for this network."
    statement += f" {count} of its cells are wrong."
    return replace(planted, statement=statement)


# -- the list ------------------------------------------------------------------------------


def quiz_kinds() -> dict[str, Kind]:
    """Every kind, in the order ``archcalc quiz --list`` prints them."""
    kinds: dict[str, Kind] = {}
    for name, body in templates("layers").items():
        kinds[name] = Kind(name, "single layer", body["summary"], "", single_layer(name))
    kinds["layer"] = Kind("layer", "single layer", "one of the single-layer kinds above per student, dealt round-robin", "",
                          any_single_layer)
    kinds["table"] = Kind("table", "table", "fill in a table over MODEL (zoo name or spec; default: a small CNN drawn "
                          "per student); --style, --rows, --columns", "optional", fill_table)
    kinds["rf"] = Kind("rf", "receptive field", "the receptive field after each layer of a drawn stack (or of MODEL)",
                       "optional", receptive_field)
    pairs = ", ".join(templates("compare"))
    kinds["compare"] = Kind("compare", "compare", f"two designs of the same job; MODEL is one of: {pairs}",
                            "a pair", compare_designs)
    kinds["find-error"] = Kind("find-error", "find the error", "a filled table with --errors planted mistakes to "
                               "find and correct (over MODEL, or a small CNN drawn per student)", "optional",
                               find_error)
    return kinds


def build_variant(kind: str, number: int, seed: int, options: QuizOptions, student: str | None = None) -> Variant:
    """Variant ``number`` (from 1) of a ``kind`` quiz drawn with ``seed``."""
    kinds = quiz_kinds()
    if kind not in kinds:
        raise InputError(f"unknown quiz kind '{kind}' (choose from {', '.join(kinds)}; `archcalc quiz --list`)")
    variant = kinds[kind].build(kind, number, seed, options)
    return replace(variant, student=student)


__all__ = ["Kind", "QuizOptions", "build_variant", "quiz_kinds", "selected", "table_rows", "type_text"]
