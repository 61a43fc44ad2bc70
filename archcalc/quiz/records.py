"""The JSON form of a variant (``key-<k>.json``) and of a whole quiz (``quiz.json``).

``key-<k>.json``::

    {"archcalc_quiz_version": 1, "kind": "conv", "variant": 3, "seed": 7, "student": null,
     "title": "...", "statement": "...", "model": "{name: conv-3, ...}", "input": "32x32x3",
     "convention": "flops", "dtype": "float32", "batch": 1, "values": {"size": 32, ...},
     "columns": [{"quantity": "shape", "heading": "Output shape", "unit": ""}, ...],
     "rows": [{"label": "conv", "type": "conv f10 k5 s1 p2", "layer": "conv", "block": [],
               "answers": [{"quantity": "params", "value": 760, "text": "760", "shown": null,
                            "derivation": [{"quantity": "params", "formula": "(F*F*Cin + 1) * K",
                                            "substituted": "(5*5*3 + 1) * 10", "value": 760, ...}]}]}],
     "planted": [], "notes": []}

A value is a number, a shape as a list (C, H, W), or a receptive field as a list (h, w).
"""

from __future__ import annotations

import json
from fractions import Fraction
from typing import Any

from archcalc.quiz.sheet import Variant
from archcalc.render.explain import step_dict
from archcalc.report import plain_number

#: JSON schema version of key-<k>.json and quiz.json; bump on an incompatible change.
QUIZ_JSON_VERSION = 1


def _plain(value: Any) -> Any:
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, Fraction):
        return plain_number(value)
    return value


def variant_dict(variant: Variant) -> dict[str, Any]:
    return {
        "archcalc_quiz_version": QUIZ_JSON_VERSION,
        "kind": variant.kind,
        "variant": variant.number,
        "seed": variant.seed,
        "student": variant.student,
        "title": variant.title,
        "statement": variant.statement,
        "instructions": list(variant.instructions),
        "model": variant.model,
        "input": variant.input,
        "convention": variant.convention,
        "dtype": variant.dtype,
        "batch": variant.batch,
        "values": {k: _plain(v) for k, v in variant.values.items()},
        "columns": [{"quantity": c.quantity, "heading": c.heading, "unit": c.unit} for c in variant.columns],
        "rows": [
            {
                "label": row.label,
                "type": row.kind,
                "layer": row.layer,
                "block": list(row.block),
                "answers": [
                    {
                        "quantity": answer.quantity,
                        "value": _plain(answer.value),
                        "text": answer.text,
                        "shown": answer.shown,
                        "derivation": [_plain_step(step_dict(s)) for s in answer.steps],
                    }
                    for answer in variant.row_answers(row)
                ],
            }
            for row in variant.rows
        ],
        "planted": [
            {"row": p.row, "quantity": p.quantity, "written": p.written, "right": p.right, "mistake": p.mistake,
             "explanation": p.explanation}
            for p in variant.planted
        ],
        "notes": list(variant.notes),
    }


def _plain_step(step: dict[str, Any]) -> dict[str, Any]:
    return {k: _plain(v) if not isinstance(v, (int, str, float)) or isinstance(v, bool) else v for k, v in step.items()}


def variant_json(variant: Variant) -> str:
    """The variant as JSON on one line: data for programs (json.dumps' C encoder runs only without
    ``indent``; an indented key of VGG-16 took 70 ms, a quarter of a 1,000-student quiz's time)."""
    return json.dumps(variant_dict(variant)) + "\n"


__all__ = ["QUIZ_JSON_VERSION", "variant_dict", "variant_json"]
