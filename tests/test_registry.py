"""The layer-family registry: every family provides every facet or says why not, and no
module outside ``archcalc/layers/`` names a family.

Facets of a rule: shape, counts, receptive field, explain, to torch (``RULE_FACETS``);
of a family: from torch (module classes, functions, aten ops) and summary names.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from archcalc.conventions import CATEGORIES
from archcalc.layers import FAMILY_MODULES, all_families, all_ops
from archcalc.layers.base import FAMILY_FACETS, RULE_FACETS, Absent, Family

ROOT = Path(__file__).resolve().parents[1] / "archcalc"

RULES = sorted(all_ops().items())
FAMILIES = sorted(all_families().items())

#: string constants outside archcalc/layers that equal an op name, and why they are not a family reference
ALLOWED = {
    ("spec/loader.py", "identity"): "the spec keyword `shortcut: identity`, not the identity op",
    ("frontends/checkpoint_config.py", "add"): "a renaming mode (add a prefix to tensor names), not the add op",
    ("llm/hf.py", "grouped_mm"): "transformers' experts_implementation value, not the grouped_mm op",
}
#: files that translate another framework's vocabulary (ONNX op types, Keras layer classes) into
#: archcalc's ops, as the YAML loader reads op names: a table of names by nature. (Debt: the
#: families could declare their ONNX and Keras names, as they declare their torch tables.)
TRANSLATIONS = {"frontends/keras_model.py", "frontends/onnx_ops.py"}
#: words that are also the conventions' category names (pool, activation, norm, elementwise, reshape)
VOCABULARY = set(CATEGORIES) | {"reshape", "dot", "other"}


def test_every_family_module_registers_one_family():
    modules = {family.rules[0].__module__.rsplit(".", 1)[-1] for family in all_families().values()}
    assert modules == set(FAMILY_MODULES)
    assert len(all_families()) == len(FAMILY_MODULES)


@pytest.mark.parametrize("op, rule", RULES, ids=[op for op, _ in RULES])
@pytest.mark.parametrize("facet", list(RULE_FACETS))
def test_rule_provides_or_declares_every_facet(op, rule, facet):
    provided = rule.provides(facet)
    declared = facet in rule.absent
    assert provided or declared, f"{op}: facet '{facet}' is neither provided nor declared absent"
    assert not (provided and declared), f"{op}: facet '{facet}' is provided and declared absent"
    if declared:
        assert len(rule.absent[facet].split()) >= 3, f"{op}: say why '{facet}' is absent"


@pytest.mark.parametrize("name, family", FAMILIES, ids=[name for name, _ in FAMILIES])
def test_family_provides_or_declares_from_torch_and_names(name, family: Family):
    assert FAMILY_FACETS == ("from_torch", "names")
    tables = [family.torch_modules, family.torch_functions, family.aten_ops]
    assert any(isinstance(t, Absent) or t for t in tables), f"{name}: no torch mapping at all"
    for table in tables:
        if isinstance(table, Absent):
            assert len(table.reason.split()) >= 3
        else:
            assert all(callable(handler) for handler in table.values())
    assert family.names if not isinstance(family.names, Absent) else len(family.names.reason.split()) >= 3
    if not isinstance(family.names, Absent):
        for entry in family.names:
            re.compile(entry.pattern)
            assert entry.op in {cls.op for cls in family.rules}


def test_torch_modules_name_real_classes():
    from torch import nn

    for name, family in FAMILIES:
        for cls_name in family.table("torch_modules"):
            assert isinstance(getattr(nn, cls_name, None), type), f"{name}: torch.nn.{cls_name} does not exist"


def test_engines_and_the_rest_name_no_family():
    """No string constant (docstrings aside) outside archcalc/layers equals an op or family name."""
    names = set(all_ops()) | set(all_families())
    found = []
    for path in sorted(ROOT.rglob("*.py")):
        relative = path.relative_to(ROOT).as_posix()
        if relative.startswith("layers/") or relative in TRANSLATIONS:
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        docstrings = {
            id(node.body[0].value)
            for node in ast.walk(tree)
            if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef))
            and node.body
            and isinstance(node.body[0], ast.Expr)
            and isinstance(node.body[0].value, ast.Constant)
        }
        for node in ast.walk(tree):
            if not (isinstance(node, ast.Constant) and isinstance(node.value, str)) or id(node) in docstrings:
                continue
            word = node.value
            if word in names and word not in VOCABULARY and (relative, word) not in ALLOWED:
                found.append(f"{relative}:{node.lineno}: {word!r}")
    assert not found, "family names outside archcalc/layers:\n" + "\n".join(found)


def test_engines_dispatch_on_no_family():
    """The four engines read the registry: none holds a per-op table or branch."""
    for engine in ("derivation.py", "torch_builder.py", "frontends/torch_ops.py", "grading/matching.py"):
        text = (ROOT / engine).read_text(encoding="utf-8")
        assert not re.search(r"row\.op\s*(==|in)\s*[\"'(]", text), engine
        assert not re.search(r"node\.op\s*(==|in)\s*[\"'(]", text), engine
