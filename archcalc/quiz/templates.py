"""The exercise templates, kept as data in ``archcalc/quiz/exercises/*.yaml``.

* ``layers.yaml``: single-layer exercises (one layer, or a depthwise-separable pair);
* ``compare.yaml``: two designs of the same job;
* ``stacks.yaml``: networks drawn layer by layer (``rf``, and ``cnn`` for tables);
* ``tables.yaml``: table styles after published tables (CS231n, Keras, EECS 498).

Each file documents its keys at its top. The templates write layers in the spec
language (docs/spec-format.md), so the Python code names no layer type: a template's
layers are drawn, substituted and handed to the spec loader.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

import yaml

from archcalc.errors import InputError

EXERCISES = Path(__file__).parent / "exercises"


@cache
def _document(group: str) -> dict[str, Any]:
    path = EXERCISES / f"{group}.yaml"
    with path.open(encoding="utf-8") as handle:
        return dict(yaml.safe_load(handle))


def templates(group: str) -> dict[str, dict[str, Any]]:
    """The templates of ``exercises/<group>.yaml`` by name, in file order (``_settings`` aside)."""
    return {str(name): dict(body) for name, body in _document(group).items() if not str(name).startswith("_")}


def settings(group: str) -> dict[str, Any]:
    """The ``_settings`` of ``exercises/<group>.yaml`` (what is not a template)."""
    return dict(_document(group).get("_settings") or {})


def template(group: str, name: str) -> dict[str, Any]:
    """One template of a group, or an InputError naming the ones there are."""
    found = templates(group)
    if name not in found:
        raise InputError(f"no {group} template '{name}' (there are: {', '.join(found)})")
    return found[name]


__all__ = ["EXERCISES", "settings", "template", "templates"]
