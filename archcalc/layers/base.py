"""What a layer family knows, and the one registry that holds every family.

A **family** is one module of :mod:`archcalc.layers` (``conv.py``,
``groupnorm.py``, ...). It holds everything archcalc knows about its layers:

* **rules** (:class:`Rule` subclasses, one per op): given the normalised
  hyper-parameters (``attrs``) and the per-sample input shapes,

  - ``normalize(args, in_shapes)``: check the arguments, fill defaults,
    resolve shorthands (``pad: same``, ``depthwise``);
  - ``output_shape(attrs, in_shapes)``: the output shape and notes such as a
    non-integer ``(W - F + 2P)/S + 1``;
  - ``derive(attrs, in_shapes, out_shape)``: every number of the layer as a
    :class:`~archcalc.layers.terms.Derived` step: the value, its formula and
    the formula with the numbers in. ``params`` and ``ops`` are read off these
    steps, so ``--explain`` shows the very arithmetic that made the numbers;
  - ``params(...)`` / ``ops(...)``: :class:`ParamCounts` and per-sample
    :class:`OpCounts` (from ``derive`` unless a rule computes them directly);
  - ``rf_step(...)``: how the layer moves the receptive field (:class:`RFStep`);
  - ``to_torch(node, factory)``: the ``torch.nn`` module the torch builder
    makes for a node (torch imported inside the method);
  - ``weight_shape(attrs, in_shapes)``: the weight tensor's shape in torch's
    and Keras' axis orders (:class:`~archcalc.layers.terms.WeightShape`), or
    None; ``derive`` writes it as a step from the same terms;
  - ``question_args(in_shape, per_position)``: the arguments a single-layer
    question implies (a dense layer on an image flattens it, as courses mean);
  - ``image_advice(attrs, in_shape)`` / ``reading(attrs, in_shapes)``: a warning
    when the layer is applied straight to an image, and how it reads its input
    (shown in a single-layer answer);
  - ``short``: the op's name in the narrow table (``convT``);
* **from torch** (:class:`Family`): the ``torch.nn`` module classes, torch
  functions and aten ops the family captures in a live module, each with a
  handler that maps its arguments (handlers see shapes and arguments only,
  through the capture's ``Call`` / ``LeafCall`` objects);
* **names** (:class:`SummaryName`): how the family is spelled in pasted
  Keras, torchsummary and torchinfo summaries;
* **examples**: small specs using the family, which the generic tests build
  in torch and compare with archcalc's numbers.

A facet a family does not have is declared absent with a reason
(``absent = {"rf": "attention has no spatial receptive field"}``); the
registry test checks that every rule and family provides or declares every
facet. The engines (``derivation``, ``torch_builder``,
``frontends.torch_ops``, ``grading.matching``) read the registry and name no
family: adding a layer type means adding one module here and listing it in
``archcalc/layers/__init__.py``.
"""

from __future__ import annotations

import math

import difflib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, fields
from fractions import Fraction
from typing import TYPE_CHECKING, Any, ClassVar

from archcalc.errors import InputError, LayerError, NeedsImageError, SpecError

if TYPE_CHECKING:
    from archcalc.layers.terms import Derived

Shape = tuple[int, ...]
REQUIRED = object()

#: the facets of a rule, and the methods that provide each (any one of them)
RULE_FACETS = {
    "shape": ("output_shape",),
    "counts": ("derive", "params", "ops"),
    "rf": ("rf_step",),
    "explain": ("derive",),
    "to_torch": ("to_torch",),
}
#: the facets of a family
FAMILY_FACETS = ("from_torch", "names")
#: Derived keys that are operation counts (per sample; the analysis multiplies by the batch)
OP_KEYS = ("macs", "dot_outputs", "bias_adds", "adds", "muls", "divs", "cmps", "exps", "fvcore", "torch")
#: Derived keys that are parameter counts
PARAM_KEYS = ("weights", "biases", "buffers")


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
        return OpCounts(*(getattr(self, name) * factor for name in _OP_FIELDS))

    def __add__(self, other: "OpCounts") -> "OpCounts":
        return OpCounts(*(getattr(self, name) + getattr(other, name) for name in _OP_FIELDS))

    @property
    def elementary(self) -> int:
        """Primitive operations of a non-dot-product layer: adds + muls + divs + cmps + exps."""
        return self.adds + self.muls + self.divs + self.cmps + self.exps


_OP_FIELDS = tuple(f.name for f in fields(OpCounts))

#: how one axis of an RFStep is written out: (formula piece, arithmetic piece, suffix)
RFText = tuple[str, str, str]


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

    ``grow_text`` and ``jump_text`` say how ``--explain`` writes ``grow`` and
    ``jump`` per axis (``("(F - 1)", "(3 - 1)", "")``: ``r_in + (F - 1)*j_in``);
    None writes the plain numbers.
    """

    grow: tuple[Fraction, Fraction]
    jump: tuple[Fraction, Fraction]
    shift: tuple[Fraction, Fraction]
    grow_text: tuple[RFText | None, RFText | None] = (None, None)
    jump_text: tuple[tuple[str, str] | None, tuple[str, str] | None] = (None, None)


def window_step(
    kernel: tuple[int, int],
    stride: tuple[int, int],
    pad_before: tuple[int, int],
    dilation: tuple[int, int] = (1, 1),
) -> RFStep:
    """Receptive-field step of a sliding window of ``kernel`` (before dilation ``dilation``)::

        grow = d(k - 1),   jump = S,   shift = (k' - 1)/2 - P_before
    """
    effective = [d * (k - 1) + 1 for k, d in zip(kernel, dilation)]
    grow_text = tuple(
        ("(F - 1)", f"({k} - 1)", "") if d == 1 else ("d(F - 1)", f"{d}*({k} - 1)", "")
        for k, d in zip(kernel, dilation)
    )
    return RFStep(
        grow=(Fraction(effective[0] - 1), Fraction(effective[1] - 1)),
        jump=(Fraction(stride[0]), Fraction(stride[1])),
        shift=(
            Fraction(effective[0] - 1, 2) - pad_before[0],
            Fraction(effective[1] - 1, 2) - pad_before[1],
        ),
        grow_text=grow_text,  # type: ignore[arg-type]
        jump_text=(("S", str(stride[0])), ("S", str(stride[1]))),
    )


def spatial_window_step(
    kernel: tuple[int, ...],
    stride: tuple[int, ...],
    pad_before: tuple[int, ...],
    dilation: tuple[int, ...],
) -> RFStep:
    """:func:`window_step` for 1, 2 or 3 spatial axes. The Report keeps two axes (height,
    width): a 1-D window moves the width axis only (height unchanged); a 3-D window its
    height and width (the depth axis is not tracked)."""
    if len(kernel) == 1:
        step = window_step((1, kernel[0]), (1, stride[0]), (0, pad_before[0]), (1, dilation[0]))
        return RFStep(step.grow, step.jump, step.shift, (None, step.grow_text[1]), (None, step.jump_text[1]))
    return window_step(
        (kernel[-2], kernel[-1]), (stride[-2], stride[-1]), (pad_before[-2], pad_before[-1]), (dilation[-2], dilation[-1])
    )


def whole_input_step(shape: Shape, explained: bool = True) -> RFStep:
    """Receptive-field step of an op that reads the whole spatial extent of ``shape``
    (``grow = H - 1``, ``shift = (H - 1)/2``): flatten, global pooling, a dense layer."""
    if len(shape) != 3:
        return IDENTITY_STEP
    _, h, w = shape
    texts = tuple(
        (f"({letter} - 1)", f"({size} - 1)", " (sees the whole input)") if explained and size > 1 else None
        for letter, size in (("H", h), ("W", w))
    )
    return RFStep(
        grow=(Fraction(h - 1), Fraction(w - 1)),
        jump=(Fraction(1), Fraction(1)),
        shift=(Fraction(h - 1, 2), Fraction(w - 1, 2)),
        grow_text=texts,  # type: ignore[arg-type]
    )


IDENTITY_STEP = RFStep((Fraction(0), Fraction(0)), (Fraction(1), Fraction(1)), (Fraction(0), Fraction(0)))


def keeps_field(attrs: Mapping[str, Any], in_shapes: tuple[Shape, ...]) -> RFStep:
    """The receptive field passes through unchanged (point-wise layers)."""
    return IDENTITY_STEP


def same_shape(attrs: Mapping[str, Any], in_shapes: tuple[Shape, ...]) -> ShapeResult:
    """The output has the input's shape (point-wise layers)."""
    return ShapeResult(in_shapes[0])


class Absent:
    """A facet a family does not have, and why (``Absent("built from live modules only")``)."""

    __slots__ = ("reason",)

    def __init__(self, reason: str) -> None:
        self.reason = reason

    def __repr__(self) -> str:
        return f"Absent({self.reason!r})"


class Rule:
    """Base class of layer rules. Subclasses set ``op``, ``category`` and ``keys``, and provide
    or declare absent (:attr:`absent`) every facet of :data:`RULE_FACETS`."""

    op: ClassVar[str]
    aliases: ClassVar[tuple[str, ...]] = ()
    #: dot | pool | activation | norm | elementwise | reshape | other
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
    #: the op mixes positions in ways no rectangle of the input describes (attention, a product of
    #: two activations): a live module's receptive field ends there (analysis.receptive_fields)
    mixes_positions: ClassVar[bool] = False
    #: the op is recorded as torch computed it (views, copies, point-wise ops of a live module):
    #: whether data movement keeps an image's spatial axes is read from its shapes
    observed: ClassVar[bool] = False
    #: an n-ary merge whose chains ``(a + b) + c`` may be joined into one node of three inputs
    associative: ClassVar[bool] = False
    #: a spec may use the op as a key that joins branches (``add: [[...], [...]]``)
    joins_branches: ClassVar[bool] = False
    #: one line for `archcalc layer --help` and the docs
    summary: ClassVar[str] = ""
    #: the op's name in the narrow table (defaults to ``op``)
    short: ClassVar[str | None] = None
    #: torch.profiler reports FLOPs for this op's kernels (False: verify leaves it out)
    profiled: ClassVar[bool] = True
    #: which GPU library runs it: "cudnn" (convolutions) or "blas" (matrix products); for TF32 peaks
    gpu_library: ClassVar[str] = "blas"
    #: facets this rule does not have: facet -> reason (see RULE_FACETS)
    absent: ClassVar[Mapping[str, str]] = {}
    #: the family module that registered the rule (set by :func:`register_family`)
    family: ClassVar["Family"]

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
            if key in WRITTEN:  # as the user wrote it in torch: shown, never computed with
                out[key] = value
                continue
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

    def derive(self, attrs: Mapping[str, Any], in_shapes: tuple[Shape, ...], out_shape: Shape) -> list[Derived]:
        """Every number of the layer with its formula (per sample). The default derives nothing:
        rules that compute ``params`` / ``ops`` directly are explained from their counts."""
        return []

    def params(self, attrs: Mapping[str, Any], in_shapes: tuple[Shape, ...], out_shape: Shape) -> ParamCounts:
        """Weights, biases and buffers, read off :meth:`derive`."""
        return _params_of(self.derive(attrs, in_shapes, out_shape))

    def ops(self, attrs: Mapping[str, Any], in_shapes: tuple[Shape, ...], out_shape: Shape) -> OpCounts:
        """Operation counts per sample, read off :meth:`derive`."""
        return _ops_of(self.derive(attrs, in_shapes, out_shape))

    def counts(self, attrs: Mapping[str, Any], in_shapes: tuple[Shape, ...], out_shape: Shape) -> tuple[ParamCounts, OpCounts]:
        """Parameters and per-sample operation counts together (one :meth:`derive`)."""
        if type(self).params is Rule.params and type(self).ops is Rule.ops:
            derived = self.derive(attrs, in_shapes, out_shape)
            return _params_of(derived), _ops_of(derived)
        return self.params(attrs, in_shapes, out_shape), self.ops(attrs, in_shapes, out_shape)

    def rf_step(self, attrs: Mapping[str, Any], in_shapes: tuple[Shape, ...]) -> RFStep:
        return IDENTITY_STEP

    def short_text(self, attrs: Mapping[str, Any]) -> str:
        """The op's name in the narrow table for these attrs (``attn causal``); ``short`` or ``op`` by default."""
        return self.short or self.op

    def to_torch(self, node: Any, factory: Mapping[str, Any]) -> Any:
        """The ``torch.nn`` module of a node of this op (``factory``: device and dtype)."""
        raise LayerError(
            f"the torch builder has no module for '{self.op}': {self.absent.get('to_torch', 'not provided')}",
            layer=getattr(node, "name", None),
            op=self.op,
        )

    def weight_shape(self, attrs: Mapping[str, Any], in_shapes: tuple[Shape, ...]) -> Any:
        """The weight tensor's shape in torch's and Keras' orders (a ``WeightShape``), or None:
        no weight tensor, or none archcalc writes out."""
        return None

    def question_args(self, in_shape: Shape, per_position: bool = False) -> dict[str, Any]:
        """Arguments a single-layer question implies on ``in_shape`` (none by default).
        ``per_position`` asks for a dense layer's torch semantics; other layers refuse it."""
        if per_position:
            raise InputError(f"--per-position is about dense layers (on the last axis), not {self.op}")
        return {}

    def image_advice(self, attrs: Mapping[str, Any], in_shape: Shape) -> str | None:
        """A warning for a layer applied straight to an image tensor ``C x H x W`` (the graph
        builder shows the first one), or None."""
        return None

    def reading(self, attrs: Mapping[str, Any], in_shapes: tuple[Shape, ...]) -> str:
        """How the layer reads its input, where a course would want it said ("" by default)."""
        return ""

    def moving_statistics(self, attrs: Mapping[str, Any]) -> int:
        """Buffers that Keras lists among the non-trainable parameters (a batch norm's moving
        mean and variance); 0 for other layers."""
        return 0

    def provides(self, facet: str) -> bool:
        """Whether this rule implements ``facet`` itself (not the base class default)."""
        for klass in type(self).__mro__:
            if klass is Rule:
                return False
            if any(attribute in vars(klass) for attribute in RULE_FACETS[facet]):
                return True
        return False


def _params_of(derived: list[Derived]) -> ParamCounts:
    return ParamCounts(**{d.key: d.value for d in derived if d.key in PARAM_KEYS})


def _ops_of(derived: list[Derived]) -> OpCounts:
    counts: dict[str, int] = {}
    for d in derived:
        if d.key in OP_KEYS:
            counts[d.key] = counts.get(d.key, 0) + d.value
    return OpCounts(**counts)


class SummaryName:
    """A pattern (regular expression, searched in the lower-cased kind or name of a pasted
    row) and the op it names. Patterns are tried in ascending ``precedence`` (specific
    words such as ``transpose`` before ``conv``), then in registry order."""

    __slots__ = ("pattern", "op", "precedence")

    def __init__(self, pattern: str, op: str, precedence: int = 50) -> None:
        self.pattern, self.op, self.precedence = pattern, op, precedence


Handler = Callable[[Any], Any]


class Family:
    """One layer family: its rules and what torch and pasted summaries call them.

    ``torch_modules``: ``torch.nn`` class name -> ``mapper(module, leaf)`` returning
    ``(op, args)`` or None (exact classes, not subclasses, which may override
    ``forward``); ``torch_functions``: torch function or tensor method name ->
    ``handler(call)`` returning capture specs or None; ``aten_ops``: aten op name ->
    handler; ``spellings``: other names of those functions (``relu_`` -> ``relu``,
    ``__add__`` -> ``add``). An empty table is declared with :class:`Absent`.

    Further fields: ``aten_fallback`` handles every aten op no family claims (one
    family, the observed tensor ops); ``generic``: its torch handlers are tried
    after every other family's; ``roles``: role -> op for the engines
    (``{"unpriced": "uncounted"}``); ``shorthands``: single-layer question
    words, name -> (op, default arguments, summary) (``depthwise``);
    ``composites``: single-layer questions about several layers, name ->
    (build(builder, args, source), aliases, summary); ``examples``: small specs
    using the family, name -> (input as a user types it, the YAML ``layers:``
    list), which the generic tests build in torch and compare (shapes,
    parameters, buffers, fvcore's and torch's flop counts, every ``--explain``
    step); ``meta_shortcuts``: torch functions whose output has their first
    input's shape, run on meta tensors as ``torch.empty_like`` (their meta kernels
    are Python decompositions: slow, and their first call imports ``torch._dynamo``);
    ``patterns``: op -> signatures (function name -> number of calls): a module without
    submodules whose ``forward`` makes exactly those point-wise calls, from one input to
    one output, is captured as one row of that op (a tanh GELU written out in Python).
    (A plain class, not a dataclass: imported on every run.)
    """

    def __init__(
        self,
        name: str,
        rules: tuple[type[Rule], ...],
        torch_modules: Mapping[str, Handler] | Absent,
        torch_functions: Mapping[str, Handler] | Absent,
        aten_ops: Mapping[str, Handler] | Absent | None = None,
        spellings: Mapping[str, str] | None = None,
        names: tuple[SummaryName, ...] | Absent = (),
        aten_fallback: Handler | None = None,
        generic: bool = False,
        roles: Mapping[str, str] | None = None,
        shorthands: Mapping[str, tuple[str, dict[str, Any], str]] | None = None,
        composites: Mapping[str, tuple[Callable[..., None], tuple[str, ...], str]] | None = None,
        examples: Mapping[str, tuple[str, str]] | None = None,
        meta_shortcuts: tuple[str, ...] = (),
        patterns: Mapping[str, tuple[Mapping[str, int], ...]] | None = None,
    ) -> None:
        self.name = name
        self.rules = rules
        self.torch_modules = torch_modules
        self.torch_functions = torch_functions
        self.aten_ops = {} if aten_ops is None else aten_ops
        self.spellings = spellings or {}
        self.names = names
        self.aten_fallback = aten_fallback
        self.generic = generic
        self.roles = roles or {}
        self.shorthands = shorthands or {}
        self.composites = composites or {}
        self.examples = examples or {}
        self.meta_shortcuts = meta_shortcuts
        self.patterns = patterns or {}

    def __repr__(self) -> str:
        return f"Family({self.name!r})"

    def table(self, facet: str) -> Mapping[str, Handler]:
        value = getattr(self, facet)
        return {} if isinstance(value, Absent) else value


# -- the registry ------------------------------------------------------------------

_RULES: dict[str, Rule] = {}
_CANONICAL: dict[str, Rule] = {}
_FAMILIES: dict[str, Family] = {}
_ROLES: dict[str, str] = {}


def register_family(family: Family) -> Family:
    """Register a family and its rules under their op names and aliases (duplicates raise)."""
    if family.name in _FAMILIES:
        raise RuntimeError(f"family '{family.name}' registered twice")
    for cls in family.rules:
        rule = cls()
        for name in (cls.op, *cls.aliases):
            if name in _RULES:
                raise RuntimeError(f"op name '{name}' registered twice")
            _RULES[name] = rule
        _CANONICAL[cls.op] = rule
        cls.family = family
    for role, op in family.roles.items():
        if role in _ROLES:
            raise RuntimeError(f"role '{role}' claimed twice")
        _ROLES[role] = op
    _FAMILIES[family.name] = family
    return family


def lookup(op: str) -> Rule | None:
    return _RULES.get(op.lower())


def all_ops() -> dict[str, Rule]:
    """Canonical op name -> rule."""
    return dict(_CANONICAL)


def all_names() -> list[str]:
    return sorted(_RULES)


def all_families() -> dict[str, Family]:
    """Family name -> family, in registration order."""
    return dict(_FAMILIES)


def role(name: str) -> str:
    """The op that plays a role the engines need (``unpriced``: an op archcalc cannot count;
    ``alias``: a pass-through; ``residual``: the merge of a residual block...)."""
    return _ROLES[name]


# -- small shared helpers for rules ------------------------------------------


def pair(value: Any, what: str, minimum: int | None = None) -> tuple[int, int]:
    """``3`` -> ``(3, 3)``; ``[3, 5]`` -> ``(3, 5)``; anything else, or a number below
    ``minimum``, is a SpecError."""
    result: tuple[int, int] | None = None
    if isinstance(value, bool):
        raise SpecError(f"{what} must be a whole number or a pair, got {value!r}")
    if isinstance(value, int):
        result = (value, value)
    elif isinstance(value, float) and value.is_integer():
        result = (int(value), int(value))
    elif isinstance(value, (list, tuple)) and len(value) == 2 and all(
        isinstance(v, int) and not isinstance(v, bool) for v in value
    ):
        result = (int(value[0]), int(value[1]))
    if result is None:
        raise SpecError(f"{what} must be a whole number or a pair [h, w], got {value!r}")
    if minimum is not None and min(result) < minimum:
        raise SpecError(f"{what} must be >= {minimum}, got {value!r}")
    return result


def ntuple(value: Any, n: int, what: str, minimum: int | None = None) -> tuple[int, ...]:
    """A size argument for ``n`` spatial axes: ``3`` -> ``(3,) * n``; a list of ``n`` whole
    numbers as it is; anything else, or a number below ``minimum``, is a SpecError.
    ``n = 2`` is :func:`pair`."""
    if n == 2:
        return pair(value, what, minimum=minimum)
    result: tuple[int, ...] | None = None
    if isinstance(value, bool):
        raise SpecError(f"{what} must be a whole number or a list of {n}, got {value!r}")
    if isinstance(value, int):
        result = (value,) * n
    elif isinstance(value, float) and value.is_integer():
        result = (int(value),) * n
    elif isinstance(value, (list, tuple)) and len(value) == n and all(
        isinstance(v, int) and not isinstance(v, bool) for v in value
    ):
        result = tuple(int(v) for v in value)
    if result is None:
        axes = {1: "[l]", 3: "[d, h, w]"}.get(n, f"of {n} numbers")
        raise SpecError(f"{what} must be a whole number or a list {axes}, got {value!r}")
    if minimum is not None and min(result) < minimum:
        raise SpecError(f"{what} must be >= {minimum}, got {value!r}")
    return result


#: the spatial axes of an input of 1, 2 or 3 spatial dimensions, as courses letter them
AXIS_LETTERS = {1: ("L",), 2: ("H", "W"), 3: ("D", "H", "W")}
#: ... and name them
AXIS_NAMES = {1: ("length",), 2: ("height", "width"), 3: ("depth", "height", "width")}


def spatial_axes(shape: Shape, op: str) -> tuple[int, tuple[int, ...]]:
    """``(C, sizes)`` of an input with a channel axis and 1 to 3 spatial axes (``(C, L)``,
    ``(C, H, W)``, ``(C, D, H, W)``), or a LayerError naming the shape."""
    if not 2 <= len(shape) <= 4:
        raise NeedsImageError(
            f"{op} needs an image input C x H x W (or C x L, C x D x H x W), got shape {format_shape(shape)}",
            hint="check the layer order: a flatten or a dense layer before it leaves no H x W",
        )
    return shape[0], tuple(shape[1:])


def positive_int(value: Any, what: str, minimum: int = 1) -> int:
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if not isinstance(value, int) or isinstance(value, bool) or value < minimum:
        raise SpecError(f"{what} must be a whole number >= {minimum}, got {value!r}")
    return value


#: arguments a live capture records as the user wrote them, for display only: ``torch_dim``,
#: the ``dim`` of ``torch.cat`` or ``softmax`` (batch axis included, negative if written so),
#: beside the per-sample ``axis`` the rule computes with
WRITTEN = ("torch_dim",)


def prod(values: tuple[int, ...] | list[int]) -> int:
    return math.prod(values)


def spatial(shape: Shape, op: str) -> tuple[int, int, int]:
    """``(C, H, W)`` of an image shape, or a LayerError naming the shape."""
    if len(shape) != 3:
        raise NeedsImageError(
            f"{op} needs an image input C x H x W, got shape {format_shape(shape)}",
            hint="check the layer order: a flatten or a dense layer before it leaves no H x W",
        )
    return shape[0], shape[1], shape[2]


def torch_pair(value: Any) -> Any:
    """A torch size argument as archcalc writes it: ``[3]`` -> 3, ``[3, 5]`` -> (3, 5), ``2.0`` -> 2."""
    if isinstance(value, (list, tuple)):
        values = [int(v) for v in value]
        return values[0] if len(values) == 1 else tuple(values)
    return int(value) if isinstance(value, float) and value.is_integer() else value


def format_shape(shape: Shape) -> str:
    return "(" + ", ".join(str(s) for s in shape) + ")"
