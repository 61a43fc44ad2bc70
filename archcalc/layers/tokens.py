"""Token sequences in specs: image patches to tokens, a class token, learned position tables,
taking one token, rotary position embedding.

Shapes are per sample, a sequence as ``(T, D)``: T tokens of D features.

=====================  ========================  ============  ================================
op                     shape                     parameters    operations per sample
=====================  ========================  ============  ================================
to_tokens              (C, H, W) -> (H*W, C)     0             0 (a view: flatten + transpose)
class_token            (T, D) -> (T + n, D)      n * D         0 (a concatenation)
position_embedding     (T, D) -> (T, D)          rows * D      T * D adds
select_token           (T, D) -> (D,)            0             0 (a view: x[:, index])
rotary                 (T, h * d) -> same        0             T * h * d * (2 muls + 1 add)
=====================  ========================  ============  ================================

* ``to_tokens``: ViT's ``x.flatten(2).transpose(1, 2)`` after its patch convolution;
* ``class_token``: ViT's and BERT-style ``[CLS]`` token(s), learned, put first;
* ``position_embedding``: a learned table of ``rows`` positions (``max_position_embeddings``,
  GPT-2's ``wpe``, ViT's ``pos_embed``) whose first T rows are added to the tokens; with
  ``one_row: true`` its first row is added to every token: BERT's token-type table
  (``rows: 2``) when one type is in use;
* ``select_token``: the class token that a classification head reads (ViT, BERT's pooler);
* ``rotary``: RoPE (Su et al. 2021), ``x cos + rotate_half(x) sin`` per head, no parameters.

Torch: built as small modules; live models do these with tensor ops, which the capture
records one by one (this family maps no torch call).
"""

from __future__ import annotations

from functools import cache

from archcalc.errors import LayerError, SpecError
from archcalc.layers.base import (
    Absent,
    Family,
    OpCounts,
    ParamCounts,
    Rule,
    ShapeResult,
    format_shape,
    keeps_field,
    positive_int,
    register_family,
    same_shape,
)

_NO_RF = "a token sequence has no spatial receptive field (passed on unchanged)"
_COUNTS = "explained from its counts (see the table in archcalc/layers/tokens.py)"


def _sequence(op: str, shape) -> tuple[int, int]:
    if len(shape) != 2:
        raise LayerError(f"{op} needs a token sequence T x D, got shape {format_shape(shape)}",
                         hint="turn an image into tokens first (to_tokens)")
    return shape[0], shape[1]


@cache
def _modules() -> dict[str, type]:
    import torch
    from torch import nn

    class ToTokens(nn.Module):
        """(N, C, H, W) -> (N, H*W, C)."""

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return x.flatten(2).transpose(1, 2)

    class ClassToken(nn.Module):
        """Learned tokens put before the sequence."""

        def __init__(self, count: int, width: int, **factory) -> None:
            super().__init__()
            self.token = nn.Parameter(torch.zeros(1, count, width, **factory))

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return torch.cat([self.token.expand(x.shape[0], -1, -1), x], dim=1)

    class PositionEmbedding(nn.Module):
        """A learned table of positions; its first T rows are added (``one_row``: its first row to every token)."""

        def __init__(self, rows: int, width: int, one_row: bool = False, **factory) -> None:
            super().__init__()
            self.table = nn.Parameter(torch.zeros(1, rows, width, **factory))
            self.one_row = one_row

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return x + (self.table[:, :1] if self.one_row else self.table[:, : x.shape[1]])

    class SelectToken(nn.Module):
        """x[:, index]."""

        def __init__(self, index: int) -> None:
            super().__init__()
            self.index = index

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return x[:, self.index]

    class Rotary(nn.Module):
        """RoPE on (N, T, h * d): x cos + rotate_half(x) sin per head (no parameters)."""

        def __init__(self, heads: int, base: float) -> None:
            super().__init__()
            self.heads, self.base = heads, base

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            n, t, width = x.shape
            d = width // self.heads
            heads = x.view(n, t, self.heads, d)
            inv = 1.0 / (self.base ** (torch.arange(0, d, 2, device=x.device, dtype=torch.float32) / d))
            angles = torch.outer(torch.arange(t, device=x.device, dtype=torch.float32), inv)
            angles = torch.cat([angles, angles], dim=-1)[None, :, None, :].to(x.dtype)
            first, second = heads[..., : d // 2], heads[..., d // 2:]
            rotated = torch.cat([-second, first], dim=-1)
            return (heads * angles.cos() + rotated * angles.sin()).view(n, t, width)

    return {"to_tokens": ToTokens, "class_token": ClassToken, "position_embedding": PositionEmbedding,
            "select_token": SelectToken, "rotary": Rotary}


class ToTokensRule(Rule):
    op = "to_tokens"
    aliases = ("image_to_tokens", "patches_to_tokens")
    category = "reshape"
    aliases_input = True
    summary = "image C x H x W to H*W tokens of C features (ViT after its patch convolution)"
    absent = {"rf": _NO_RF, "explain": _COUNTS}

    def output_shape(self, attrs, in_shapes):
        shape = in_shapes[0]
        if len(shape) != 3:
            raise LayerError(f"to_tokens needs an image C x H x W, got shape {format_shape(shape)}")
        c, h, w = shape
        return ShapeResult((h * w, c))

    def params(self, attrs, in_shapes, out_shape):
        return ParamCounts()

    def ops(self, attrs, in_shapes, out_shape):
        return OpCounts()

    def to_torch(self, node, factory):
        return _modules()["to_tokens"]()


class ClassTokenRule(Rule):
    op = "class_token"
    aliases = ("cls_token",)
    category = "other"
    keys = {"count": 1}
    primary = "count"
    summary = "learned class token(s) put before the sequence: T x D -> (T + count) x D, count * D parameters"
    absent = {"rf": _NO_RF, "explain": _COUNTS}

    def normalize(self, args, in_shapes):
        attrs = super().normalize(args, in_shapes)
        attrs["count"] = positive_int(attrs["count"], "class_token count")
        _sequence(self.op, in_shapes[0])
        return attrs

    def output_shape(self, attrs, in_shapes):
        t, d = _sequence(self.op, in_shapes[0])
        return ShapeResult((t + attrs["count"], d))

    def params(self, attrs, in_shapes, out_shape):
        return ParamCounts(weights=attrs["count"] * in_shapes[0][1])

    def ops(self, attrs, in_shapes, out_shape):
        return OpCounts()

    def to_torch(self, node, factory):
        return _modules()["class_token"](node.attrs["count"], node.input_shapes[0][1], **factory)


class PositionEmbeddingRule(Rule):
    op = "position_embedding"
    aliases = ("pos_embedding", "learned_positions")
    category = "elementwise"
    keys = {"rows": None, "one_row": False}
    key_aliases = {"positions": "rows", "max_positions": "rows"}
    primary = "rows"
    summary = "a learned table of `rows` positions added to the tokens: rows * D parameters, T * D adds"
    absent = {"rf": _NO_RF, "explain": _COUNTS}
    output_shape = staticmethod(same_shape)

    def normalize(self, args, in_shapes):
        attrs = super().normalize(args, in_shapes)
        t, _ = _sequence(self.op, in_shapes[0])
        rows = t if attrs["rows"] is None else positive_int(attrs["rows"], "position_embedding rows")
        attrs["one_row"] = bool(attrs["one_row"])
        if rows < t and not attrs["one_row"]:
            raise SpecError(f"position_embedding has {rows} rows for a sequence of {t} tokens",
                            hint="one_row: true adds its first row to every token (BERT's token types)")
        attrs["rows"] = rows
        return attrs

    def params(self, attrs, in_shapes, out_shape):
        return ParamCounts(weights=attrs["rows"] * in_shapes[0][1])

    def ops(self, attrs, in_shapes, out_shape):
        t, d = in_shapes[0]
        return OpCounts(adds=t * d)

    def to_torch(self, node, factory):
        return _modules()["position_embedding"](node.attrs["rows"], node.input_shapes[0][1],
                                                node.attrs.get("one_row", False), **factory)


class SelectTokenRule(Rule):
    op = "select_token"
    aliases = ("take_token",)
    category = "reshape"
    aliases_input = True
    keys = {"index": 0}
    primary = "index"
    summary = "one token of the sequence, T x D -> D (the class token a head reads)"
    absent = {"rf": _NO_RF, "explain": _COUNTS}

    def normalize(self, args, in_shapes):
        attrs = super().normalize(args, in_shapes)
        t, _ = _sequence(self.op, in_shapes[0])
        index = attrs["index"]
        if isinstance(index, bool) or not isinstance(index, int) or not -t <= index < t:
            raise SpecError(f"select_token index must be a whole number in [-{t}, {t}), got {index!r}")
        return attrs

    def output_shape(self, attrs, in_shapes):
        return ShapeResult((in_shapes[0][1],))

    def params(self, attrs, in_shapes, out_shape):
        return ParamCounts()

    def ops(self, attrs, in_shapes, out_shape):
        return OpCounts()

    def to_torch(self, node, factory):
        return _modules()["select_token"](node.attrs["index"])


class RotaryRule(Rule):
    op = "rotary"
    aliases = ("rope",)
    category = "elementwise"
    keys = {"heads": None, "base": 10000}
    key_aliases = {"theta": "base", "num_heads": "heads"}
    summary = "rotary position embedding on every head: x cos + rotate_half(x) sin (2 muls, 1 add per element)"
    absent = {"explain": _COUNTS}
    output_shape = staticmethod(same_shape)
    rf_step = staticmethod(keeps_field)

    def normalize(self, args, in_shapes):
        attrs = super().normalize(args, in_shapes)
        _, width = _sequence(self.op, in_shapes[0])
        heads = positive_int(attrs["heads"], "rotary heads") if attrs["heads"] is not None else 1
        if width % heads or (width // heads) % 2:
            raise SpecError(f"rotary: width {width} does not split into {heads} heads of an even width")
        attrs["heads"] = heads
        return attrs

    def params(self, attrs, in_shapes, out_shape):
        return ParamCounts()

    def ops(self, attrs, in_shapes, out_shape):
        t, d = in_shapes[0]
        return OpCounts(muls=2 * t * d, adds=t * d)

    def to_torch(self, node, factory):
        return _modules()["rotary"](node.attrs["heads"], float(node.attrs["base"]))


_ABSENT_TORCH = "live models do this with tensor ops (cat, add, indexing), which the capture records one by one"

FAMILY = register_family(
    Family(
        name="token_sequences",
        rules=(ToTokensRule, ClassTokenRule, PositionEmbeddingRule, SelectTokenRule, RotaryRule),
        torch_modules=Absent(_ABSENT_TORCH),
        torch_functions=Absent(_ABSENT_TORCH),
        names=Absent("pasted summaries show these as parameters of a model's own modules, not as rows"),
        examples={
            "vit_like": ("32x32x3", """
              - conv: {filters: 16, kernel: 8, stride: 8}
              - to_tokens
              - class_token
              - position_embedding: 17
              - layernorm
              - select_token
              - linear: 10
            """),
            "rope": ("8x8x3", """
              - conv: {filters: 16, kernel: 1}
              - to_tokens
              - rotary: {heads: 2}
            """),
        },
    )
)
