"""Layer families, one module each, registered in one registry (see :mod:`archcalc.layers.base`).

Every module of this package that is not a helper (:data:`HELPERS`) is a
family and registers itself on import; they are imported here in name order,
so adding a family is adding its file. ``get_rule("conv")`` returns a rule;
an unknown name raises a SpecError that suggests the closest known one.
"""

from __future__ import annotations

import difflib
import importlib
import os

from archcalc.errors import SpecError
from archcalc.layers.base import (
    Family,
    OpCounts,
    ParamCounts,
    RFStep,
    Rule,
    all_families,
    all_names,
    all_ops,
    lookup,
    role,
)

__all__ = [
    "Family",
    "OpCounts",
    "ParamCounts",
    "RFStep",
    "Rule",
    "all_families",
    "all_names",
    "all_ops",
    "get_rule",
    "lookup",
    "role",
]

#: modules of this package that are shared arithmetic, not families
HELPERS = ("base", "terms", "window", "normalization")

FAMILY_MODULES = tuple(
    sorted(
        name[:-3]
        for name in os.listdir(__path__[0])
        if name.endswith(".py") and not name.startswith("_") and name[:-3] not in HELPERS
    )
)
for _name in FAMILY_MODULES:
    importlib.import_module(f"{__name__}.{_name}")


def get_rule(op: str) -> Rule:
    rule = lookup(op)
    if rule is None:
        close = difflib.get_close_matches(op.lower(), all_names(), n=1)
        raise SpecError(
            f"unknown layer type '{op}'",
            hint=(f"did you mean '{close[0]}'? " if close else "") + "`archcalc layers` lists them all",
        )
    return rule
