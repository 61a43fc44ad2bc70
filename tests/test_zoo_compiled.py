"""The zoo's compiled specs rebuild exactly what the YAML parser gives, lines included, and are
used only while they match their YAML."""

from __future__ import annotations

import json

import pytest

import archcalc
from archcalc.spec.compiled import checksum, compiled_dir, compiled_doc, decode, encode
from archcalc.spec.loader import parse_yaml
from archcalc.zoo import ZOO_DIR, zoo_names

FIX = "run `python tools/compile_zoo.py` after editing or adding a zoo spec"


def same(a, b) -> bool:
    """Equal values of the same types with the same line numbers, all the way down."""
    if type(a) is not type(b) or getattr(a, "line", None) != getattr(b, "line", None):
        return False
    if isinstance(a, dict):
        return list(a) == list(b) and all(same(ka, kb) and same(a[ka], b[kb]) for ka, kb in zip(a, b))
    if isinstance(a, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    return a == b


@pytest.mark.parametrize("name", zoo_names())
def test_every_zoo_spec_has_a_fresh_compiled_twin(name):
    path = ZOO_DIR / f"{name}.yaml"
    text = path.read_text(encoding="utf-8")
    twin = compiled_dir() / f"{name}.json"
    assert twin.is_file(), f"{twin} is missing: {FIX}"
    assert json.loads(twin.read_text())["crc32"] == checksum(text), f"{twin} is stale: {FIX}"
    doc = compiled_doc(path, text)
    assert doc is not None and same(doc, parse_yaml(text, path.name))


def test_no_twin_without_a_spec():
    assert sorted(p.stem for p in compiled_dir().glob("*.json")) == zoo_names()


def test_a_stale_twin_is_never_used(tmp_path):
    path = ZOO_DIR / "lenet5.yaml"
    edited = path.read_text(encoding="utf-8").replace("filters: 6", "filters: 7")
    assert compiled_doc(path, edited) is None  # the edited text is parsed from YAML
    assert compiled_doc(tmp_path / "lenet5.yaml", path.read_text(encoding="utf-8")) is None  # not the zoo


def test_encoding_round_trip_keeps_types_and_lines():
    doc = parse_yaml("a: [1, 2.5, true, null, x]\nb:\n  c: {d: e}\n", "inline.yaml")
    assert same(decode(json.loads(json.dumps(encode(doc)))), doc)


def test_answers_are_the_same_either_way():
    # the compiled lenet5 and the YAML one give the same report, messages included
    from archcalc.analysis import analyze_graph
    from archcalc.spec import load_spec_text

    path = ZOO_DIR / "resnet18.yaml"
    parsed = analyze_graph(load_spec_text(path.read_text(encoding="utf-8"), "archcalc/specs/resnet18.yaml"))
    compiled = archcalc.analyze("resnet18")
    assert parsed.to_dict() == compiled.to_dict()
