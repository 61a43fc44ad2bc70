"""The network of a variant: drawn from a template, or a zoo model or spec, analysed by archcalc.

A drawn network is written as a whole spec on one line in YAML flow style
(``{name: conv-3, input: 32x32x3, layers: [{conv: {name: conv, filters: 10, ...}}]}``):
the sheet's ``Model:`` line carries it, so ``archcalc check`` rebuilds the very same
network from a returned sheet. Draws are analysed with ``strict`` (a kernel that does not
fit, ``(W - F + 2P)/S + 1`` not a whole number, is an error), so every answer is an
integer, unless the teacher allows the floor (``--allow-floor``); a draw that does not fit
is drawn again.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

from archcalc.api import analyze
from archcalc.errors import ArchcalcError, InputError, LayerError
from archcalc.quiz.draws import draw_value, draw_values, requirements_hold, substitute
from archcalc.report import Report

#: how many draws to try before giving up on a template that rarely fits
ATTEMPTS = 500


@dataclass(frozen=True)
class Network:
    """A variant's network: the ``Model:`` text, the input as H x W x C, the drawn values, the Report."""

    model: str
    input: str
    values: Mapping[str, Any]
    report: Report


@lru_cache(maxsize=1024)
def _analysed(model: str, input: str | None, batch: int, dtype: str, convention: str,
              strict: bool) -> Report | ArchcalcError:
    """The Report of ``model`` at ``input``, or the error it raises, kept for the quiz's next
    variant: a zoo model's variants draw from a few hundred input sizes (most of which do not fit
    VGG-16's pools), so 1,000 students cost a few hundred analyses, not 30,000. Reports are
    frozen; a spec file's text is part of ``model`` (:func:`inline_spec_file`), so an edited file
    is a new key."""
    try:
        return analyze(model, input, batch=batch, dtype=dtype, convention=convention, strict=strict)
    except ArchcalcError as error:
        return error


@dataclass(frozen=True)
class Analysis:
    """How every network of a quiz is analysed."""

    convention: str = "flops"
    dtype: str = "float32"
    batch: int = 1
    allow_floor: bool = False

    def run(self, model: str, input: str | None = None) -> Report:
        result = _analysed(model, input, self.batch, self.dtype, self.convention, not self.allow_floor)
        if isinstance(result, ArchcalcError):
            raise result.with_traceback(None)
        return result

    def run_given(self, model: str, input: str | None = None) -> Report:
        """:meth:`run` for a network the teacher chose: a layer that does not fit says how to allow it."""
        try:
            return self.run(model, input)
        except LayerError as error:
            if self.allow_floor or "not an integer" not in error.message:
                raise
            message = error.message.replace(" (--strict makes this an error)", "")
            hint = "a quiz wants whole answers; --allow-floor keeps this layer as PyTorch floors it"
            raise LayerError(message, location=error.location, layer=error.layer, op=error.op, hint=hint) from None


class _OneLineDumper(yaml.SafeDumper):
    """YAML flow style that stays on one line: a string with a newline or another control
    character (a hostile layer name or description) is written double-quoted, its newline as
    ``\\n``, never folded onto a second line that would end the sheet's ``Model:`` line."""


def _represent_str(dumper: yaml.SafeDumper, text: str):
    if any(ord(c) < 0x20 or 0x7F <= ord(c) <= 0x9F or c in "\u2028\u2029\ufeff" for c in text):
        return dumper.represent_scalar("tag:yaml.org,2002:str", text, style='"')
    return dumper.represent_str(text)


_OneLineDumper.add_representer(str, _represent_str)


def one_line_yaml(document: Any) -> str:
    """``document`` as YAML flow style on one line."""
    return yaml.dump(document, Dumper=_OneLineDumper, default_flow_style=True, width=10**9,
                     sort_keys=False).strip()


def flow_spec(name: str, input_hwc: str, layers: list[Any]) -> str:
    """A spec on one line, YAML flow style."""
    return one_line_yaml({"name": name, "input": input_hwc, "layers": layers})


def inline_spec_file(path: str) -> str:
    """A spec file written on one line (comments dropped), so a sheet needs no file beside it.
    Read as specs are: a size cap, and aliases counted before they are expanded."""
    from archcalc.spec.loader import expanded_size, read_text_file

    text = read_text_file(Path(path), "spec")
    try:
        loader = yaml.SafeLoader(text)
        try:
            node = loader.get_single_node()
            if node is not None:
                expanded_size(node)
            document = loader.construct_document(node) if node is not None else None
        finally:
            loader.dispose()
    except (yaml.YAMLError, RecursionError) as error:
        raise InputError(f"cannot read the spec {path}: {str(error).splitlines()[0]}") from None
    return one_line_yaml(document)


def hwc_text(values: Mapping[str, Any], shape: Any, where: str) -> str:
    """The template's ``input: [H, W, C]`` with the drawn values, as ``HxWxC``."""
    numbers = substitute(shape, values, where)
    if not isinstance(numbers, list) or not all(isinstance(v, int) for v in numbers):
        raise InputError(f"{where}: input must be [H, W, C] of whole numbers, got {numbers!r}")
    return "x".join(str(v) for v in numbers)


def _fixed_values(draw: Mapping[str, Any], fixed: Mapping[str, Any]) -> bool:
    """Whether the teacher fixed every drawn value (then there is nothing to draw again)."""
    return all(name in fixed for name in draw)


def draw_network(
    name: str,
    template: Mapping[str, Any],
    rng: random.Random,
    analysis: Analysis,
    fixed: Mapping[str, Any],
    layers_of: Callable[[dict[str, Any], random.Random], list[Any]],
) -> Network:
    """Draw values until the network fits (see the module docstring).

    ``layers_of(values, rng)`` gives the spec layers for the drawn values."""
    draw = template.get("draw", {}) or {}
    require = list(template.get("require", []) or [])
    where = f"quiz template '{name}'"
    unknown = [k for k in fixed if k not in draw and k != "depth"]
    if unknown:
        raise InputError(f"--set {unknown[0]}: the '{name}' exercise draws no value of that name "
                         f"(it draws {', '.join(draw) or 'nothing'})")
    last_error: ArchcalcError | None = None
    once = _fixed_values(draw, fixed) and "choices" not in template
    for _ in range(1 if once else ATTEMPTS):
        values = draw_values(draw, rng, fixed, where)
        if not requirements_hold(require, values, where):
            if once:
                raise InputError(f"{where}: the values given break a condition of the exercise "
                                 f"({'; '.join(require)})")
            continue
        input_hwc = hwc_text(values, template["input"], where) if "input" in template else ""
        layers = layers_of(values, rng)
        model = flow_spec(name, input_hwc, layers)
        try:
            report = analysis.run(model)
        except ArchcalcError as error:
            last_error = error
            continue
        return Network(model, input_hwc, values, report)
    hint = "" if analysis.allow_floor else " (--allow-floor accepts sizes that PyTorch floors)"
    reason = f": {str(last_error.message).splitlines()[0]}" if last_error is not None else ""
    raise InputError(f"{where}: no draw fits{reason}{hint}")


def stack_layers(template: Mapping[str, Any], where: str) -> Callable[[dict[str, Any], random.Random], list[Any]]:
    """The layers of a stack template: ``depth`` layers drawn from ``choices``, then ``tail``."""

    def layers_of(values: dict[str, Any], rng: random.Random) -> list[Any]:
        depth = values.get("depth")
        if depth is None:
            depth = draw_value(template.get("depth", 3), values, rng, f"{where}: depth")
            values["depth"] = depth
        layers = []
        for index in range(int(depth)):
            choice = rng.choice(template["choices"])
            own = draw_values(choice.get("draw", {}) or {}, rng, None, f"{where}: layer {index + 1}")
            layers.append(substitute(choice["layer"], {**values, **own}, where))
        return layers + substitute(list(template.get("tail", []) or []), values, where)

    return layers_of


def template_layers(template: Mapping[str, Any], where: str) -> Callable[[dict[str, Any], random.Random], list[Any]]:
    """The layers of a fixed template with the drawn values plugged in."""

    def layers_of(values: dict[str, Any], rng: random.Random) -> list[Any]:
        return substitute(list(template["layers"]), values, where)

    return layers_of


def model_network(model: str, input: str | None, analysis: Analysis, rng: random.Random | None) -> Network:
    """A zoo model or a spec file; the input is ``input``, else drawn near the model's own size
    when ``rng`` is given (every size from half to 1.5 times the side that fits), else the model's."""
    from archcalc.api import is_inline_spec
    from archcalc.inputs import format_hwc

    shown = model
    if Path(model).suffix.lower() in (".yaml", ".yml"):
        shown = inline_spec_file(model)
    if input is not None or rng is None:
        report = analysis.run_given(shown, input)
        return Network(shown if not is_inline_spec(model) else model, format_hwc(report.input_shape), {}, report)
    shape = tuple(replace(analysis, allow_floor=True).run(shown).input_shape)
    if len(shape) != 3 or shape[1] != shape[2]:
        return Network(shown, format_hwc(shape), {}, analysis.run_given(shown))
    side = shape[1]
    sizes = list(range(max(1, side // 2), side * 3 // 2 + 1))
    rng.shuffle(sizes)
    for size in sizes[:ATTEMPTS]:
        text = f"{size}x{size}x{shape[0]}"
        try:
            return Network(shown, text, {"size": size}, analysis.run(shown, text))
        except ArchcalcError:
            continue
    raise InputError(f"no input size from {sizes and min(sizes)} to {sizes and max(sizes)} fits every layer of "
                     f"{model} exactly; give --input, or --allow-floor")


__all__ = ["ATTEMPTS", "Analysis", "Network", "draw_network", "flow_spec", "hwc_text", "inline_spec_file",
           "model_network", "stack_layers", "template_layers"]
