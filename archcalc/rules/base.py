"""What a layer rule answers, and the registry that maps op names to rules.

A rule is a small stateless object per layer family. Given the normalised
hyper-parameters (``attrs``) and the input shapes (per sample, no batch), it
answers:

* ``normalize(args, in_shapes)``: check the user's arguments, fill defaults,
  resolve shorthands (``pad: same``, ``depthwise``), return canonical attrs;
* ``output_shape(attrs, in_shapes)``: the output shape, plus notes such as a
  non-integer ``(W - F + 2P)/S + 1``;
* ``params(...)``: weights, biases and buffers;
* ``ops(...)``: primitive operation counts per sample (:class:`OpCounts`);
* ``rf_step(...)``: how the layer changes the receptive field (:class:`RFStep`).

Rules are registered with :func:`register`; adding a layer type means adding
one rule module, touching nothing else.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass, fields
from fractions import Fraction
from typing import Any, ClassVar, Mapping

from archcalc.errors import LayerError, SpecError

Shape = tuple[int, ...]
REQUIRED = object()


@dataclass(frozen=True)
class ShapeResult:
    shape: Shape
    notes: tuple[str, ...] = ()


@dataclass(frozen=True)
class ParamCounts:
    """Parameter counts of one layer: trainable weights and biases, non-trainable buffers."""

    weights: int = 0
    biases: int = 0
    buffers: int = 0

    @property
    def params(self) -> int:
        return self.weights + self.biases


@dataclass(frozen=True)
class OpCounts:
    """Operation counts of one layer for one sample.

    Dot-product layers (conv, linear) fill ``macs`` (multiply-accumulates),
    ``dot_outputs`` (number of dot products, each of which needs ``n - 1`` adds
    when counted exactly) and ``bias_adds``. Other layers fill the primitive
    counts ``adds``, ``muls``, ``divs``, ``cmps`` and ``exps`` (exp, erf, sqrt,
    pow: one transcendental each).

    ``fvcore`` and ``torch`` are what ``fvcore.nn.FlopCountAnalysis`` and
    ``torch.utils.flop_counter.FlopCounterMode`` count for this op, so that the
    presets of the same names reproduce those tools exactly.
    """

    macs: int = 0
    dot_outputs: int = 0
    bias_adds: int = 0
    adds: int = 0
    muls: int = 0
    divs: int = 0
    cmps: int = 0
    exps: int = 0
    fvcore: int = 0
    torch: int = 0

    def scaled(self, factor: int) -> "OpCounts":
        return OpCounts(**{f.name: getattr(self, f.name) * factor for f in fields(self)})

    def __add__(self, other: "OpCounts") -> "OpCounts":
        return OpCounts(**{f.name: getattr(self, f.name) + getattr(other, f.name) for f in fields(self)})

    @property
    def elementary(self) -> int:
        """Primitive operations of a non-dot-product layer: adds + muls + divs + cmps + exps."""
        return self.adds + self.muls + self.divs + self.cmps + self.exps


@dataclass(frozen=True)
class RFStep:
    """How a layer moves the receptive field, per axis (height, width).

    With the input's receptive field size ``r``, jump ``j`` and start ``s``
    (Araujo, Norris and Sim, "Computing Receptive Fields of Convolutional
    Neural Networks", Distill 2019)::

        r_out = r_in + grow * j_in
        j_out = j_in * jump
        s_out = s_in + shift * j_in

    A window of effective kernel ``k' = d(k - 1) + 1``, stride ``S`` and
    padding ``P`` before the first element has ``grow = k' - 1``,
    ``jump = S`` and ``shift = (k' - 1)/2 - P`` (:func:`window_step`).
    """

    grow: tuple[Fraction, Fraction]
    jump: tuple[Fraction, Fraction]
    shift: tuple[Fraction, Fraction]


def window_step(kernel: tuple[int, int], stride: tuple[int, int], pad_before: tuple[int, int]) -> RFStep:
    """Receptive-field step of a sliding window with effective ``kernel`` (already dilated)."""
    return RFStep(
        grow=(Fraction(kernel[0] - 1), Fraction(kernel[1] - 1)),
        jump=(Fraction(stride[0]), Fraction(stride[1])),
        shift=(
            Fraction(kernel[0] - 1, 2) - pad_before[0],
            Fraction(kernel[1] - 1, 2) - pad_before[1],
        ),
    )


IDENTITY_STEP = RFStep((Fraction(0), Fraction(0)), (Fraction(1), Fraction(1)), (Fraction(0), Fraction(0)))


class Rule:
    """Base class of layer rules. Subclasses set ``op``, ``category`` and ``keys``."""

    op: ClassVar[str]
    aliases: ClassVar[tuple[str, ...]] = ()
    #: dot | pool | activation | norm | elementwise | reshape
    category: ClassVar[str]
    #: accepted arguments and their defaults (REQUIRED for mandatory ones)
    keys: ClassVar[Mapping[str, Any]] = {}
    #: alternative spellings of argument names (``padding`` for ``pad``)
    key_aliases: ClassVar[Mapping[str, str]] = {}
    #: the argument a bare value sets (``linear: 4096`` means ``units: 4096``)
    primary: ClassVar[str | None] = None
    #: how many inputs: 1, or None for "two or more" (merges)
    arity: ClassVar[int | None] = 1
    #: the output shares the input's storage (a view): no new activation memory
    aliases_input: ClassVar[bool] = False
    #: one line for `archcalc layer --help` and the docs
    summary: ClassVar[str] = ""

    # -- arguments ---------------------------------------------------------
    def normalize(self, args: dict[str, Any], in_shapes: tuple[Shape, ...]) -> dict[str, Any]:
        """Check arguments against ``keys`` and fill defaults; subclasses refine."""
        self.check_arity(in_shapes)
        return self.fill_defaults(args)

    def check_arity(self, in_shapes: tuple[Shape, ...]) -> None:
        if self.arity is not None and len(in_shapes) != self.arity:
            raise LayerError(f"{self.op} takes {self.arity} input(s), got {len(in_shapes)}")
        if self.arity is None and len(in_shapes) < 2:
            raise LayerError(f"{self.op} merges two or more inputs, got {len(in_shapes)}")

    def fill_defaults(self, args: dict[str, Any]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for key, value in args.items():
            key = self.key_aliases.get(key, key)
            if key not in self.keys:
                close = difflib.get_close_matches(key, list(self.keys) + list(self.key_aliases), n=1)
                hint = f"did you mean '{close[0]}'?" if close else None
                known = ", ".join(self.keys) or "none"
                raise SpecError(f"unknown argument '{key}' for {self.op} (it takes: {known})", hint=hint)
            out[key] = value
        for key, default in self.keys.items():
            if key not in out:
                if default is REQUIRED:
                    raise SpecError(f"{self.op} needs the argument '{key}'")
                out[key] = default
        return out

    # -- answers -----------------------------------------------------------
    def output_shape(self, attrs: Mapping[str, Any], in_shapes: tuple[Shape, ...]) -> ShapeResult:
        return ShapeResult(in_shapes[0])

    def params(self, attrs: Mapping[str, Any], in_shapes: tuple[Shape, ...], out_shape: Shape) -> ParamCounts:
        return ParamCounts()

    def ops(self, attrs: Mapping[str, Any], in_shapes: tuple[Shape, ...], out_shape: Shape) -> OpCounts:
        return OpCounts()

    def rf_step(self, attrs: Mapping[str, Any], in_shapes: tuple[Shape, ...]) -> RFStep:
        return IDENTITY_STEP


_REGISTRY: dict[str, Rule] = {}
_CANONICAL: dict[str, Rule] = {}


def register(cls: type[Rule]) -> type[Rule]:
    """Class decorator: register a rule under its op name and aliases (duplicates raise)."""
    rule = cls()
    for name in (cls.op, *cls.aliases):
        if name in _REGISTRY:
            raise RuntimeError(f"op name '{name}' registered twice")
        _REGISTRY[name] = rule
    _CANONICAL[cls.op] = rule
    return cls


def lookup(op: str) -> Rule | None:
    return _REGISTRY.get(op.lower())


def all_ops() -> dict[str, Rule]:
    """Canonical op name -> rule."""
    return dict(_CANONICAL)


def all_names() -> list[str]:
    return sorted(_REGISTRY)


# -- small shared helpers for rules ------------------------------------------


def pair(value: Any, what: str) -> tuple[int, int]:
    """``3`` -> ``(3, 3)``; ``[3, 5]`` -> ``(3, 5)``; anything else is a SpecError."""
    if isinstance(value, bool):
        raise SpecError(f"{what} must be a whole number or a pair, got {value!r}")
    if isinstance(value, int):
        return (value, value)
    if isinstance(value, float) and value.is_integer():
        return (int(value), int(value))
    if isinstance(value, (list, tuple)) and len(value) == 2 and all(
        isinstance(v, int) and not isinstance(v, bool) for v in value
    ):
        return (int(value[0]), int(value[1]))
    raise SpecError(f"{what} must be a whole number or a pair [h, w], got {value!r}")


def positive_int(value: Any, what: str, minimum: int = 1) -> int:
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if not isinstance(value, int) or isinstance(value, bool) or value < minimum:
        raise SpecError(f"{what} must be a whole number >= {minimum}, got {value!r}")
    return value


def prod(values: tuple[int, ...] | list[int]) -> int:
    result = 1
    for v in values:
        result *= v
    return result


def spatial(shape: Shape, op: str) -> tuple[int, int, int]:
    """``(C, H, W)`` of an image shape, or a LayerError naming the shape."""
    if len(shape) != 3:
        raise LayerError(
            f"{op} needs an image input C x H x W, got shape {format_shape(shape)}",
            hint="add a flatten before dense layers, or check the layer order",
        )
    return shape[0], shape[1], shape[2]


def format_shape(shape: Shape) -> str:
    return "(" + ", ".join(str(s) for s in shape) + ")"
