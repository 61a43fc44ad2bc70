"""Recurrent layers: RNN, LSTM and GRU over a sequence, and their one-step cells.

Input ``(T, F)`` per sample (``T`` steps of ``F`` features; ``batch_first`` or
not, the batch axis is not part of the per-sample shape), ``H`` hidden units,
``L`` layers, ``D`` directions (2 when bidirectional), ``G`` gates (RNN 1,
GRU 3, LSTM 4), ``P`` the LSTM's projection size (``proj_size``; the hidden
state then has ``H_out = P`` features, else ``H_out = H``)::

    output  = (T, D * H_out)
    weights = D * sum over layers of G*H*(in_l + H_out)  (+ D*L*P*H projections W_hr)
              with in_0 = F and in_l = D * H_out for the deeper layers
    biases  = D * L * 2*G*H                              (b_ih and b_hh; none with bias=False)
    MACs    = T * weights                                 (every weight is used once per step)

Every step is counted, the first one's ``W_hh h_0`` too (``h_0`` is zeros
unless given, but torch multiplies it all the same). The issue's truths:
``nn.LSTM(16, 32, num_layers=2)`` over 12 steps ``12*4*32*(16 + 32) +
12*4*32*(32 + 32) = 172,032`` MACs; ``nn.GRU(16, 24, bidirectional=True)``
over 12 steps ``2*12*3*24*(16 + 24) = 69,120``.

The gate arithmetic per hidden unit and step, from the equations of the
PyTorch docs (``torch.nn.LSTM``, ``torch.nn.GRU``, ``torch.nn.RNN``), on top
of the two matrix-vector products of each gate (``W_i* x`` and ``W_h* h``)
and their ``2*G`` bias adds::

    LSTM  i, f, o = sigmoid(.), g = tanh(.), c' = f*c + i*g, h' = o*tanh(c')
          adds 4 (x and h parts of the 4 gates) + 3 (the sigmoids' 1 + e^-x) + 1 (c')  = 8
          muls 3 (f*c, i*g, o*tanh(c')), divs 3 (sigmoids), exps 5 (3 exp, 2 tanh)
    GRU   r, z = sigmoid(.), n = tanh(W_in x + b_in + r*(W_hn h + b_hn)), h' = (1 - z)*n + z*h
          adds 3 (x and h parts) + 2 (sigmoids) + 2 (1 - z, the final sum)          = 7
          muls 3 (r*(..), (1 - z)*n, z*h), divs 2, exps 3 (2 exp, 1 tanh)
    RNN   h' = tanh(W_ih x + b_ih + W_hh h + b_hh)   (or relu)
          adds 1, exps 1 (tanh) or cmps 1 (relu)

These are primitive counts of a ``dot`` layer (as attention's softmax): the
conventions count the MACs (and the bias adds where asked).

Peer tools: fvcore has no handle for ``aten::lstm`` / ``gru`` / ``rnn_tanh``
/ ``rnn_relu`` and counts 0 (unsupported), but it counts a cell's traced
``addmm`` as its MACs. PyTorch's flop counter (``torch/utils/flop_counter.py``)
sees the ``addmm`` / ``mm`` of a GRU, an RNN, any cell and an LSTM with a
projection, ``2 * MACs``; a plain LSTM runs on the CPU as one oneDNN kernel
(``mkldnn_rnn_layer``; on CUDA ``_cudnn_rnn``) that has no formula: 0. The
``torch`` convention reproduces the CPU counter.

Torch: ``nn.RNN`` / ``nn.LSTM`` / ``nn.GRU`` and their ``*Cell`` modules,
the ``torch._VF`` calls they make (``lstm``, ``gru``, ``rnn_tanh``,
``rnn_relu``, ``lstm_cell``...); a given initial state that is an activation
is an input of the layer; the final states ``(h_n, c_n)`` are second outputs.
Built as the torch module returning its output sequence (or ``h'``).
"""

from __future__ import annotations

from functools import cache

from archcalc.errors import LayerError, SpecError
from archcalc.layers.base import REQUIRED, Family, Rule, ShapeResult, SummaryName, positive_int, register_family
from archcalc.layers.terms import Term, hidden, num, shape_step

#: gates per hidden unit and the gate arithmetic per hidden unit and step (see the module docstring)
GATES = {"lstm": 4, "gru": 3, "rnn": 1}
PER_UNIT = {
    "lstm": {"adds": 8, "muls": 3, "divs": 3, "exps": 5},
    "gru": {"adds": 7, "muls": 3, "divs": 2, "exps": 3},
    "rnn_tanh": {"adds": 1, "exps": 1},
    "rnn_relu": {"adds": 1, "cmps": 1},
}
_GATE_WORDS = {"lstm": "G = 4 gates (i, f, g, o)", "gru": "G = 3 gates (r, z, n)", "rnn": "G = 1"}
_WORDS = {"adds": "additions", "muls": "multiplications", "divs": "divisions", "exps": "exp/sqrt/pow",
          "cmps": "comparisons"}


def _kind(op: str, attrs) -> str:
    base = op.removesuffix("_cell")
    return f"rnn_{attrs['nonlinearity']}" if base == "rnn" else base


@cache
def _torch_classes() -> dict[str, type]:
    """Torch's recurrent modules returning only their output sequence (or ``h'``), so the
    builder can chain them (made on first use: torch is imported here)."""
    from torch import nn

    def sequence(base):
        class Sequence(base):
            """``torch.nn.{name}`` returning its output sequence only."""

            def forward(self, x):  # type: ignore[override]
                return super().forward(x)[0]

        Sequence.__name__ = Sequence.__qualname__ = base.__name__ + "Output"
        return Sequence

    class LSTMCellOutput(nn.LSTMCell):
        """``torch.nn.LSTMCell`` returning ``h'`` only."""

        def forward(self, x):  # type: ignore[override]
            return super().forward(x)[0]

    return {
        "lstm": sequence(nn.LSTM),
        "gru": sequence(nn.GRU),
        "rnn": sequence(nn.RNN),
        "lstm_cell": LSTMCellOutput,
        "gru_cell": nn.GRUCell,
        "rnn_cell": nn.RNNCell,
    }


class _Recurrent(Rule):
    category = "dot"
    primary = "hidden"
    key_aliases = {"hidden_size": "hidden", "units": "hidden", "num_layers": "layers"}
    absent = {"rf": "a recurrence mixes every step of a sequence: it has no spatial receptive field"}
    #: whole sequences (True) or one step (cells)
    sequence = True

    def check_arity(self, in_shapes):
        # the input, and optionally the initial state(s) when they are activations
        limit = 3 if self.op.startswith("lstm") else 2
        if not 1 <= len(in_shapes) <= limit:
            raise LayerError(f"{self.op} takes the input and at most {limit - 1} initial state(s), got {len(in_shapes)}")

    def normalize(self, args, in_shapes):
        attrs = super().normalize(args, in_shapes)
        x = in_shapes[0]
        want = 2 if self.sequence else 1
        if len(x) != want:
            what = "a sequence T x F" if self.sequence else "one step's features F"
            raise LayerError(f"{self.op} needs {what} per sample, got shape {x}",
                             hint="a flatten or reshape before it, or check the layer order")
        attrs["hidden"] = positive_int(attrs["hidden"], "hidden")
        attrs["input_size"] = x[-1]
        attrs["bias"] = bool(attrs["bias"])
        if self.op.startswith("rnn") and attrs["nonlinearity"] not in ("tanh", "relu"):
            raise SpecError(f"an RNN's nonlinearity is tanh or relu, got {attrs['nonlinearity']!r}")
        if self.sequence:
            attrs["layers"] = positive_int(attrs["layers"], "layers")
            attrs["bidirectional"] = bool(attrs["bidirectional"])
            proj = attrs.get("proj_size", 0)
            if proj:
                proj = positive_int(proj, "proj_size")
                if proj >= attrs["hidden"]:
                    raise LayerError(f"proj_size ({proj}) must be smaller than hidden ({attrs['hidden']})")
                attrs["proj_size"] = proj
        return attrs

    def out_features(self, attrs) -> int:
        return attrs.get("proj_size") or attrs["hidden"]

    def output_shape(self, attrs, in_shapes):
        if not self.sequence:
            return ShapeResult((attrs["hidden"],))
        directions = 2 if attrs["bidirectional"] else 1
        return ShapeResult((in_shapes[0][0], directions * self.out_features(attrs)))

    def derive(self, attrs, in_shapes, out_shape):
        """``weights = D * sum_l G*H*(in_l + H_out)`` (+ projections), ``biases = D*L*2*G*H``,
        ``MACs = T * weights``; the gate arithmetic per hidden unit and step of the module docstring."""
        kind = _kind(self.op, attrs)
        g, h, f = GATES[self.op.removesuffix("_cell")], attrs["hidden"], attrs["input_size"]
        sequence = self.sequence
        layers = attrs["layers"] if sequence else 1
        directions = 2 if sequence and attrs["bidirectional"] else 1
        proj = attrs.get("proj_size", 0) if sequence else 0
        h_out = proj or h
        steps_t = in_shapes[0][0] if sequence else 1
        ho_f, ho_s = ("P", str(proj)) if proj else ("H", str(h))
        if sequence:
            shape = f"T x {'D*' if directions > 1 else ''}{'P' if proj else 'H'}"
            steps = [shape_step(out_shape, shape, note=_GATE_WORDS[self.op])]
        else:
            steps = [shape_step(out_shape, "H (the new hidden state)", note=_GATE_WORDS[self.op.removesuffix("_cell")])]
        first = Term(g * h * (f + h_out), f"G*H*(F + {ho_f})", f"{g}*{h}*({f} + {ho_s})")
        matrices = first
        if layers > 1:
            deeper = Term((layers - 1) * g * h * (directions * h_out + h_out),
                          f"(L - 1)*G*H*({'D*' if directions > 1 else ''}{ho_f} + {ho_f})",
                          f"({layers} - 1)*{g}*{h}*({f'{directions}*' if directions > 1 else ''}{ho_s} + {ho_s})")
            matrices = matrices + deeper
        if proj:
            matrices = matrices + Term(layers * proj * h, "L*P*H (projections W_hr)", f"{layers}*{proj}*{h}")
        weights = (directions * matrices.grouped()) if directions > 1 else matrices
        steps.append(weights.step("weights", "weights", "W_ih and W_hh of every gate" + (", W_hr" if proj else "")))
        if attrs["bias"]:
            biases = Term(directions * layers * 2 * g * h, "D*L*2*G*H (b_ih and b_hh)" if sequence else "2*G*H (b_ih and b_hh)",
                          f"{directions}*{layers}*2*{g}*{h}" if sequence else f"2*{g}*{h}")
            steps.append(biases.step("biases", "biases"))
            params = Term(weights.value + biases.value, "weights + biases", f"{num(weights.value)} + {num(biases.value)}")
        else:
            params = weights.named("weights (no bias)")
        steps.append(params.step("params", "params"))
        if sequence:
            macs = Term(steps_t * weights.value, "T * weights", f"{steps_t} * {num(weights.value)}")
            note = "every step, the first step's W_hh h_0 included"
        else:
            macs = Term(weights.value, "weights (one step)", num(weights.value))
            note = "W_ih x and W_hh h (h = 0 when not given: torch multiplies it all the same)"
        steps.append(macs.step("macs", "MACs", note))
        units = Term(steps_t * directions * layers * h,
                     "T*D*L*H (hidden units and steps)" if sequence else "H", f"{steps_t}*{directions}*{layers}*{h}"
                     if sequence else str(h))
        for key, per in PER_UNIT[kind].items():
            steps.append((units * per).step(key, _WORDS[key], "gate arithmetic per hidden unit and step"))
        calls = steps_t * directions * layers
        mac = macs.value
        torch_flops = 0 if (self.op == "lstm" and not proj) else 2 * mac
        steps += [
            hidden("dot_outputs", calls * (2 * g * h + proj)),
            hidden("bias_adds", calls * 2 * g * h if attrs["bias"] else 0),
            hidden("fvcore", 0 if sequence else mac),
            hidden("torch", torch_flops),
        ]
        return steps

    def to_torch(self, node, factory):
        a = node.attrs
        cls = _torch_classes()[self.op]
        extra = {}
        if self.op.startswith("rnn"):
            extra["nonlinearity"] = a["nonlinearity"]
        if self.sequence:
            extra.update(num_layers=a["layers"], bidirectional=a["bidirectional"], batch_first=True)
            if a.get("proj_size"):
                extra["proj_size"] = a["proj_size"]
        return cls(a["input_size"], a["hidden"], bias=a["bias"], **extra, **factory)


_SEQUENCE_KEYS = {"hidden": REQUIRED, "layers": 1, "bidirectional": False, "bias": True}


class LSTMRule(_Recurrent):
    op = "lstm"
    keys = {**_SEQUENCE_KEYS, "proj_size": 0}
    summary = "LSTM over a sequence T x F (layers, bidirectional, proj_size): every step counted"


class GRURule(_Recurrent):
    op = "gru"
    keys = _SEQUENCE_KEYS
    summary = "GRU over a sequence T x F (layers, bidirectional): every step counted"


class RNNRule(_Recurrent):
    op = "rnn"
    aliases = ("simple_rnn", "elman")
    keys = {**_SEQUENCE_KEYS, "nonlinearity": "tanh"}
    summary = "Elman RNN (tanh or relu) over a sequence T x F: every step counted"


class LSTMCellRule(_Recurrent):
    op = "lstm_cell"
    aliases = ("lstmcell",)
    keys = {"hidden": REQUIRED, "bias": True}
    sequence = False
    summary = "one LSTM step on F features (the new hidden state H)"


class GRUCellRule(_Recurrent):
    op = "gru_cell"
    aliases = ("grucell",)
    keys = {"hidden": REQUIRED, "bias": True}
    sequence = False
    summary = "one GRU step on F features"


class RNNCellRule(_Recurrent):
    op = "rnn_cell"
    aliases = ("rnncell",)
    keys = {"hidden": REQUIRED, "bias": True, "nonlinearity": "tanh"}
    sequence = False
    summary = "one Elman RNN step on F features"


# -- from torch ------------------------------------------------------------------------


def _sequence_module(op: str):
    def mapper(m, leaf):
        args = {"hidden": m.hidden_size, "layers": m.num_layers, "bidirectional": m.bidirectional, "bias": m.bias}
        if op == "rnn":
            args["nonlinearity"] = m.nonlinearity
        if op == "lstm" and m.proj_size:
            args["proj_size"] = m.proj_size
        return op, args

    return mapper


def _cell_module(op: str):
    def mapper(m, leaf):
        args = {"hidden": m.hidden_size, "bias": m.bias}
        if op == "rnn_cell":
            args["nonlinearity"] = m.nonlinearity
        return op, args

    return mapper


def _states(call, hx) -> list:
    """The initial states among the activations (``h_0``, ``c_0`` computed by the model)."""
    tensors = [hx] if call.is_tensor(hx) else list(hx or ())
    return [t for t in tensors if call.is_active(t)]


def _final_states(call, x, outputs) -> list:
    """Specs of the final states ``h_n`` (and ``c_n``): second outputs, pruned when unused."""
    specs = []
    for out in outputs[1:]:
        shape = list(call.out_shape(out))
        spec = call.spec("copy", {"fn": f"{call.name}_state", "shape": shape}, [x], out=out, base="state", fn=call.name)
        spec.secondary = True
        specs.append(spec)
    return specs


def _vf_sequence(op: str, nonlinearity: str | None = None):
    """``_VF.lstm(input, hx, flat_weights, has_biases, num_layers, dropout, train, bidirectional,
    batch_first)`` (``gru``, ``rnn_tanh``, ``rnn_relu`` take ``hx`` as one tensor)."""

    def handler(call):
        x, hx, weights = call.args[:3]
        if not call.is_active(x) or not isinstance(call.args[3], bool):
            return None  # the packed-sequence overload (data, batch_sizes, ...) is not mapped
        has_biases, layers, _, _, bidirectional = call.args[3:8]
        if not all(call.is_constant(w) for w in weights):
            return None
        w_ih = weights[0]
        gates = GATES[op]
        hidden_size = w_ih.shape[0] // gates
        args = {"hidden": hidden_size, "layers": layers, "bidirectional": bool(bidirectional), "bias": bool(has_biases)}
        if nonlinearity:
            args["nonlinearity"] = nonlinearity
        w_hh = weights[1]
        if op == "lstm" and w_hh.shape[1] != hidden_size:
            args["proj_size"] = w_hh.shape[1]  # W_hh is (4H, P) with a projection
        outputs = call.outputs()
        main = call.spec(op, args, [x, *_states(call, hx)], out=outputs[0], params=call.params(*weights))
        return [main, *_final_states(call, x, outputs)]

    return handler


def _vf_cell(op: str, nonlinearity: str | None = None):
    """``_VF.lstm_cell(input, hx, w_ih, w_hh, b_ih, b_hh)`` and kin."""

    def handler(call):
        x, hx, w_ih, w_hh = call.args[:4]
        b_ih, b_hh = (list(call.args[4:6]) + [None, None])[:2]
        if not call.is_active(x) or not all(call.is_constant(w) for w in (w_ih, w_hh)):
            return None
        args = {"hidden": w_hh.shape[1], "bias": b_ih is not None}
        if nonlinearity:
            args["nonlinearity"] = nonlinearity
        outputs = call.outputs()
        main = call.spec(op, args, [x, *_states(call, hx)], out=outputs[0], params=call.params(w_ih, w_hh, b_ih, b_hh))
        return [main, *_final_states(call, x, outputs)]

    return handler


FAMILY = register_family(
    Family(
        name="recurrent",
        rules=(LSTMRule, GRURule, RNNRule, LSTMCellRule, GRUCellRule, RNNCellRule),
        torch_modules={
            "LSTM": _sequence_module("lstm"),
            "GRU": _sequence_module("gru"),
            "RNN": _sequence_module("rnn"),
            "LSTMCell": _cell_module("lstm_cell"),
            "GRUCell": _cell_module("gru_cell"),
            "RNNCell": _cell_module("rnn_cell"),
        },
        torch_functions={
            "lstm": _vf_sequence("lstm"),
            "gru": _vf_sequence("gru"),
            "rnn_tanh": _vf_sequence("rnn", "tanh"),
            "rnn_relu": _vf_sequence("rnn", "relu"),
            "lstm_cell": _vf_cell("lstm_cell"),
            "gru_cell": _vf_cell("gru_cell"),
            "rnn_tanh_cell": _vf_cell("rnn_cell", "tanh"),
            "rnn_relu_cell": _vf_cell("rnn_cell", "relu"),
        },
        names=(
            SummaryName(r"lstm", "lstm", precedence=15),
            SummaryName(r"gru", "gru", precedence=15),
            SummaryName(r"rnn|recurrent", "rnn", precedence=15),
        ),
        examples={
            "lstm_two_layers": ("12x16", "- lstm: {hidden: 32, layers: 2}"),
            "lstm_projection_bidirectional": ("7x10", "- lstm: {hidden: 12, proj_size: 5, bidirectional: true}"),
            "lstm_no_bias": ("6x8", "- lstm: {hidden: 6, layers: 3, bias: false, bidirectional: true}"),
            "gru_bidirectional": ("12x16", "- gru: {hidden: 24, bidirectional: true}\n- gru: {hidden: 8, layers: 2}"),
            "rnn_relu": ("9x5", "- rnn: {hidden: 7, nonlinearity: relu, layers: 2, bidirectional: true}\n"
                                "- rnn: {hidden: 3, bias: false}"),
            "cells": ("10", "- lstm_cell: 12\n- gru_cell: {hidden: 6, bias: false}\n- rnn_cell: {hidden: 4, "
                            "nonlinearity: relu}"),
        },
    )
)
