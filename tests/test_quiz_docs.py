"""docs/quiz.md is real: every ```console block is run, in order, and its output compared.

The commands run in a fresh folder (``docs/`` of the repository is reachable there), so that
``-o quiz/`` writes nowhere in the repository; ``*`` is expanded as a shell would. After a
deliberate change of the output, refresh the page with

    ARCHCALC_UPDATE_DOCS=1 pytest tests/test_quiz_docs.py

and read the diff before committing it.
"""

from __future__ import annotations

import glob
import os
import re
import shlex
from pathlib import Path

import pytest
from typer.testing import CliRunner

from archcalc.cli import app, normalize_argv

ROOT = Path(__file__).resolve().parent.parent
DOC = ROOT / "docs" / "quiz.md"
BLOCK = re.compile(r"```console\n\$ (archcalc [^\n]*)\n(.*?)```", re.S)
#: a file a command wrote, shown as it is: ```csv file=grades.csv
WRITTEN = re.compile(r"```\w+ file=(\S+)\n(.*?)```", re.S)


def normal(text: str) -> str:
    return "\n".join(line.rstrip() for line in text.splitlines()).strip("\n") + "\n"


def run(command: str) -> str:
    argv = []
    for word in shlex.split(command)[1:]:
        argv += sorted(glob.glob(word)) if "*" in word else [word]
    result = CliRunner().invoke(app, normalize_argv(argv), env={"COLUMNS": "100", "NO_COLOR": "1", "TERM": "dumb"})
    assert result.exit_code in (0, 1), f"{command} exited {result.exit_code}:\n{result.output}"
    return normal(result.output)


def test_docs_examples_are_real(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "docs").symlink_to(ROOT / "docs")
    text = DOC.read_text(encoding="utf-8")
    blocks = BLOCK.findall(text)
    assert len(blocks) >= 10
    updated = text
    for command, shown in blocks:
        actual = run(command)
        if os.environ.get("ARCHCALC_UPDATE_DOCS"):
            updated = updated.replace(f"$ {command}\n{shown}", f"$ {command}\n{actual}", 1)
            continue
        assert normal(shown) == actual, command
    for name, shown in WRITTEN.findall(text):  # the files the commands wrote (the gradebook)
        actual = normal((tmp_path / name).read_text(encoding="utf-8"))
        if os.environ.get("ARCHCALC_UPDATE_DOCS"):
            updated = updated.replace(f"file={name}\n{shown}", f"file={name}\n{actual}", 1)
            continue
        assert normal(shown) == actual, name
    if os.environ.get("ARCHCALC_UPDATE_DOCS"):
        DOC.write_text(updated, encoding="utf-8")


@pytest.mark.parametrize("number", ["760", "200,960", "854,196,224", "271,351,808", "1,728", "102,764,544", "784"])
def test_docs_show_the_published_numbers(number):
    assert number in DOC.read_text(encoding="utf-8")


def test_docs_screenshot_exists():
    assert (ROOT / "docs" / "quiz-page.png").stat().st_size > 10_000
