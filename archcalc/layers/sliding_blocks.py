"""Sliding local blocks: ``torch.nn.Unfold`` (im2col) and ``torch.nn.Fold`` (col2im).

Unfold gathers every ``kh x kw`` block of a ``C x H x W`` image into a column
(the blocks of a convolution, see window.py for their number)::

    im2col   C x H x W  ->  C*kh*kw x L,   L = H_out * W_out blocks
    ops      none (a copy; a value in several blocks is copied into each)

Fold is its adjoint: it sums the columns back into an image of ``output_size``,
values of overlapping blocks added::

    col2im   C*kh*kw x L  ->  C x H x W
    adds     = C * (contributions - covered positions)

where, per axis, ``contributions`` counts the (block, tap) pairs that land
inside the image (outside it is padding) and ``covered`` the positions some
tap lands on; both factor over the axes (``contributions_h * contributions_w``).
Non-overlapping blocks (stride = kernel) add nothing.

Receptive field: im2col puts a block's taps in channels at one position
(``grow = d(k - 1)``, ``jump = S``, as the window of a convolution); col2im
goes back (``jump = 1/S``). Neither fvcore nor torch's counter counts these.
Torch: ``nn.Unfold`` / ``nn.Fold``, ``F.unfold`` / ``F.fold``; images only
(torch's fold and unfold take 4-D batches).
"""

from __future__ import annotations

from fractions import Fraction

from archcalc.errors import LayerError
from archcalc.layers.base import REQUIRED, Family, RFStep, Rule, ShapeResult, SummaryName, pair, register_family, window_step
from archcalc.layers.terms import Derived, Term, no_params, shape_step
from archcalc.layers.window import output_length

_KEYS = {"kernel": REQUIRED, "dilation": 1, "pad": 0, "stride": 1}
_ALIASES = {"kernel_size": "kernel", "padding": "pad"}


def _pairs(attrs) -> None:
    for key in ("kernel", "dilation", "pad", "stride"):
        attrs[key] = pair(attrs[key], key)
        if min(attrs[key]) < (0 if key == "pad" else 1):
            raise LayerError(f"{key} must be {'>= 0' if key == 'pad' else '>= 1'}, got {attrs[key]}")


def _blocks(sizes, attrs) -> tuple[int, int]:
    out = []
    for size, k, s, p, d, axis in zip(sizes, attrs["kernel"], attrs["stride"], attrs["pad"], attrs["dilation"],
                                      ("height", "width")):
        out.append(output_length(size, k, s, p, p, d, axis=axis)[0])
    return out[0], out[1]


def _coverage(size: int, blocks: int, k: int, s: int, p: int, d: int) -> tuple[int, int]:
    """(block, tap) pairs that land inside ``[0, size)`` along one axis, and the positions hit."""
    hits = [b * s + t * d - p for b in range(blocks) for t in range(k)]
    inside = [h for h in hits if 0 <= h < size]
    return len(inside), len(set(inside))


class Im2colRule(Rule):
    op = "im2col"
    aliases = ("unfold",)
    primary = "kernel"
    category = "reshape"
    keys = _KEYS
    key_aliases = _ALIASES
    summary = "unfold (im2col): every k x k block of an image into a column (data movement)"

    def normalize(self, args, in_shapes):
        attrs = super().normalize(args, in_shapes)
        if len(in_shapes[0]) != 3:
            raise LayerError(f"unfold (im2col) needs an image C x H x W, got shape {in_shapes[0]}")
        _pairs(attrs)
        return attrs

    def output_shape(self, attrs, in_shapes):
        c, h, w = in_shapes[0]
        kh, kw = attrs["kernel"]
        bh, bw = _blocks((h, w), attrs)
        return ShapeResult((c * kh * kw, bh * bw))

    def derive(self, attrs, in_shapes, out_shape):
        """``C*kh*kw`` rows, one column per block: a copy."""
        c, h, w = in_shapes[0]
        kh, kw = attrs["kernel"]
        bh, bw = _blocks((h, w), attrs)
        return [
            Derived("output_axis0", "output rows", "C*F_h*F_w", f"{c}*{kh}*{kw}", out_shape[0]),
            Derived("output_axis1", "output columns (blocks)", "H_out*W_out (as a convolution's outputs)",
                    f"{bh}*{bw}", out_shape[1]),
            shape_step(out_shape, "C*F*F x L", note="a copy: no arithmetic"),
            no_params(),
        ]

    def rf_step(self, attrs, in_shapes):
        return window_step(attrs["kernel"], attrs["stride"], attrs["pad"], attrs["dilation"])

    def to_torch(self, node, factory):
        from torch import nn

        a = node.attrs
        return nn.Unfold(tuple(a["kernel"]), dilation=tuple(a["dilation"]), padding=tuple(a["pad"]),
                         stride=tuple(a["stride"]))


class Col2imRule(Rule):
    op = "col2im"
    aliases = ("fold",)
    primary = "output"
    category = "elementwise"
    keys = {"output": REQUIRED, **_KEYS}
    key_aliases = {**_ALIASES, "output_size": "output"}
    summary = "fold (col2im): columns of k x k blocks summed back into an image"

    def normalize(self, args, in_shapes):
        attrs = super().normalize(args, in_shapes)
        if len(in_shapes[0]) != 2:
            raise LayerError(f"fold (col2im) needs columns C*kh*kw x L, got shape {in_shapes[0]}")
        _pairs(attrs)
        attrs["output"] = pair(attrs["output"], "output")
        rows, blocks = in_shapes[0]
        kh, kw = attrs["kernel"]
        if rows % (kh * kw):
            raise LayerError(f"fold: {rows} rows are not C*kh*kw for a {kh}x{kw} kernel")
        bh, bw = _blocks(attrs["output"], attrs)
        if bh * bw != blocks:
            raise LayerError(f"fold to {attrs['output'][0]}x{attrs['output'][1]} makes {bh}*{bw} = {bh * bw} "
                             f"blocks, the input has {blocks} columns")
        return attrs

    def output_shape(self, attrs, in_shapes):
        kh, kw = attrs["kernel"]
        return ShapeResult((in_shapes[0][0] // (kh * kw), *attrs["output"]))

    def derive(self, attrs, in_shapes, out_shape):
        """``C * (contributions - covered positions)`` adds (see the module docstring)."""
        c = out_shape[0]
        kh, kw = attrs["kernel"]
        bh, bw = _blocks(attrs["output"], attrs)
        axes = [
            _coverage(size, blocks, k, s, p, d)
            for size, blocks, k, s, p, d in zip(attrs["output"], (bh, bw), attrs["kernel"], attrs["stride"],
                                                attrs["pad"], attrs["dilation"])
        ]
        (ch, vh), (cw, vw) = axes
        adds = Term(c * (ch * cw - vh * vw), "C*(contributions_h*contributions_w - covered_h*covered_w)",
                    f"{c}*({ch}*{cw} - {vh}*{vw})")
        return [
            Derived("output_channels", "output channels", "rows / (F_h*F_w)", f"{in_shapes[0][0]} / ({kh}*{kw})", c),
            shape_step(out_shape, "output_size x C"),
            no_params(),
            adds.step("adds", "additions", "values of overlapping blocks summed"),
        ]

    def rf_step(self, attrs, in_shapes):
        jumps = tuple(Fraction(1, s) for s in attrs["stride"])
        return RFStep((Fraction(0), Fraction(0)), jumps, tuple((j - 1) / 2 for j in jumps))

    def to_torch(self, node, factory):
        from torch import nn

        a = node.attrs
        return nn.Fold(tuple(a["output"]), tuple(a["kernel"]), dilation=tuple(a["dilation"]),
                       padding=tuple(a["pad"]), stride=tuple(a["stride"]))


def _block_args(m) -> dict:
    return {"kernel": _tuple(m.kernel_size), "dilation": _tuple(m.dilation), "pad": _tuple(m.padding),
            "stride": _tuple(m.stride)}


def _unfold_module(m, leaf):
    return "im2col", _block_args(m)


def _fold_module(m, leaf):
    return "col2im", {"output": _tuple(m.output_size), **_block_args(m)}


def _tuple(value):
    return tuple(value) if isinstance(value, (list, tuple)) else value


def _unfold_fn(call):
    x = call.arg(0, "input")
    if getattr(call.func, "__module__", None) != "torch.nn.functional" or len(call.shape(x)) != 3:
        return None  # Tensor.unfold(dim, size, step) is a view of another kind
    args = {"kernel": _tuple(call.arg(1, "kernel_size")), "dilation": _tuple(call.arg(2, "dilation", 1)),
            "pad": _tuple(call.arg(3, "padding", 0)), "stride": _tuple(call.arg(4, "stride", 1))}
    return [call.spec("im2col", args, [x])]


def _fold_fn(call):
    args = {"output": _tuple(call.arg(1, "output_size")), "kernel": _tuple(call.arg(2, "kernel_size")),
            "dilation": _tuple(call.arg(3, "dilation", 1)), "pad": _tuple(call.arg(4, "padding", 0)),
            "stride": _tuple(call.arg(5, "stride", 1))}
    return [call.spec("col2im", args, [call.arg(0, "input")])]


FAMILY = register_family(
    Family(
        name="sliding_blocks",
        rules=(Im2colRule, Col2imRule),
        torch_modules={"Unfold": _unfold_module, "Fold": _fold_module},
        torch_functions={"unfold": _unfold_fn, "fold": _fold_fn},
        names=(SummaryName(r"unfold|im2col", "im2col", precedence=11), SummaryName(r"fold|col2im", "col2im", precedence=12)),
        examples={
            "unfold_fold": ("6x7x3", "- im2col: {kernel: 3, pad: 1, stride: 2}\n"
                                     "- col2im: {output: [6, 7], kernel: 3, pad: 1, stride: 2}"),
            "fold_overlapping": ("4x5x2", "- im2col: {kernel: 2}\n- col2im: {output: [4, 5], kernel: 2}"),
        },
    )
)
