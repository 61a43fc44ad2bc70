"""How cost grows: one network's totals at several batch sizes, input sizes or dtypes.

``--sweep batch=1,8,64``, ``--sweep tokens=512,2048,8192`` (a token model's sequence
length) or ``--sweep input=112,224,448`` (a bare number is a
square H x W with the network's channels; ``160x320`` and ``160x320x3`` work
too). Each point is a full analysis; :func:`archcalc.comparison.compare`
puts the totals side by side with ratios to the first point.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

from archcalc.comparison import Comparison, compare
from archcalc.errors import InputError
from archcalc.report import Report

AXES = ("batch", "input", "dtype", "tokens")


@dataclass(frozen=True)
class SweepAxis:
    """What varies (``batch``, ``input`` or ``dtype``) and its values as the user wrote them."""

    name: str
    values: tuple[str, ...]


def parse_sweep(text: str) -> SweepAxis:
    """``"batch=1,8,64"`` -> SweepAxis("batch", ("1", "8", "64"))."""
    name, sep, rest = text.partition("=")
    name = name.strip().lower()
    if not sep or name not in AXES:
        raise InputError(f"--sweep takes AXIS=V1,V2,... with AXIS one of {', '.join(AXES)}; got {text!r}")
    values = tuple(v.strip() for v in rest.split(",") if v.strip())
    if not values:
        raise InputError(f"--sweep {text!r} gives no values")
    if name in ("batch", "tokens"):
        for value in values:
            if not value.isdigit() or int(value) < 1:
                raise InputError(f"--sweep {name} values must be whole numbers >= 1, got {value!r}")
    return SweepAxis(name, values)


def input_text(value: str, base_input: str | None) -> str:
    """A swept input size: ``224`` -> ``224x224`` (channels from the base --input or the network)."""
    if value.isdigit():
        if base_input:
            from archcalc.inputs import read_input

            shape = read_input(base_input).shape  # the one reading: 3x224x224 is 3 channels too
            if len(shape) == 3:
                return f"{value}x{value}x{shape[0]}"
        return f"{value}x{value}"
    return value


def sweep(
    analyze: Callable[..., Report],
    axis: SweepAxis,
    input: str | None = None,
    batch: int = 1,
    dtype: str = "float32",
    **kwargs: Any,
) -> Comparison:
    """Run ``analyze(input=..., batch=..., dtype=..., **kwargs)`` at each point of ``axis``.

    ``analyze`` is :func:`archcalc.api.analyze` with the model bound (or any
    function of the same keywords); labels name each point (``batch 8``).
    """
    reports = []
    labels = []
    for value in axis.values:
        point = {"input": input, "batch": batch, "dtype": dtype}
        if axis.name == "batch":
            point["batch"] = int(value)
        elif axis.name == "tokens":
            point["tokens"] = int(value)
            kwargs = {key: v for key, v in kwargs.items() if key != "tokens"}
        elif axis.name == "input":
            point["input"] = input_text(value, input)
        else:
            point["dtype"] = value
        reports.append(analyze(**point, **kwargs))
        labels.append(f"{axis.name} {value}")
    return compare(reports, labels)
