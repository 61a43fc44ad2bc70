"""Sampling an input at the points of a grid (``F.grid_sample``, the spatial transformer's
sampler and deformable attention's, as in Mask2Former and Deformable DETR).

Per sample, an image ``(C, H, W)`` and a grid ``(H_out, W_out, 2)`` of normalised
``(x, y)`` points give ``(C, H_out, W_out)``; a volume ``(C, D, H, W)`` and a grid
``(D_out, H_out, W_out, 3)`` give ``(C, D_out, H_out, W_out)``. Each output is a weighted
sum of the ``m`` input values around its point, ``m`` muls and ``m - 1`` adds (the
point's coordinates and weights, computed once per grid point and shared by the ``C``
channels, are not counted)::

    nearest                   a copy of one input value   no operations
    bilinear (image)          2 x 2 neighbours            4 muls, 3 adds
    bilinear (volume)         2 x 2 x 2                   8 muls, 7 adds
    bicubic  (image)          4 x 4                       16 muls, 15 adds

    fvcore = outputs * 4      (``"aten::grid_sampler": elementwise_flop_counter(0, 4)``,
                               ``# assume bilinear``: every mode and rank)
    torch  = 0                (``torch.utils.flop_counter`` has no grid-sampler formula)

The receptive field is not a rectangle: where each output reads depends on the grid's
values. Torch: ``F.grid_sample`` / ``torch.grid_sampler`` and the aten kernels
``grid_sampler_2d`` / ``grid_sampler_3d``; built as a small module calling ``F.grid_sample``.
"""

from __future__ import annotations

from functools import cache

from archcalc.errors import LayerError, SpecError
from archcalc.layers.base import Absent, Family, OpCounts, Rule, ShapeResult, format_shape, keeps_field, prod, register_family

#: mode -> neighbours read per spatial axis
MODES = {"bilinear": 2, "nearest": 1, "bicubic": 4}
#: aten's ``interpolation_mode`` argument -> mode (``GridSamplerInterpolation`` in ATen)
_ATEN_MODES = ("bilinear", "nearest", "bicubic")
#: fvcore's handle: flops per output element, whatever the mode
FVCORE_PER_OUTPUT = 4


@cache
def _grid_sample_module() -> type:
    import torch
    import torch.nn.functional as F
    from torch import nn

    class GridSample(nn.Module):
        """``F.grid_sample(input, grid, mode, align_corners)`` of two activations."""

        def __init__(self, mode: str, align_corners: bool) -> None:
            super().__init__()
            self.mode, self.align_corners = mode, align_corners

        def forward(self, x: torch.Tensor, grid: torch.Tensor) -> torch.Tensor:
            return F.grid_sample(x, grid, mode=self.mode, align_corners=self.align_corners)

    return GridSample


class GridSampleRule(Rule):
    op = "grid_sample"
    mixes_positions = True
    aliases = ("grid_sampler",)
    category = "elementwise"
    arity = 2
    keys = {"mode": "bilinear", "align_corners": False}
    summary = "sampling an image (C, H, W) at the points of a grid (H_out, W_out, 2)"
    rf_step = staticmethod(keeps_field)
    absent = {"explain": "explained from its counts (m muls and m - 1 adds per output)"}

    def normalize(self, args, in_shapes):
        attrs = super().normalize(args, in_shapes)
        if attrs["mode"] not in MODES:
            raise SpecError(f"grid_sample mode must be one of {', '.join(MODES)}, got {attrs['mode']!r}")
        x, grid = in_shapes
        axes = len(x) - 1
        if axes not in (2, 3) or len(grid) != axes + 1 or grid[-1] != axes:
            raise LayerError(
                f"grid_sample needs an input (C, H, W) with a grid (H_out, W_out, 2), or (C, D, H, W) with "
                f"(D_out, H_out, W_out, 3); got {format_shape(x)} and {format_shape(grid)}"
            )
        if attrs["mode"] == "bicubic" and axes != 2:
            raise LayerError("grid_sample's bicubic mode samples images only (C, H, W)")
        attrs["align_corners"] = bool(attrs["align_corners"])
        return attrs

    def output_shape(self, attrs, in_shapes):
        x, grid = in_shapes
        return ShapeResult((x[0], *grid[:-1]))

    def ops(self, attrs, in_shapes, out_shape):
        outputs = prod(out_shape)
        neighbours = MODES[attrs["mode"]] ** (len(out_shape) - 1)
        reads = neighbours if neighbours > 1 else 0
        return OpCounts(muls=outputs * reads, adds=outputs * max(reads - 1, 0),
                        fvcore=outputs * FVCORE_PER_OUTPUT, torch=0)

    def to_torch(self, node, factory):
        return _grid_sample_module()(node.attrs["mode"], node.attrs["align_corners"])


def _spec(call, x, grid, mode, align_corners):
    if not (call.is_active(x) and call.is_active(grid)) or mode not in MODES:
        return None
    return [call.spec("grid_sample", {"mode": mode, "align_corners": bool(align_corners)}, [x, grid])]


def _grid_sample_fn(call):
    """``F.grid_sample(input, grid, mode, padding_mode, align_corners)``; ``torch.grid_sampler``
    takes the modes as aten's integers."""
    x, grid = call.arg(0, "input"), call.arg(1, "grid")
    mode = call.arg(2, "mode", "bilinear")
    if isinstance(mode, int):
        mode = _ATEN_MODES[mode] if 0 <= mode < len(_ATEN_MODES) else None
    return _spec(call, x, grid, mode, call.arg(4, "align_corners", False))


def _aten_grid_sampler(call):
    """``aten.grid_sampler_2d|3d(input, grid, interpolation_mode, padding_mode, align_corners)``."""
    x, grid, mode = call.args[:3]
    align = call.args[4] if len(call.args) > 4 else False
    return _spec(call, x, grid, _ATEN_MODES[mode] if 0 <= mode < len(_ATEN_MODES) else None, align)


FAMILY = register_family(
    Family(
        name="grid_sample",
        rules=(GridSampleRule,),
        torch_modules=Absent("torch has no module for grid sampling: models call F.grid_sample"),
        torch_functions=dict.fromkeys(("grid_sample", "grid_sampler"), _grid_sample_fn),
        aten_ops=dict.fromkeys(("grid_sampler_2d", "grid_sampler_3d"), _aten_grid_sampler),
        names=Absent("pasted summaries list modules; grid sampling is a function call"),
    )
)
