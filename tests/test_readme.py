"""The README's examples are real: every ```console block is run and its output compared.

A block holds one command line starting with ``$ archcalc`` and the output it
printed. After a deliberate change of the output, refresh the README with

    ARCHCALC_UPDATE_README=1 pytest tests/test_readme.py

and read the diff before committing it.
"""

from __future__ import annotations

import os
import re
import shlex
from pathlib import Path

import pytest
from typer.testing import CliRunner

from archcalc.cli import app, normalize_argv

README = Path(__file__).resolve().parent.parent / "README.md"
BLOCK = re.compile(r"```console\n\$ (archcalc [^\n]*)\n(.*?)```", re.S)
WIDTH = "100"


def run(command: str) -> str:
    os.chdir(README.parent)  # paths in the examples are relative to the repository
    argv = shlex.split(command)[1:]
    result = CliRunner().invoke(app, normalize_argv(argv), env={"COLUMNS": WIDTH, "NO_COLOR": "1", "TERM": "dumb"})
    assert result.exit_code in (0, 1), f"{command} exited {result.exit_code}:\n{result.output}"
    return "\n".join(line.rstrip() for line in result.stdout.splitlines()).strip("\n") + "\n"


def blocks() -> list[tuple[str, str]]:
    return BLOCK.findall(README.read_text(encoding="utf-8"))


def test_readme_has_examples():
    commands = [command for command, _ in blocks()]
    assert any(c.startswith("archcalc vgg16 --input 224x224x3") for c in commands), commands


@pytest.mark.parametrize("command, shown", blocks(), ids=[c for c, _ in blocks()])
def test_readme_example_output_is_real(command, shown):
    actual = run(command)
    if os.environ.get("ARCHCALC_UPDATE_README"):
        text = README.read_text(encoding="utf-8")
        README.write_text(text.replace(f"$ {command}\n{shown}", f"$ {command}\n{actual}", 1), encoding="utf-8")
        return
    assert "\n".join(line.rstrip() for line in shown.splitlines()).strip("\n") + "\n" == actual
