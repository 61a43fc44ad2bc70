"""Derivations: each number of a layer with its formula and the user's numbers plugged in.

``explain_row(row, report)`` returns the steps a course would write, e.g.::

    output height  (W - F + 2P)/S + 1  = (32 - 5 + 2*2)/1 + 1 = 32
    params         (F*F*Cin/g + 1) * K = (5*5*3 + 1) * 10     = 760
    MACs           H_out*W_out*K * (F*F*Cin/g) = 32*32*10 * (5*5*3) = 768,000

The values always come from the Report (the rules compute them); the
derivation only shows the arithmetic. ``substituted`` is plain arithmetic
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
from math import ceil, floor
from typing import Any, Callable

from archcalc.conventions import CATEGORIES
from archcalc.inputs import format_hwc
from archcalc.ir import INPUT
from archcalc.report import LayerRow, ReceptiveField, Report, plain_number
from archcalc.rules import lookup
from archcalc.rules.base import prod
from archcalc.rules.window import effective_kernel


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
    "output_size": "output height = output width (output_shape[1] and [2])",
    "output_height": "output_shape[1]",
    "output_width": "output_shape[2]",
    "output_channels": "output_shape[0] (concat, flatten)",
    "output_shape": "output_shape written H x W x C (format_hwc)",
    "weights": "row.weights",
    "biases": "row.biases",
    "params": "row.params",
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

_OP_WORDS = {
    "adds": "additions",
    "muls": "multiplications",
    "divs": "divisions",
    "cmps": "comparisons",
    "exps": "exp/sqrt/pow",
}


# -- number text ---------------------------------------------------------------


def num(value: Any) -> str:
    """A number as written in a derivation: ``768,000``; a fraction as ``(1/2)``."""
    if isinstance(value, Fraction):
        if value.denominator == 1:
            value = int(value)
        else:
            return f"({value.numerator}/{value.denominator})"
    if isinstance(value, bool):
        return str(int(value))
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float) and value.is_integer():
        return f"{int(value):,}"
    return repr(value)


def _elements(shape: tuple[int, ...]) -> str:
    """``(C, H, W)`` -> ``H*W*C`` (course order); other shapes joined by ``*``."""
    if len(shape) == 3:
        c, h, w = shape
        return f"{h}*{w}*{c}"
    return "*".join(str(s) for s in shape) or "1"


def _batched(report: Report, formula: str, text: str) -> tuple[str, str]:
    """Prefix ``N*`` (the batch) when the batch is more than 1."""
    if report.batch == 1:
        return formula, text
    if any(sign in text for sign in ("+", " - ")) and not (text.startswith("(") and text.endswith(")")):
        formula, text = f"({formula})", f"({text})"
    return f"N*{formula}", f"{report.batch}*{text}"


# -- shapes --------------------------------------------------------------------


def _window_axis(letter: str, size: int, k: int, s: int, pb: int, pa: int, d: int, ceil_mode: bool):
    """Formula, arithmetic and note of ``(W - F + 2P)/S + 1`` along one axis."""
    if d == 1:
        k_f, k_s = "F", str(k)
    else:
        k_f, k_s = "(d(F - 1) + 1)", f"({d}*({k} - 1) + 1)"
    if pb == pa:
        p_f, p_s = "2P", f"2*{pb}"
    else:
        p_f, p_s = "P_before + P_after", f"{pb} + {pa}"
    formula = f"({letter} - {k_f} + {p_f})/S + 1"
    inner = f"({size} - {k_s} + {p_s})/{s}"
    span = size + pb + pa - effective_kernel(k, d)
    exact = Fraction(span, s) + 1
    if exact.denominator == 1:
        return formula, f"{inner} + 1", ""
    if ceil_mode:
        length = ceil(exact)
        text = f"ceil({inner}) + 1"
        note = f"{inner} + 1 = {float(exact):g} is not an integer; with ceil_mode PyTorch rounds up to {length}"
        if (length - 1) * s >= size + pb:
            text += " - 1"
            note += f", then drops the last window (it would start in the right padding): {length - 1}"
    else:
        length = floor(exact)
        left = span % s
        line = "row" if letter == "H" else "column"
        left_out = f"the last {line} of the padded input is" if left == 1 else f"the last {left} {line}s of the padded input are"
        note = (
            f"{inner} + 1 = {float(exact):g} is not an integer; PyTorch floors it to {length} "
            f"({left_out} never covered by a window)"
        )
        text = f"floor({inner}) + 1"
    return formula, text, note


def _window_shape_steps(row: LayerRow, kernel, stride, pads, dilation, ceil_mode: bool) -> list[Step]:
    _, h, w = row.input_shapes[0]
    axes = [
        ("H", h, kernel[0], stride[0], pads[0], dilation[0], row.output_shape[1]),
        ("W", w, kernel[1], stride[1], pads[1], dilation[1], row.output_shape[2]),
    ]
    if axes[0][1:6] == axes[1][1:6]:
        letter, size, k, s, (pb, pa), d, value = axes[1]
        formula, text, note = _window_axis("W", size, k, s, pb, pa, d, ceil_mode)
        return [Step("output height = width", formula, text, value, note, "output_size")]
    steps = []
    for (letter, size, k, s, (pb, pa), d, value), name, key in zip(
        axes, ("height", "width"), ("output_height", "output_width")
    ):
        formula, text, note = _window_axis(letter, size, k, s, pb, pa, d, ceil_mode)
        steps.append(Step(f"output {name}", formula, text, value, note, key))
    return steps


def _shape_step(row: LayerRow, formula: str, text: str = "", note: str = "") -> Step:
    value = format_hwc(row.output_shape)
    return Step("output shape", formula, text or value.replace("x", " x "), value, note, "output_shape")


def _image_shape_step(row: LayerRow, channels: str = "C") -> Step:
    return _shape_step(row, f"H_out x W_out x {channels}")


def _same_shape_step(row: LayerRow, what: str = "same as the input") -> Step:
    return _shape_step(row, what)


# -- families ------------------------------------------------------------------
# Each family returns the steps of the output shape, the parameters and the
# primitive operations; explain_row adds memory, FLOPs and receptive field.


def _conv(row: LayerRow, report: Report) -> list[Step]:
    a = row.attrs
    kh, kw = a["kernel"]
    cin, g, filters = a["in_channels"], a["groups"], a["filters"]
    steps = _window_shape_steps(row, a["kernel"], a["stride"], a["pad"], a["dilation"], False)
    steps.append(_image_shape_step(row, "K"))
    k_f = "F*F" if kh == kw else "F_h*F_w"
    c_f, c_s = ("Cin", str(cin)) if g == 1 else ("Cin/g", f"{cin}/{g}")
    per_f, per_s = f"{k_f}*{c_f}", f"{kh}*{kw}*{c_s}"
    dw = " (depthwise: each filter sees one channel)" if g == cin and g > 1 else ""
    steps.append(Step("weights", f"{per_f} * K", f"{per_s} * {filters}", row.weights, dw.strip(" ()"), "weights"))
    if a["bias"]:
        steps.append(Step("biases", "K (one per filter)", str(filters), row.biases, "", "biases"))
        steps.append(Step("params", f"({per_f} + 1) * K", f"({per_s} + 1) * {filters}", row.params, "", "params"))
    else:
        steps.append(Step("params", f"{per_f} * K (no bias)", f"{per_s} * {filters}", row.params, "", "params"))
    _, ho, wo = row.output_shape
    formula, text = _batched(report, f"H_out*W_out*K * ({per_f})", f"{ho}*{wo}*{filters} * ({per_s})")
    steps.append(Step("MACs", formula, text, row.macs, "each output is a dot product of length F*F*Cin/g", "macs"))
    return steps


def _convtranspose(row: LayerRow, report: Report) -> list[Step]:
    a = row.attrs
    cin, h, w = row.input_shapes[0]
    kh, kw = a["kernel"]
    g, filters = a["groups"], a["filters"]
    axes = []
    for letter, size, k, s, (pb, pa), d, op_, value in zip(
        ("H", "W"), (h, w), a["kernel"], a["stride"], a["pad"], a["dilation"], a["output_padding"],
        row.output_shape[1:],
    ):
        p_f, p_s = ("2P", f"2*{pb}") if pb == pa else ("P_before - P_after", f"{pb} - {pa}")
        d_f, d_s = ("(F - 1)", f"({k} - 1)") if d == 1 else ("d(F - 1)", f"{d}*({k} - 1)")
        formula = f"({letter} - 1)*S - {p_f} + {d_f} + output_padding + 1"
        text = f"({size} - 1)*{s} - {p_s} + {d_s} + {op_} + 1"
        axes.append((formula, text, value))
    if axes[0][1] == axes[1][1]:
        steps = [Step("output height = width", axes[1][0], axes[1][1], axes[1][2], "", "output_size")]
    else:
        steps = [
            Step(f"output {name}", f, t, v, "", key)
            for (f, t, v), name, key in zip(axes, ("height", "width"), ("output_height", "output_width"))
        ]
    steps.append(_image_shape_step(row, "K"))
    k_f = "F*F" if kh == kw else "F_h*F_w"
    kg_f, kg_s = ("K", str(filters)) if g == 1 else ("K/g", f"{filters}/{g}")
    steps.append(Step("weights", f"Cin * {kg_f} * {k_f}", f"{cin} * {kg_s} * {kh}*{kw}", row.weights, "", "weights"))
    if a["bias"]:
        steps.append(Step("biases", "K", str(filters), row.biases, "", "biases"))
        steps.append(Step("params", "weights + biases", f"{num(row.weights)} + {filters}", row.params, "", "params"))
    formula, text = _batched(report, f"H*W*Cin * ({kg_f}*{k_f})", f"{h}*{w}*{cin} * ({kg_s}*{kh}*{kw})")
    steps.append(Step("MACs", formula, text, row.macs, "each input value is scattered through one kernel", "macs"))
    return steps


def _linear(row: LayerRow, report: Report) -> list[Step]:
    a = row.attrs
    n_in, n_out = a["in_features"], a["units"]
    lead = row.input_shapes[0][:-1]
    if lead:
        steps = [_shape_step(row, "(..., N_out): the layer acts on the last axis")]
    else:
        steps = [Step("output shape", "N_out", str(n_out), format_hwc(row.output_shape), "", "output_shape")]
    steps.append(Step("weights", "N_in * N_out", f"{n_in} * {n_out}", row.weights, "", "weights"))
    if a["bias"]:
        steps.append(Step("biases", "N_out", str(n_out), row.biases, "", "biases"))
        steps.append(Step("params", "(N_in + 1) * N_out", f"({n_in} + 1) * {n_out}", row.params, "", "params"))
    else:
        steps.append(Step("params", "N_in * N_out (no bias)", f"{n_in} * {n_out}", row.params, "", "params"))
    lead_f = "positions*" if lead else ""
    lead_s = f"{'*'.join(str(v) for v in lead)}*" if lead else ""
    formula, text = _batched(report, f"{lead_f}N_out * N_in", f"{lead_s}{n_out} * {n_in}")
    steps.append(Step("MACs", formula, text, row.macs, "", "macs"))
    return steps


def _window_pool(row: LayerRow, report: Report) -> list[Step]:
    a = row.attrs
    kh, kw = a["kernel"]
    note = " (stride defaults to the kernel)" if a["stride"] == a["kernel"] else ""
    steps = _window_shape_steps(row, a["kernel"], a["stride"], a["pad"], a["dilation"], a["ceil_mode"])
    if note and steps:
        first = steps[0]
        steps[0] = Step(first.quantity, first.formula, first.substituted, first.value,
                        (first.note + note).strip(), first.key)
    steps.append(_image_shape_step(row))
    steps.append(Step("params", "no weights", "0", row.params, "", "params"))
    outputs = _elements(row.output_shape)
    if row.op == "maxpool":
        formula, text = _batched(report, "H_out*W_out*C * (F*F - 1)", f"{outputs} * ({kh}*{kw} - 1)")
        steps.append(Step("comparisons", formula, text, row.ops.cmps, "F*F - 1 comparisons find each maximum", "cmps"))
    else:
        formula, text = _batched(report, "H_out*W_out*C * (F*F - 1)", f"{outputs} * ({kh}*{kw} - 1)")
        steps.append(Step("additions", formula, text, row.ops.adds, "F*F - 1 adds sum each window", "adds"))
        formula, text = _batched(report, "H_out*W_out*C", outputs)
        steps.append(Step("divisions", formula, text, row.ops.divs, "one division per output", "divs"))
    return steps


def _adaptive_pool(row: LayerRow, report: Report) -> list[Step]:
    from archcalc.rules.pool import adaptive_windows

    c, h, w = row.input_shapes[0]
    oh, ow = row.attrs["output"]
    steps = [_shape_step(row, "output_size x output_size x C (given)")]
    steps.append(Step("params", "no weights", "0", row.params, "", "params"))
    win_h, win_w = adaptive_windows(h, oh), adaptive_windows(w, ow)
    sum_h, sum_w = sum(win_h), sum(win_w)
    note = ""
    if sum_h != h or sum_w != w:
        note = f"the windows overlap: heights {win_h}, widths {win_w} (PyTorch's floor/ceil bounds)"
    formula_in = "C*sum(window heights)*sum(window widths) - outputs"
    text_in = f"{c}*{sum_h}*{sum_w} - {oh}*{ow}*{c}"
    formula, text = _batched(report, f"({formula_in})", f"({text_in})")
    if row.op == "adaptive_maxpool":
        steps.append(Step("comparisons", formula, text, row.ops.cmps, note, "cmps"))
    else:
        steps.append(Step("additions", formula, text, row.ops.adds, note, "adds"))
        formula, text = _batched(report, "outputs", f"{oh}*{ow}*{c}")
        steps.append(Step("divisions", formula, text, row.ops.divs, "", "divs"))
    return steps


def _global_pool(row: LayerRow, report: Report) -> list[Step]:
    c, h, w = row.input_shapes[0]
    steps = [_shape_step(row, "1 x 1 x C")]
    steps.append(Step("params", "no weights", "0", row.params, "", "params"))
    formula, text = _batched(report, "C*(H*W - 1)", f"{c}*({h}*{w} - 1)")
    if row.op == "global_maxpool":
        steps.append(Step("comparisons", formula, text, row.ops.cmps, "", "cmps"))
    else:
        steps.append(Step("additions", formula, text, row.ops.adds, "", "adds"))
        formula, text = _batched(report, "C", str(c))
        steps.append(Step("divisions", formula, text, row.ops.divs, "", "divs"))
    return steps


def _batchnorm(row: LayerRow, report: Report) -> list[Step]:
    a = row.attrs
    c = a["channels"]
    steps = [_same_shape_step(row)]
    if a["affine"]:
        steps.append(Step("weights", "C (gamma, one per channel)", str(c), row.weights, "", "weights"))
        steps.append(Step("biases", "C (beta, one per channel)", str(c), row.biases, "", "biases"))
        steps.append(Step("params", "2 * C", f"2 * {c}", row.params, "", "params"))
    else:
        steps.append(Step("params", "no weights (affine off)", "0", row.params, "", "params"))
    if a.get("track_running_stats", True):
        steps.append(Step("buffers", "2 * C + 1", f"2 * {c} + 1",
                          row.buffers, "running mean, running variance, num_batches_tracked", "buffers"))
    n = _elements(row.input_shapes[0])
    per = "(x - mean) + beta" if a["affine"] else "(x - mean)"
    formula, text = _batched(report, "elements * 2" if a["affine"] else "elements", f"{n} * 2" if a["affine"] else n)
    steps.append(Step("additions", formula, text, row.ops.adds, per, "adds"))
    formula, text = _batched(report, "elements", n)
    steps.append(Step("divisions", formula, text, row.ops.divs, "/ sqrt(var + eps)", "divs"))
    if a["affine"]:
        steps.append(Step("multiplications", formula, text, row.ops.muls, "* gamma", "muls"))
    formula, text = _batched(report, "C", str(c))
    steps.append(Step("square roots", formula, text, row.ops.exps, "sqrt(var + eps), one per channel", "exps"))
    return steps


def _layernorm(row: LayerRow, report: Report) -> list[Step]:
    a = row.attrs
    norm = a["normalized_shape"]
    n_text = "*".join(str(v) for v in norm)
    steps = [_same_shape_step(row)]
    if a["affine"]:
        steps.append(Step("weights", "n (normalised elements)", n_text, row.weights, "", "weights"))
        steps.append(Step("biases", "n", n_text, row.biases, "", "biases"))
        steps.append(Step("params", "2 * n", f"2 * {n_text}", row.params, "", "params"))
    elements = _elements(row.input_shapes[0])
    groups = prod(row.input_shapes[0]) // prod(norm)
    affine = a["affine"]
    for kind, per, words in (
        ("adds", 4 if affine else 3, "mean sum, centring, variance sum" + (", + beta" if affine else "")),
        ("muls", 2 if affine else 1, "squares" + (", * gamma" if affine else "")),
    ):
        formula, text = _batched(report, f"elements * {per}", f"{elements} * {per}")
        steps.append(Step(_OP_WORDS[kind], formula, text, getattr(row.ops, kind), words, kind))
    formula, text = _batched(report, "elements + 2*groups", f"{elements} + 2*{groups}")
    steps.append(Step("divisions", formula, text, row.ops.divs, "normalise each element; mean and variance per group", "divs"))
    formula, text = _batched(report, "groups", str(groups))
    steps.append(Step("square roots", formula, text, row.ops.exps, "", "exps"))
    return steps


def _lrn(row: LayerRow, report: Report) -> list[Step]:
    size = row.attrs["size"]
    n = _elements(row.input_shapes[0])
    steps = [_same_shape_step(row), Step("params", "no weights", "0", row.params, "", "params")]
    for kind, formula_in, text_in, words in (
        ("muls", "elements * (size + 1)", f"{n} * ({size} + 1)", "squares of the neighbours, * alpha/n"),
        ("adds", "elements * size", f"{n} * {size}", "sum of squares, + k"),
        ("exps", "elements", n, "the power beta"),
        ("divs", "elements", n, ""),
    ):
        formula, text = _batched(report, formula_in, text_in)
        steps.append(Step(_OP_WORDS[kind], formula, text, getattr(row.ops, kind), words, kind))
    return steps


def _activation(row: LayerRow, report: Report) -> list[Step]:
    rule = lookup(row.op)
    per_element = getattr(rule, "per_element", {})
    n = _elements(row.output_shape)
    steps = [_same_shape_step(row), Step("params", "no weights", "0", row.params, "", "params")]
    for kind, count in per_element.items():
        formula, text = _batched(report, f"elements * {count}", f"{n} * {count}")
        steps.append(Step(_OP_WORDS.get(kind, kind), formula, text, getattr(row.ops, kind),
                          f"{rule.summary}" if rule is not None else "", kind))
    return steps


def _merge(row: LayerRow, report: Report) -> list[Step]:
    m = len(row.input_shapes)
    steps = [_same_shape_step(row, "the inputs' (broadcast) shape"), Step("params", "no weights", "0", row.params, "", "params")]
    kind = "adds" if row.op == "add" else "muls"
    formula, text = _batched(report, "(m - 1) * elements", f"({m} - 1) * {_elements(row.output_shape)}")
    steps.append(Step(_OP_WORDS[kind], formula, text, getattr(row.ops, kind), f"{m} inputs", kind))
    return steps


def _concat(row: LayerRow, report: Report) -> list[Step]:
    axis = row.attrs["axis"]
    sizes = [s[axis] for s in row.input_shapes]
    what = "channels" if axis == 0 and len(row.output_shape) == 3 else f"axis {axis}"
    steps = [Step(f"output {what}", f"sum of the inputs' {what}", " + ".join(str(v) for v in sizes),
                  row.output_shape[axis], "", "output_channels" if axis == 0 else f"output_axis{axis}")]
    steps.append(_same_shape_step(row, f"the inputs' shape, {what} summed"))
    steps.append(Step("params", "no weights", "0", row.params, "", "params"))
    return steps


def _flatten(row: LayerRow, report: Report) -> list[Step]:
    shape = row.input_shapes[0]
    steps = [Step("output length", "H*W*C", _elements(shape), row.output_shape[0], "", "output_channels")]
    steps.append(_shape_step(row, "one vector"))
    steps.append(Step("params", "no weights", "0", row.params, "", "params"))
    return steps


def _reshape(row: LayerRow, report: Report) -> list[Step]:
    return [
        _shape_step(row, "the given shape (same number of elements)" if row.op == "reshape" else "same as the input"),
        Step("params", "no weights", "0", row.params, "", "params"),
    ]


def _upsample(row: LayerRow, report: Report) -> list[Step]:
    a = row.attrs
    _, h, w = row.input_shapes[0]
    steps = []
    if a.get("scale") is not None:
        sh, sw = a["scale"]
        if (h, sh) == (w, sw):
            steps.append(Step("output height = width", "W * scale", f"{w}*{sw}", row.output_shape[2], "", "output_size"))
        else:
            steps.append(Step("output height", "H * scale", f"{h}*{sh}", row.output_shape[1], "", "output_height"))
            steps.append(Step("output width", "W * scale", f"{w}*{sw}", row.output_shape[2], "", "output_width"))
    steps.append(_shape_step(row, "H_out x W_out x C"))
    steps.append(Step("params", "no weights", "0", row.params, "", "params"))
    if a["mode"] == "bilinear":
        outputs = _elements(row.output_shape)
        for kind, per in (("muls", 4), ("adds", 3)):
            formula, text = _batched(report, f"outputs * {per}", f"{outputs} * {per}")
            steps.append(Step(_OP_WORDS[kind], formula, text, getattr(row.ops, kind),
                              "each output weighs 4 neighbours", kind))
    return steps


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
    for kind, words in _OP_WORDS.items():
        value = getattr(row.ops, kind)
        if value:
            steps.append(Step(words, f"from the {row.op} rule", num(value), value, "", kind))
    return steps


_FAMILIES: dict[str, Callable[[LayerRow, Report], list[Step]]] = {
    "conv": _conv,
    "convtranspose": _convtranspose,
    "linear": _linear,
    "maxpool": _window_pool,
    "avgpool": _window_pool,
    "adaptive_avgpool": _adaptive_pool,
    "adaptive_maxpool": _adaptive_pool,
    "global_avgpool": _global_pool,
    "global_maxpool": _global_pool,
    "batchnorm": _batchnorm,
    "layernorm": _layernorm,
    "lrn": _lrn,
    "add": _merge,
    "mul": _merge,
    "concat": _concat,
    "flatten": _flatten,
    "reshape": _reshape,
    "dropout": _reshape,
    "identity": _reshape,
    "upsample": _upsample,
}


def _family(row: LayerRow) -> Callable[[LayerRow, Report], list[Step]]:
    if row.op in _FAMILIES:
        return _FAMILIES[row.op]
    rule = lookup(row.op)
    if rule is not None and rule.category == "activation" and hasattr(rule, "per_element"):
        return _activation
    return _generic


# -- memory, FLOPs, receptive field ----------------------------------------------


def _memory_step(row: LayerRow, report: Report) -> Step:
    nbytes = report.bytes_per_element
    formula, text = _batched(report, "output elements", _elements(row.output_shape))
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


def _fvcore_text(row: LayerRow, report: Report) -> tuple[str, str]:
    """fvcore's handle for this op as a formula and its arithmetic."""
    ops = row.ops
    if ops.fvcore == 0:
        return "not counted by fvcore", "0"
    if ops.macs and ops.fvcore == ops.macs:
        return "MACs (fvcore counts one flop per multiply-accumulate, bias ignored)", num(ops.macs)
    shape_in = row.input_shapes[0]
    if row.op in ("batchnorm", "layernorm"):
        per = ops.fvcore // max(1, prod(shape_in) * report.batch)
        formula, text = _batched(report, f"input elements * {per}", f"{_elements(shape_in)} * {per}")
        return f"{formula} (fvcore's {row.op} handle)", text
    if row.op in ("adaptive_avgpool", "global_avgpool"):
        formula, text = _batched(report, "input elements", _elements(shape_in))
        return f"{formula} (fvcore: one flop per input element)", text
    if row.op == "upsample":
        per = ops.fvcore // max(1, prod(row.output_shape) * report.batch)
        formula, text = _batched(report, f"outputs * {per}", f"{_elements(row.output_shape)} * {per}")
        return f"{formula} (fvcore's upsample handle)", text
    return "fvcore's handle for this op", num(ops.fvcore)


def _flops_step(row: LayerRow, report: Report) -> Step:
    """The layer's "FLOPs" under the report's convention (mirrors Convention.counts)."""
    c = report.convention
    ops = row.ops
    quantity = f"FLOPs [{c.name}]" if c.unit == "FLOPs" else f"{c.unit} [{c.name}]"
    if c.peer == "fvcore":
        formula, text = _fvcore_text(row, report)
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
        kinds = [(k, getattr(ops, k)) for k in _OP_WORDS if getattr(ops, k)]
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
    """``r_out = r_in + (k' - 1) j_in``, ``j_out = j_in * S`` (Araujo et al., Distill 2019)."""
    incoming = _input_fields(row, report)
    rule = lookup(row.op)
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
        step = rule.rf_step(row.attrs, row.input_shapes) if rule is not None else None
        window = row.op in ("conv", "maxpool", "avgpool")
        for axis, letter in ((0, "H"), (1, "W")):
            r_in, j_in = base.size[axis], base.jump[axis]
            if window:
                k = row.attrs["kernel"][axis]
                d = row.attrs["dilation"][axis]
                s = row.attrs["stride"][axis]
                if d == 1:
                    size_f.append("r_in + (F - 1)*j_in")
                    size_t.append(f"{num(r_in)} + ({k} - 1)*{num(j_in)}")
                else:
                    size_f.append("r_in + d(F - 1)*j_in")
                    size_t.append(f"{num(r_in)} + {d}*({k} - 1)*{num(j_in)}")
                jump_f.append("j_in * S")
                jump_t.append(f"{num(j_in)}*{s}")
                continue
            grow = step.grow[axis] if step is not None else Fraction(0)
            jump = step.jump[axis] if step is not None else Fraction(1)
            if grow == 0:
                size_f.append("r_in (unchanged)")
                size_t.append(num(r_in))
            else:
                whole = row.op in ("flatten", "global_avgpool", "global_maxpool", "reshape") or (
                    row.op == "linear" and axis == 1
                )
                size_f.append(f"r_in + ({letter} - 1)*j_in (sees the whole input)" if whole else "r_in + grow*j_in")
                grow_t = f"({row.input_shapes[0][axis + 1]} - 1)" if whole else num(grow)
                size_t.append(f"{num(r_in)} + {grow_t}*{num(j_in)}")
            if jump == 1:
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
    steps = list(_family(row)(row, report))
    steps.insert(_after_params(steps), _memory_step(row, report))
    if report.convention.name != "macs":
        steps.append(_flops_step(row, report))
    steps.extend(_rf_steps(row, report))
    return steps


def _after_params(steps: list[Step]) -> int:
    """Index just after the last shape or parameter step (memory goes there)."""
    index = 0
    for i, step in enumerate(steps):
        if step.key.startswith("output") or step.key in ("weights", "biases", "params", "buffers"):
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
