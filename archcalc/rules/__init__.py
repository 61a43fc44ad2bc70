"""Layer rules, one module per family, registered in one table (op name -> rule).

``get_rule("conv")`` returns the rule; unknown names raise a SpecError that
suggests the closest known name.
"""

from __future__ import annotations

import difflib

from archcalc.errors import SpecError
from archcalc.rules import activation, conv, linear, merge, norm, pool, reshape, upsample  # noqa: F401  (registration)
from archcalc.rules import matmul, tensor_ops  # noqa: F401  (registration: live-module ops)
from archcalc.rules.base import OpCounts, ParamCounts, RFStep, Rule, all_names, all_ops, lookup

__all__ = ["OpCounts", "ParamCounts", "RFStep", "Rule", "all_names", "all_ops", "get_rule", "lookup"]


def get_rule(op: str) -> Rule:
    rule = lookup(op)
    if rule is None:
        close = difflib.get_close_matches(op.lower(), all_names(), n=1)
        raise SpecError(
            f"unknown layer type '{op}'",
            hint=(f"did you mean '{close[0]}'? " if close else "") + "`archcalc layers` lists them all",
        )
    return rule
