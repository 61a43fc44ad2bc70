"""Padding: zeros, a constant, a reflection, a replication or a circular wrap around the
spatial axes (``torch.nn.ZeroPad1d/2d/3d``, ``ConstantPad*``, ``ReflectionPad*``,
``ReplicationPad*``, ``CircularPad*``, ``F.pad``).

Data movement into a new, larger tensor: no arithmetic. ``pad`` is written as
torch writes it, last axis first: ``[left, right]``, ``[left, right, top,
bottom]``, ``[left, right, top, bottom, front, back]``, or one number for every
side of every spatial axis (``n`` = 1, 2, 3 by the input's rank)::

    output  = C x (L + left + right)                     and so on per axis
    ops     = none (a copy; the input is read once, the border written)

Reflection needs each pad smaller than the axis it reflects; a circular pad at
most the axis' size (as torch checks). A constant pad may be negative (a crop).

Receptive field: a pad shifts where the window of the next layer starts
(``shift = -P_before``, as a convolution's own padding does) and leaves size
and jump unchanged. Neither fvcore nor torch's counter counts it.

Torch: the 15 padding modules, ``F.pad`` (modes constant, reflect, replicate,
circular); built as ``nn.ConstantPad*`` / ``nn.ReflectionPad*`` / ... by the
mode and the input's rank.
"""

from __future__ import annotations

from fractions import Fraction

from archcalc.errors import LayerError, SpecError
from archcalc.layers.base import AXIS_LETTERS, Family, RFStep, Rule, ShapeResult, SummaryName, register_family
from archcalc.layers.terms import Derived, no_params, shape_step

MODES = ("constant", "reflect", "replicate", "circular")
_CLASSES = {"constant": "ConstantPad", "reflect": "ReflectionPad", "replicate": "ReplicationPad",
            "circular": "CircularPad"}


class PadRule(Rule):
    op = "padding"
    aliases = ("pad", "zeropad", "zero_pad", "constantpad", "reflectionpad", "replicationpad", "circularpad")
    primary = "pad"
    category = "reshape"
    keys = {"pad": 1, "mode": "constant", "value": 0.0, "axes": None}
    key_aliases = {"padding": "pad"}
    summary = "pad the spatial axes (constant, reflect, replicate, circular): data movement, no arithmetic"

    def normalize(self, args, in_shapes):
        attrs = super().normalize(args, in_shapes)
        shape = in_shapes[0]
        if attrs["mode"] not in MODES:
            raise SpecError(f"pad mode must be one of {', '.join(MODES)}, got {attrs['mode']!r}")
        axes = attrs["axes"]
        if axes is None:
            axes = max(1, min(3, len(shape) - 1))
        if not isinstance(axes, int) or isinstance(axes, bool) or not 1 <= axes <= len(shape):
            raise SpecError(f"pad axes must be a whole number from 1 to {len(shape)}, got {attrs['axes']!r}")
        attrs["axes"] = axes
        pad = attrs["pad"]
        if isinstance(pad, int) and not isinstance(pad, bool):
            pad = [pad] * (2 * axes)
        if not isinstance(pad, (list, tuple)) or len(pad) != 2 * axes or not all(
            isinstance(p, int) and not isinstance(p, bool) for p in pad
        ):
            raise SpecError(f"pad takes one number or {2 * axes} numbers (last axis first: left, right, ...), "
                            f"got {attrs['pad']!r}")
        attrs["pad"] = tuple(pad)
        sizes = shape[len(shape) - axes:]
        for i, (before, after) in enumerate(zip(pad[0::2], pad[1::2])):
            size = sizes[-1 - i]
            if attrs["mode"] == "constant":
                continue
            if min(before, after) < 0:
                raise LayerError(f"{attrs['mode']} padding cannot be negative, got {before}, {after}")
            limit = size if attrs["mode"] == "circular" else size - 1
            if max(before, after) > limit:
                raise LayerError(
                    f"{attrs['mode']} padding {max(before, after)} is too large for an axis of {size} "
                    f"(at most {limit}, as torch checks)"
                )
        return attrs

    def output_shape(self, attrs, in_shapes):
        shape = list(in_shapes[0])
        pad = attrs["pad"]
        for i in range(attrs["axes"]):
            shape[-1 - i] += pad[2 * i] + pad[2 * i + 1]
            if shape[-1 - i] < 1:
                raise LayerError(f"padding {pad} leaves axis {len(shape) - 1 - i} with {shape[-1 - i]} elements")
        return ShapeResult(tuple(shape))

    def derive(self, attrs, in_shapes, out_shape):
        """Each padded axis grows by its two pads; no operations."""
        steps = []
        n = attrs["axes"]
        letters = AXIS_LETTERS.get(n, tuple(f"axis{i}" for i in range(n)))
        pad = attrs["pad"]
        for i in range(n):
            axis = len(out_shape) - 1 - i
            letter = letters[-1 - i]
            before, after = pad[2 * i], pad[2 * i + 1]
            steps.append(Derived(f"output_axis{axis}", f"output {letter}", f"{letter} + P_before + P_after",
                                 f"{in_shapes[0][axis]} + {before} + {after}", out_shape[axis]))
        steps.reverse()
        steps += [shape_step(out_shape, f"the input, padded ({attrs['mode']})", note="a copy: no arithmetic"),
                  no_params()]
        return steps

    def rf_step(self, attrs, in_shapes):
        """The next window starts ``P_before`` earlier (height and width axes)."""
        pad = attrs["pad"]
        befores = [Fraction(-pad[2 * i]) for i in range(attrs["axes"])]  # last axis first
        width = befores[0] if len(in_shapes[0]) >= 2 else Fraction(0)
        height = befores[1] if attrs["axes"] >= 2 and len(in_shapes[0]) >= 3 else Fraction(0)
        return RFStep((Fraction(0), Fraction(0)), (Fraction(1), Fraction(1)), (height, width))

    def to_torch(self, node, factory):
        from torch import nn

        a = node.attrs
        n = a["axes"]
        if n > 3:
            raise LayerError(f"torch has no padding module for {n} axes", layer=node.name, op=node.op)
        cls = getattr(nn, f"{_CLASSES[a['mode']]}{n}d")
        if a["mode"] == "constant":
            return cls(tuple(a["pad"]), float(a["value"]))
        return cls(tuple(a["pad"]))


# -- from torch ------------------------------------------------------------------------


def _pad_module(mode: str):
    def mapper(m, leaf):
        args = {"pad": tuple(m.padding), "mode": mode, "axes": len(m.padding) // 2}
        if mode == "constant":
            args["value"] = float(m.value)
        return "padding", args

    return mapper


def _pad_fn(call):
    x, pad = call.arg(0, "input"), call.arg(1, "pad")
    mode = call.arg(2, "mode", "constant")
    value = call.arg(3, "value", None)
    if mode not in MODES or not isinstance(pad, (list, tuple)) or len(pad) % 2:
        return None
    args = {"pad": tuple(int(p) for p in pad), "mode": mode, "axes": len(pad) // 2}
    if mode == "constant":
        args["value"] = float(value or 0.0)
    return [call.spec("padding", args, [x], base="pad")]


_MODULES = {
    **{f"ZeroPad{n}d": "constant" for n in (1, 2, 3)},
    **{f"{cls}{n}d": mode for mode, cls in _CLASSES.items() for n in (1, 2, 3)},
}

FAMILY = register_family(
    Family(
        name="padding",
        rules=(PadRule,),
        torch_modules={name: _pad_module(mode) for name, mode in _MODULES.items()},
        torch_functions={"pad": _pad_fn},
        names=(SummaryName(r"pad", "padding", precedence=25),),
        examples={
            "pad_image": ("5x6x3", "- pad: [1, 2, 0, 1]\n- pad: {pad: 2, mode: reflect}\n"
                                   "- pad: {pad: [1, 1, 2, 2], mode: circular}\n- pad: {pad: 1, mode: replicate}"),
            "pad_sequence": ("3x8", "- pad: {pad: [2, 1], value: 0.5}\n- pad: {pad: 3, mode: reflect}"),
            "pad_volume": ("3x4x4x2", "- pad: {pad: 1, mode: replicate}\n- pad: [1, 0, 0, 1, 2, 2]"),
        },
    )
)
