"""Warnings as short lines: the first of each kind in full, then one summary line per kind.

Warnings a spec marks as intended (``floors:``, a zoo network that rounds a
non-integer output size by design) print nothing unless asked for (``-v``);
the per-layer table says how many there are in one dim line. Formatting only.
"""

from __future__ import annotations

from typing import Iterable

from archcalc.errors import AnalysisWarning
from archcalc.render.styled import Line

#: kinds that say how something was read, not that something is wrong
NOTE_KINDS = ("note", "input", "whole batch", "training", "capture")

#: what the summary line of a kind calls the warnings it did not print
_MORE = {
    "fit": "layers whose (W - F + 2P)/S + 1 is not an integer (--strict makes them errors)",
    "rf": "merges of unaligned branches",
}


def warning_lines(warnings: Iterable[AnalysisWarning], verbose: bool = False, prefix: str = "") -> list[Line]:
    """``warning: ...`` lines (``prefix``: the model's name, when several are analysed);
    ``-v`` (``verbose``) lists every warning, and the intended ones as ``note: ...``."""
    warnings = list(warnings)
    by_kind: dict[str, list[AnalysisWarning]] = {}
    for warning in warnings:
        if not warning.intended:
            by_kind.setdefault(warning.kind, []).append(warning)
    lines = []
    for kind, group in by_kind.items():
        shown = group if verbose else group[:1]
        # a note points somewhere (how the input was read, a model analysed as a whole batch); not a fault
        word = "note: " if kind in NOTE_KINDS else "warning: "
        for warning in shown:
            lines.append(Line(word, "yellow").append(f"{prefix}{warning}"))
        rest = len(group) - len(shown)
        if rest:
            what = _MORE.get(kind, "warnings of this kind")
            lines.append(Line(word, "yellow").append(f"{prefix}... and {rest} more {what}; -v lists them"))
    if verbose:
        for warning in warnings:
            if warning.intended:
                lines.append(Line(f"note: {prefix}{warning} (intended: the spec's floors:, or a live module as written)", "dim"))
    return lines


def intended_line(warnings: Iterable[AnalysisWarning]) -> Line | None:
    """One dim line for the intended roundings, or None when there are none."""
    intended = [w for w in warnings if w.intended]
    if not intended:
        return None
    layers = "layer rounds" if len(intended) == 1 else "layers round"
    return Line(f"{len(intended)} {layers} a fractional output size, as the network intends (-v lists them)",
                "dim")
