"""docs/adding-a-layer-family.md stays true: its code is quoted from groupnorm.py verbatim,
and its console example prints what it shows."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.test_readme import run

ROOT = Path(__file__).resolve().parent.parent
DOC = (ROOT / "docs" / "adding-a-layer-family.md").read_text(encoding="utf-8")
SOURCE = (ROOT / "archcalc" / "layers" / "groupnorm.py").read_text(encoding="utf-8")


@pytest.mark.parametrize("block", re.findall(r"```python\n(.*?)```", DOC, re.S))
def test_code_is_quoted_from_the_family_file(block):
    assert block in SOURCE


@pytest.mark.parametrize("command, shown", re.findall(r"```console\n\$ (archcalc [^\n]*)\n(.*?)```", DOC, re.S))
def test_console_example_is_real(command, shown):
    assert "\n".join(line.rstrip() for line in shown.splitlines()).strip("\n") + "\n" == run(command)
