"""archcalc.render.json_text writes exactly what ``json.dumps(value, indent=2)`` writes.

The oracle is the standard library itself: random JSON documents (nested objects and
arrays, repeated arrays, non-ASCII and control characters, NaN and infinities, empty
containers, tuples, non-string keys) are written both ways and compared byte for byte.
"""

from __future__ import annotations

import json
import math

import pytest

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from archcalc.render.json_text import dumps_indented  # noqa: E402

SCALARS = (st.none() | st.booleans() | st.integers(min_value=-(2**70), max_value=2**70)
           | st.floats(allow_nan=True, allow_infinity=True) | st.text(max_size=12))
KEYS = st.text(max_size=8)
DOCUMENTS = st.recursive(
    SCALARS,
    lambda inner: (st.lists(inner, max_size=5) | st.lists(inner, max_size=4).map(tuple)
                   | st.dictionaries(KEYS, inner, max_size=5)),
    max_leaves=40,
)


@settings(max_examples=300, deadline=None, derandomize=True, database=None)
@given(DOCUMENTS)
def test_random_documents_match_json(document):
    assert dumps_indented(document) == json.dumps(document, indent=2)


@settings(max_examples=100, deadline=None, derandomize=True, database=None)
@given(st.lists(st.dictionaries(KEYS, st.lists(st.integers(0, 3), max_size=3), max_size=3), max_size=6))
def test_arrays_repeated_at_several_depths_match_json(records):
    """The same array at two depths (a shape in a layer and at the top): one cache, two texts."""
    document = {"shape": [1, 2], "layers": [{"shape": [1, 2], "nested": {"shape": [1, 2]}}, *records]}
    assert dumps_indented(document) == json.dumps(document, indent=2)


@pytest.mark.parametrize("document", [
    {}, [], {"a": {}}, {"a": []}, [[]], [{}], {"é\n\x1b": "ü\u2028"}, {1: 2, None: [3], 2.5: True, False: "x"},
    {"nan": math.nan, "inf": [math.inf, -math.inf]}, {"t": (1, (2, 3))}, [[{"deep": [1]}]],
    {"big": 10**30, "neg": -0.0, "small": 1e-300},
    {"a": [1, 2], "b": [1.0, 2], "c": [True, 2], "d": (1, 2), "e": [0.0], "f": [-0.0], "g": {"k": [1]},
     "h": {"k": [1.0]}, "i": [[1, 1], [1, 1]], "j": [[1, 1], [1.0, 1]]},
], ids=repr)
def test_corner_cases_match_json(document):
    assert dumps_indented(document) == json.dumps(document, indent=2)


@pytest.mark.parametrize("document", [{"a": object()}, [{1j: 1}], {(1, 2): 3}], ids=["object", "complex key", "tuple key"])
def test_what_json_refuses_is_refused(document):
    with pytest.raises(TypeError):
        json.dumps(document, indent=2)
    with pytest.raises(TypeError):
        dumps_indented(document)


@pytest.mark.parametrize("model", ["resnet18", "googlenet", "gpt2"])
def test_report_json_is_json_dumps_indent_2(model):
    """``--format json`` of zoo networks (branches, fractional fields, a transformer's LLM sizing)."""
    import archcalc
    from archcalc.render.exports import report_dict, to_json

    report = archcalc.analyze(model)
    assert to_json(report) == json.dumps(report_dict(report), indent=2) + "\n"
