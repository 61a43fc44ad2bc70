"""The true value of every gradable quantity, and the other ways people count it.

Each quantity has one expected :class:`Reading` (or two, for memory: elements
and bytes) and a list of alternatives. An alternative that matches a wrong
answer explains it ("matches weights only: biases not counted"); one marked
``right`` makes the answer right (Keras counting BatchNormalization's moving
statistics as parameters, in a pasted Keras summary).

FLOP counts: the expected convention's count of a row is
``Convention.counts(row.category, row.ops)``; the alternatives are every other
preset and the variants of ``macs``, ``flops``, ``textbook`` and ``exact``
with bias adds and the non-dot layers switched on or off
(:func:`convention_variants`), so ``macs+bias`` (torchinfo's mult-adds) and
``exact-pool-activation-norm-elementwise`` (n mul + (n-1) add of conv and
linear only) are recognised too.

Totals that pasted summaries print (torchsummary, torchinfo), in bytes::

    input_memory  = input elements x batch x bytes per element
    pass_memory   = 2 x sum of the listed layers' outputs (bytes)  torchsummary: every listed layer;
                                                                    torchinfo: layers with parameters
    param_memory  = parameters x bytes per element
    total_memory  = input_memory + pass_memory + param_memory
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from fractions import Fraction

from archcalc.conventions import CATEGORIES, PRESETS, Convention, get_convention
from archcalc.errors import InputError
from archcalc.report import LayerRow, Report

_DTYPE_BY_BYTES = {1: "int8", 2: "float16", 4: "float32", 8: "float64"}
#: a few words on who counts that way, added to the label of a convention
_WHO = {
    "macs+bias": "torchinfo's mult-adds",
}


@dataclass(frozen=True)
class Reading:
    """One way of counting a quantity: the value and a phrase saying what it is.

    ``kind``: ``count``, ``elements`` or ``bytes``. ``right``: an answer matching
    this reading is right (an accepted convention), not just explained.
    """

    value: int | Fraction
    label: str
    kind: str = "count"
    right: bool = False


def parse_convention(text: str | Convention) -> Convention:
    """``macs``, ``textbook``, ``macs+bias``, ``exact-pool`` -> the Convention (InputError otherwise)."""
    if isinstance(text, Convention):
        return text
    cleaned = text.strip().lower()
    base, *rest = _split_switches(cleaned)
    include = tuple(word[1:] for word in rest if word.startswith("+"))
    exclude = tuple(word[1:] for word in rest if word.startswith("-"))
    if base not in PRESETS:
        raise InputError(f"unknown convention '{text}' (choose from {', '.join(PRESETS)}; switches as in macs+bias)")
    return get_convention(base, include, exclude)


def _split_switches(text: str) -> list[str]:
    parts: list[str] = []
    current = ""
    for char in text:
        if char in "+-" and current:
            parts.append(current)
            current = char
        else:
            current += char
    parts.append(current)
    return parts


def counting_words(convention: Convention) -> str:
    """What a convention counts, in a few words: ``2 x MACs + bias adds``, ``MACs``."""
    if convention.peer == "torch":
        return "2 x MACs, no bias adds (PyTorch's counter)"
    if convention.peer == "fvcore":
        return "fvcore's count (MACs + its norm/upsample handles)"
    if convention.exact_adds:
        words = "n mul + (n-1) add"
    elif convention.flops_per_mac == 1:
        words = "MACs"
    else:
        words = f"{convention.flops_per_mac} x MACs"
    if convention.bias:
        words += " + bias adds"
    others = [c for c in CATEGORIES if getattr(convention, c)]
    if len(others) == len(CATEGORIES):
        words += " + other layers' ops"
    elif others:
        words += " + " + "/".join(others) + " ops"
    who = _WHO.get(convention.name)
    return f"{words} ({who})" if who and convention.name not in ("torch", "fvcore") else words


def describe_convention(convention: Convention) -> str:
    """``2 x MACs + bias adds (textbook)``: what it counts and its name."""
    return f"{counting_words(convention)} [{convention.name}]"


def _signature(convention: Convention) -> tuple:
    return (
        convention.peer,
        convention.flops_per_mac,
        convention.exact_adds,
        convention.bias,
        *(getattr(convention, c) for c in CATEGORIES),
    )


def convention_variants() -> list[Convention]:
    """Every preset, then macs/flops/textbook/exact with bias and the non-dot layers on or off."""
    variants: list[Convention] = []
    seen: set[tuple] = set()

    def add(convention: Convention) -> None:
        if _signature(convention) not in seen:
            seen.add(_signature(convention))
            variants.append(convention)

    for preset in PRESETS.values():
        add(preset)
    for base in ("macs", "flops", "textbook", "exact"):
        preset = PRESETS[base]
        for bias in (False, True):
            for layers in (False, True):
                include = tuple(s for s, on in [("bias", bias)] + [(c, layers) for c in CATEGORIES]
                                if on and not getattr(preset, s))
                exclude = tuple(s for s, on in [("bias", bias)] + [(c, layers) for c in CATEGORIES]
                                if not on and getattr(preset, s))
                add(preset.with_switches(include, exclude))
    return variants


class Truths:
    """What a Report says, precomputed for grading: per-row counts under every convention."""

    def __init__(
        self, report: Report, convention: Convention, tool: str | None = None, declared: str | None = None
    ) -> None:
        self.report = report
        self.convention = convention
        self.tool = tool
        variants = [c for c in convention_variants() if _signature(c) != _signature(convention)]
        # the convention the answers declare (overridden by --convention) is named first
        self.variants = sorted(variants, key=lambda c: c.name != declared)
        self.bytes_per_element = report.bytes_per_element
        self.batch = report.batch

    # -- FLOPs -------------------------------------------------------------------------
    def flops(self, rows: Iterable[LayerRow]) -> tuple[Reading, list[Reading]]:
        """The expected convention's count over ``rows`` and the other conventions' counts."""
        rows = list(rows)
        expected = sum(self.convention.counts(r.category, r.ops) for r in rows)
        reading = Reading(expected, describe_convention(self.convention))
        macs = sum(r.macs for r in rows)
        others = self._other_conventions(rows, expected)
        if macs and expected != macs:  # a FLOPs column holding the MACs: the commonest slip, said plainly
            half = " (half)" if expected == 2 * macs else ""
            same = next((r for r in others if r.value == macs), None)
            names = same.label[same.label.rfind(" ["):] if same is not None and same.label.endswith("]") else ""
            others = [Reading(macs, f"MACs, not FLOPs{half}{names}")] + [r for r in others if r.value != macs]
        return reading, others

    def macs(self, rows: Iterable[LayerRow]) -> tuple[Reading, list[Reading]]:
        """Multiply-accumulates (``macs`` whatever the convention) and the conventions' counts."""
        rows = list(rows)
        expected = sum(r.macs for r in rows)
        others = self._other_conventions(rows, expected)
        if expected:  # a MACs column holding 2 x MACs
            others = [Reading(2 * expected, "FLOPs (2 x MACs), not MACs (double)")] + [
                r for r in others if r.value != 2 * expected]
        return Reading(expected, "MACs (multiply-accumulates)"), others

    def _other_conventions(self, rows: list[LayerRow], expected: int) -> list[Reading]:
        groups: dict[int, list[Convention]] = {}
        for convention in self.variants:
            value = sum(convention.counts(r.category, r.ops) for r in rows)
            if value != expected:
                groups.setdefault(value, []).append(convention)
        readings = []
        for value, conventions in groups.items():
            names = ", ".join(c.name for c in conventions[:2]) + (", ..." if len(conventions) > 2 else "")
            readings.append(Reading(value, f"{counting_words(conventions[0])} [{names}]"))
        return readings

    # -- parameters --------------------------------------------------------------------
    @staticmethod
    def moving_statistics(row: LayerRow) -> int:
        """Buffers Keras lists as non-trainable parameters (a batch norm's moving mean and variance)."""
        from archcalc.layers import lookup

        rule = lookup(row.op)
        return rule.moving_statistics(row.attrs) if rule is not None else 0

    def params(self, rows: Iterable[LayerRow], total: int | None = None) -> tuple[Reading, list[Reading]]:
        rows = list(rows)
        owned = [r for r in rows if r.shares_params_with is None]
        params = total if total is not None else sum(r.params for r in owned)
        weights = sum(r.weights for r in owned)
        stats = sum(self.moving_statistics(r) for r in owned)
        alternatives = []
        if weights != params:
            alternatives.append(Reading(weights, "weights only (biases not counted)"))
        if stats:
            alternatives.append(
                Reading(params + stats, "weights + biases + moving mean and variance (as Keras counts them)",
                        right=self.tool == "keras")
            )
        shared = sum(r.params for r in rows) - sum(r.params for r in owned)
        if shared:
            alternatives.append(Reading(params + shared, "shared parameters counted twice"))
        return Reading(params, "weights + biases"), alternatives

    # -- memory ------------------------------------------------------------------------
    def memory(self, elements: int, label: str, extra: Iterable[tuple[int, str]] = ()) -> tuple[list[Reading], list[Reading]]:
        """Expected readings (elements and bytes) of an activation total, and the alternatives:
        other dtypes, batch 1, and ``extra`` element counts (with the input, without views...)."""
        bpe = self.bytes_per_element
        expected = [
            Reading(elements, f"{label} in elements", "elements"),
            Reading(elements * bpe, f"{label} in bytes ({self.report.dtype}, {bpe} B each)", "bytes"),
        ]
        alternatives: list[Reading] = []
        for count, words in extra:
            if count != elements:
                alternatives.append(Reading(count, f"{words} in elements", "elements"))
                alternatives.append(Reading(count * bpe, f"{words} in bytes", "bytes"))
        for other, dtype in _DTYPE_BY_BYTES.items():
            if other != bpe:
                alternatives.append(Reading(elements * other, f"{label} in {dtype} ({other} B each, not {bpe})", "bytes"))
        if self.batch > 1 and elements % self.batch == 0:
            per_sample = elements // self.batch
            alternatives.append(Reading(per_sample, f"{label} of one sample (batch 1, not {self.batch})", "elements"))
            alternatives.append(Reading(per_sample * bpe, f"{label} of one sample in bytes (batch 1, not {self.batch})", "bytes"))
        return expected, alternatives

    def bytes_only(self, nbytes: int, label: str, keras_params: int | None = None) -> tuple[list[Reading], list[Reading]]:
        """A byte total (parameter memory, input size, pass size) and other-dtype alternatives."""
        bpe = self.bytes_per_element
        expected = [Reading(nbytes, label, "bytes")]
        alternatives = []
        if keras_params is not None:
            alternatives.append(
                Reading(keras_params * bpe, f"{label} with the moving statistics (as Keras counts them)", "bytes",
                        right=self.tool == "keras")
            )
        if nbytes % bpe == 0:
            for other, dtype in _DTYPE_BY_BYTES.items():
                if other != bpe:
                    alternatives.append(Reading(nbytes // bpe * other, f"{label} in {dtype} ({other} B each)", "bytes"))
        return expected, alternatives

    def pass_bytes(self, listed: list[LayerRow]) -> tuple[int, str]:
        """Forward/backward pass size as the tool that printed it defines it."""
        if self.tool == "torchinfo":
            rows = [r for r in listed if r.params > 0]
            return 2 * sum(r.activation_bytes for r in rows), "2 x outputs of the listed layers that have parameters"
        if self.tool == "torchsummary":
            return 2 * sum(r.activation_bytes for r in listed), "2 x outputs of the listed layers"
        return 2 * self.report.totals.activation_bytes, "2 x outputs of every layer"
