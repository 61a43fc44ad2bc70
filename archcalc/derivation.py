"""Derivations: each number of a layer with its formula and the user's numbers plugged in.

``explain_row(row, report)`` returns the steps a course would write, e.g.::

    output height  (W - F + 2P)/S + 1  = (32 - 5 + 2*2)/1 + 1 = 32
    params         (F*F*Cin/g + 1) * K = (5*5*3 + 1) * 10     = 760
    MACs           H_out*W_out*K * (F*F*Cin/g) = 32*32*10 * (5*5*3) = 768,000

A layer's own steps come from its family's ``derive`` (the same terms the rule
computes its counts from, :mod:`archcalc.layers.terms`); this engine adds
the batch (``N*``), memory, FLOPs under the convention and the receptive
field, and names no family. ``substituted`` is plain arithmetic
(``+ - * / ( )``, ``floor``, ``ceil``, ``max``, and thousands separators) that
evaluates to ``value``: the tests check this for every layer of the zoo under
every convention. ``key`` names the number a step derives, as the JSON keys
do (``output_shape``, ``params``, ``activation_bytes``, ``macs``, ``flops``,
``rf_size``, ...; see :data:`KEYS`), so that a caller (the answer checker)
can pick the steps of one column.

:func:`explain_totals` derives the network's totals (parameters, memory,
training memory, MACs, FLOPs).
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from typing import Any, Callable

from archcalc.conventions import CATEGORIES
from archcalc.inputs import format_hwc
from archcalc.ir import INPUT
from archcalc.layers import get_rule, lookup
from archcalc.layers.terms import OP_WORDS, Derived, elements_text, num
from archcalc.report import LayerRow, ReceptiveField, Report, plain_number


@dataclass(frozen=True)
class Step:
    """One derived number: what it is, the formula, the formula with numbers, the value.

    ``key`` says which number of the Report the value is (see :data:`KEYS`).
    """

    quantity: str
    formula: str
    substituted: str
    value: int | float | str
    note: str = ""
    key: str = ""


#: step keys and the Report number each one equals
KEYS = {
    "output_size": "output height = output width (output_shape[-2] and [-1])",
    "output_size_dhw": "output depth = height = width of a volume (output_shape[1], [2] and [3])",
    "output_height": "output_shape[-2] (an image's or a volume's height)",
    "output_width": "output_shape[-1] (an image's or a volume's width)",
    "output_length": "output_shape[1] (a sequence's length, C x L)",
    "output_depth": "output_shape[1] (a volume's depth, C x D x H x W)",
    "output_channels": "output_shape[0] (concat, flatten)",
    "output_shape": "output_shape written H x W x C (format_hwc)",
    "in_features": "row.attrs['in_features'] (a dense layer's inputs, the image flattened)",
    "weight_shape": "str(row.weight_shape): the weight tensor in torch's and Keras' orders",
    "weights": "row.weights",
    "biases": "row.biases",
    "params": "row.params",
    "dense_equivalent": "(H*W*Cin + 1) * (H_out*W_out*K) of the input and output shapes (conv layers)",
    "buffers": "row.buffers",
    "activation_bytes": "row.activation_bytes",
    "macs": "row.macs",
    "adds": "row.ops.adds",
    "muls": "row.ops.muls",
    "divs": "row.ops.divs",
    "cmps": "row.ops.cmps",
    "exps": "row.ops.exps",
    "flops": "row.flops (under the report's convention)",
    "rf_size": "row.rf.size (both axes)",
    "rf_size_h": "row.rf.size[0]",
    "rf_size_w": "row.rf.size[1]",
    "rf_jump": "row.rf.jump (both axes)",
    "rf_jump_h": "row.rf.jump[0]",
    "rf_jump_w": "row.rf.jump[1]",
    "totals.*": "the same key of report.totals; training_bytes.OPTIMIZER for training memory",
}

_INPUT_RF = ReceptiveField(
    size=(Fraction(1), Fraction(1)), jump=(Fraction(1), Fraction(1)), start=(Fraction(0), Fraction(0))
)



def _batched(report: Report, formula: str, text: str) -> tuple[str, str]:
    """Prefix ``N*`` (the batch) when the batch is more than 1."""
    if report.batch == 1:
        return formula, text
    if any(sign in text for sign in ("+", " - ")) and not (text.startswith("(") and text.endswith(")")):
        formula, text = f"({formula})", f"({text})"
    return f"N*{formula}", f"{report.batch}*{text}"


# -- the family's own steps ----------------------------------------------------

#: Derived keys that are operation counts: multiplied by the batch (``N*``) in a derivation
_BATCHED = ("macs", "adds", "muls", "divs", "cmps", "exps")


def _family_steps(row: LayerRow, report: Report, derived: list[Derived]) -> list[Step]:
    """The rule's own derivation (:meth:`~archcalc.layers.base.Rule.derive`), batch applied."""
    steps = []
    for d in derived:
        if not d.shown:
            continue
        if d.key in _BATCHED:
            formula, text = _batched(report, d.formula, d.text)
            steps.append(Step(d.quantity, formula, text, d.value * report.batch, d.note, d.key))
        else:
            value = d.value if isinstance(d.value, (int, float, str, Fraction)) else str(d.value)
            steps.append(Step(d.quantity, d.formula, d.text, value, d.note, d.key))
    return steps


def _shape_step(row: LayerRow, formula: str) -> Step:
    value = format_hwc(row.output_shape)
    return Step("output shape", formula, value.replace("x", " x "), value, "", "output_shape")


def _generic(row: LayerRow, report: Report) -> list[Step]:
    """A layer type without a written-out derivation: its numbers as the rule gives them."""
    steps = [_shape_step(row, f"from the {row.op} rule")]
    if row.weights:
        steps.append(Step("weights", f"from the {row.op} rule", num(row.weights), row.weights, "", "weights"))
    if row.biases:
        steps.append(Step("biases", f"from the {row.op} rule", num(row.biases), row.biases, "", "biases"))
    steps.append(Step("params", "weights + biases", f"{num(row.weights)} + {num(row.biases)}", row.params, "", "params"))
    if row.macs:
        steps.append(Step("MACs", f"from the {row.op} rule", num(row.macs), row.macs, "", "macs"))
    for kind, words in OP_WORDS.items():
        value = getattr(row.ops, kind)
        if value:
            steps.append(Step(words, f"from the {row.op} rule", num(value), value, "", kind))
    return steps


# -- memory, FLOPs, receptive field ----------------------------------------------


def _memory_step(row: LayerRow, report: Report) -> Step:
    nbytes = report.bytes_per_element
    formula, text = _batched(report, "output elements", elements_text(row.output_shape))
    rule = lookup(row.op)
    note = ""
    if rule is not None and rule.aliases_input and len(row.inputs) == 1:
        note = "a view of its input: counted in the sum, allocates nothing in the peak"
    return Step(
        "activation memory",
        f"{formula} * {nbytes} B ({report.dtype})",
        f"{text} * {nbytes}",
        row.activation_bytes,
        note,
        "activation_bytes",
    )


def _fvcore_text(row: LayerRow, report: Report, derived: list[Derived]) -> tuple[str, str]:
    """fvcore's handle for this op as a formula and its arithmetic (the rule's ``fvcore`` step)."""
    ops = row.ops
    if ops.fvcore == 0:
        return "not counted by fvcore", "0"
    if ops.macs and ops.fvcore == ops.macs:
        return "MACs (fvcore counts one flop per multiply-accumulate, bias ignored)", num(ops.macs)
    own = next((d for d in derived if d.key == "fvcore" and d.formula), None)
    if own is not None:
        formula, text = _batched(report, own.formula, own.text)
        return f"{formula}{own.suffix}", text
    return "fvcore's handle for this op", num(ops.fvcore)


def _flops_step(row: LayerRow, report: Report, derived: list[Derived]) -> Step:
    """The layer's "FLOPs" under the report's convention (mirrors Convention.counts)."""
    c = report.convention
    ops = row.ops
    quantity = f"FLOPs [{c.name}]" if c.unit == "FLOPs" else f"{c.unit} [{c.name}]"
    if c.peer == "fvcore":
        formula, text = _fvcore_text(row, report, derived)
        return Step(quantity, formula, text, row.flops, "", "flops")
    if c.peer == "torch":
        if ops.torch == 0:
            return Step(quantity, "not counted by torch.utils.flop_counter", "0", row.flops, "", "flops")
        if ops.macs and ops.torch == 2 * ops.macs:
            return Step(quantity, "2 * MACs (bias ignored)", f"2 * {num(ops.macs)}", row.flops, "", "flops")
        return Step(quantity, "torch's formula for this op", num(ops.torch), row.flops, "", "flops")
    formula: list[str] = []
    text: list[str] = []
    notes: list[str] = []
    if ops.macs:
        if c.flops_per_mac == 1:
            formula.append("MACs")
            text.append(num(ops.macs))
        else:
            formula.append(f"{c.flops_per_mac} * MACs")
            text.append(f"{c.flops_per_mac} * {num(ops.macs)}")
        if c.exact_adds and ops.dot_outputs:
            formula.append("- outputs")
            text.append(f"- {num(ops.dot_outputs)}")
            notes.append("n multiplies and n - 1 adds per dot product")
    if c.bias and ops.bias_adds:
        formula.append("+ bias adds")
        text.append(f"+ {num(ops.bias_adds)}")
    if row.category in CATEGORIES and getattr(c, row.category) and ops.elementary:
        kinds = [(k, getattr(ops, k)) for k in OP_WORDS if getattr(ops, k)]
        formula.append(("+ " if formula else "") + " + ".join(k for k, _ in kinds))
        text.append(("+ " if text else "") + " + ".join(num(v) for _, v in kinds))
    elif row.category in CATEGORIES and ops.elementary:
        notes.append(f"{row.category} layers are not counted under '{c.name}' (--include {row.category} counts them)")
    if not formula:
        return Step(quantity, "nothing counted under this convention", "0", row.flops, "; ".join(notes), "flops")
    return Step(quantity, " ".join(formula), " ".join(text), row.flops, "; ".join(notes), "flops")


def _input_fields(row: LayerRow, report: Report) -> list[tuple[str, tuple[int, ...], ReceptiveField]]:
    rows = {r.name: r for r in report.rows}
    out = []
    for name in row.inputs:
        if name in rows:
            out.append((name, rows[name].output_shape, rows[name].rf))
        else:
            out.append((name, report.input_shape if name == INPUT else (), _INPUT_RF))
    return out


def _rf_steps(row: LayerRow, report: Report) -> list[Step]:
    """``r_out = r_in + (k' - 1) j_in``, ``j_out = j_in * S`` (Araujo et al., Distill 2019), written
    as the rule's RFStep says (``grow_text`` / ``jump_text``), else with its plain numbers."""
    incoming = _input_fields(row, report)
    size_f, size_t, jump_f, jump_t = [], [], [], []
    if len(incoming) > 1:
        compared = [
            (name, shape, rf)
            for name, shape, rf in incoming
            if not (len(shape) == 3 and shape[1:] == (1, 1) and row.output_shape[1:] != (1, 1))
        ] or incoming
        base = max((rf for _, _, rf in compared), key=lambda f: (f.size[0] * f.size[1], f.size))
        for axis in (0, 1):
            values = [rf.size[axis] for _, _, rf in compared]
            if base.size[axis] == max(values) and len(values) > 1:
                size_t.append(f"max({', '.join(num(v) for v in values)})")
            else:
                size_t.append(num(base.size[axis]))
            size_f.append("the largest field of the merged branches")
            jump_f.append("j_in of that branch")
            jump_t.append(num(base.jump[axis]))
        note = "broadcast 1 x 1 inputs are not compared" if len(compared) < len(incoming) else ""
    else:
        base = incoming[0][2]
        note = ""
        step = get_rule(row.op).rf_step(row.attrs, row.input_shapes)
        for axis in (0, 1):
            r_in, j_in = base.size[axis], base.jump[axis]
            grow, jump = step.grow[axis], step.jump[axis]
            grow_text, jump_text = step.grow_text[axis], step.jump_text[axis]
            if grow_text is not None:
                piece, arithmetic, suffix = grow_text
                size_f.append(f"r_in + {piece}*j_in{suffix}")
                size_t.append(f"{num(r_in)} + {arithmetic}*{num(j_in)}")
            elif grow == 0:
                size_f.append("r_in (unchanged)")
                size_t.append(num(r_in))
            else:
                size_f.append("r_in + grow*j_in")
                size_t.append(f"{num(r_in)} + {num(grow)}*{num(j_in)}")
            if jump_text is not None:
                jump_f.append(f"j_in * {jump_text[0]}")
                jump_t.append(f"{num(j_in)}*{jump_text[1]}")
            elif jump == 1:
                jump_f.append("j_in (unchanged)")
                jump_t.append(num(j_in))
            else:
                jump_f.append("j_in * step")
                jump_t.append(f"{num(j_in)}*{num(jump)}")
    steps = []
    size_value = [plain_number(v) for v in row.rf.size]
    jump_value = [plain_number(v) for v in row.rf.jump]
    if size_t[0] == size_t[1]:
        steps.append(Step("receptive field", size_f[1], size_t[1], size_value[1], note, "rf_size"))
    else:
        for axis, name, key in ((0, "height", "rf_size_h"), (1, "width", "rf_size_w")):
            steps.append(Step(f"receptive field ({name})", size_f[axis], size_t[axis], size_value[axis], note, key))
    if jump_t[0] == jump_t[1]:
        steps.append(Step("RF jump", jump_f[1], jump_t[1], jump_value[1], "", "rf_jump"))
    else:
        for axis, name, key in ((0, "height", "rf_jump_h"), (1, "width", "rf_jump_w")):
            steps.append(Step(f"RF jump ({name})", jump_f[axis], jump_t[axis], jump_value[axis], "", key))
    return steps


def explain_row(row: LayerRow, report: Report) -> list[Step]:
    """The derivation of every number of one layer: output shape, parameters, activation
    memory, MACs and primitive operations, FLOPs under the report's convention (when it
    is not plain MACs) and receptive field."""
    derived = get_rule(row.op).derive(row.attrs, row.input_shapes, row.output_shape)
    steps = _family_steps(row, report, derived) or _generic(row, report)
    steps.insert(_after_params(steps), _memory_step(row, report))
    if report.convention.name != "macs":
        steps.append(_flops_step(row, report, derived))
    if row.rf is not None and all(rf is not None for _, _, rf in _input_fields(row, report)):
        steps.extend(_rf_steps(row, report))
    return steps


def _after_params(steps: list[Step]) -> int:
    """Index just after the last shape or parameter step (memory goes there)."""
    index = 0
    for i, step in enumerate(steps):
        if step.key.startswith("output") or step.key in ("weights", "biases", "params", "buffers",
                                                         "dense_equivalent"):
            index = i + 1
    return index


# -- totals ----------------------------------------------------------------------


def _block_terms(report: Report, value: Callable[[Any], int]) -> list[int]:
    from archcalc.breakdown import leaf_entries

    return [v for v in (value(e) for e in leaf_entries(report, depth=1)) if v]


def _sum_text(terms: list[int]) -> str:
    return " + ".join(num(t) for t in terms) if terms else "0"


def _peak_moment(report: Report) -> tuple[int, list[tuple[str, int]]] | None:
    """Which tensors are live at the peak of one inference pass (as analysis.peak_live_bytes
    simulates it): the moment (layer index) and the live tensors with their bytes."""
    rows = report.rows
    owner = {INPUT: INPUT}
    size = {INPUT: report.totals.input_bytes}
    born = {INPUT: -1}
    dies = {INPUT: -1}
    for index, row in enumerate(rows):
        for tensor in row.inputs:
            if tensor in owner:
                dies[owner[tensor]] = index
        rule = lookup(row.op)
        if rule is not None and rule.aliases_input and len(row.inputs) == 1 and row.inputs[0] in owner:
            owner[row.name] = owner[row.inputs[0]]
        else:
            owner[row.name] = row.name
            size[row.name] = row.activation_bytes
            born[row.name] = index
            dies[row.name] = index
    if rows:
        dies[owner[rows[-1].name]] = len(rows)
    else:
        dies[INPUT] = 0
    best: tuple[int, list[tuple[str, int]]] | None = None
    best_bytes = -1
    for moment in range(0, len(rows) + 1):
        live = [(t, b) for t, b in size.items() if max(born[t], 0) <= moment <= dies[t]]
        total = sum(b for _, b in live)
        if total > best_bytes:
            best, best_bytes = (moment, live), total
    if best is None or best_bytes != report.totals.peak_activation_bytes:
        return None
    return best


def explain_totals(report: Report) -> list[Step]:
    """Derivations of the totals: parameters, their memory, activation memory (sum and
    peak), training memory per optimizer, MACs and FLOPs. Sums are grouped by the
    top-level blocks."""
    from archcalc.analysis import OPTIMIZER_STATE
    t = report.totals
    nbytes = report.bytes_per_element
    steps = []
    terms = _block_terms(report, lambda e: e.params)
    steps.append(Step("parameters", "sum over the blocks (shared weights counted once)",
                      _sum_text(terms), t.params, "", "totals.params"))
    steps.append(Step("parameter memory", f"parameters * {nbytes} B ({report.dtype})",
                      f"{num(t.params)} * {nbytes}", t.param_bytes, "", "totals.param_bytes"))
    terms = _block_terms(report, lambda e: sum(r.activation_elements for r in e.rows))
    steps.append(Step("activation memory (sum)", f"(sum of output elements over the blocks) * {nbytes} B",
                      f"({_sum_text(terms)}) * {nbytes}", t.activation_bytes,
                      f"every layer output, batch {report.batch}", "totals.activation_bytes"))
    peak = _peak_moment(report)
    if peak is not None:
        moment, live = peak
        where = f"while '{report.rows[moment].name}' runs" if moment < len(report.rows) else "at the end"
        names = ", ".join(name for name, _ in live)
        steps.append(Step("activation memory (peak)", "bytes of the tensors live at the worst moment",
                          " + ".join(num(b) for _, b in live), t.peak_activation_bytes,
                          f"{where}: {names} (a tensor dies after its last consumer)", "totals.peak_activation_bytes"))
    else:
        steps.append(Step("activation memory (peak)", "largest sum of live tensors (peak-memory pass)",
                          num(t.peak_activation_bytes), t.peak_activation_bytes, "", "totals.peak_activation_bytes"))
    trainable = t.trainable_params * nbytes
    fixed = (t.params - t.trainable_params) * nbytes + t.buffer_bytes
    for optimizer, value in t.training_bytes.items():
        state = OPTIMIZER_STATE.get(optimizer)
        if state is None:
            steps.append(Step(f"training memory ({optimizer})", "see analysis.training_bytes", num(value), value,
                              "", f"totals.training_bytes.{optimizer}"))
            continue
        words = {0: "", 1: " + momentum", 2: " + 2 Adam moments"}[state] if state in (0, 1, 2) else f" + {state} states"
        steps.append(Step(
            f"training memory ({optimizer})",
            f"trainable bytes * (weights + grads{words}) + frozen and buffers + (activations + input)",
            f"{num(trainable)} * {2 + state} + {num(fixed)} + ({num(t.activation_bytes)} + {num(t.input_bytes)})",
            value,
            "activations are kept for the backward pass",
            f"totals.training_bytes.{optimizer}",
        ))
    terms = _block_terms(report, lambda e: e.macs)
    steps.append(Step("MACs", "sum over the blocks", _sum_text(terms), t.macs, "", "totals.macs"))
    if report.convention.name != "macs":
        terms = _block_terms(report, lambda e: e.flops)
        steps.append(Step(f"FLOPs [{report.convention.name}]", "sum over the blocks", _sum_text(terms), t.flops,
                          report.convention.label, "totals.flops"))
    return steps
