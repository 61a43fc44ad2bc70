"""docs/formats.md and the README's model-file commands are real: the Python blocks make the files in a
temporary folder, every command runs there, and the numbers the doc quotes (``<!-- output
contains: ... -->`` after a command) are in its output."""

from __future__ import annotations

import os
import re
import shlex
import warnings
from pathlib import Path

import pytest
from typer.testing import CliRunner

from archcalc.cli import app, normalize_argv

ROOT = Path(__file__).resolve().parent.parent
DOC = ROOT / "docs" / "formats.md"
README = ROOT / "README.md"
PYTHON = re.compile(r"```python\n(.*?)```", re.S)
COMMAND = re.compile(r"```bash\n(archcalc [^\n]*)\n```\n<!-- output contains: (.*?) -->")


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    """The doc's Python blocks, run in order in one namespace in a fresh folder."""
    os.environ.setdefault("KERAS_BACKEND", "torch")  # keras without TensorFlow
    for module in ("torch", "onnx", "keras", "safetensors", "gguf", "h5py"):
        pytest.importorskip(module)
    where = tmp_path_factory.mktemp("formats")
    before = Path.cwd()
    os.chdir(where)
    try:
        namespace: dict = {}
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            for block in PYTHON.findall(DOC.read_text(encoding="utf-8")):
                exec(compile(block, str(DOC), "exec"), namespace)  # noqa: S102  (our own doc)
    finally:
        os.chdir(before)
    return where


def run(command: str, where: Path):
    before = Path.cwd()
    os.chdir(where)
    try:
        return CliRunner().invoke(app, normalize_argv(shlex.split(command)[1:]), env={"COLUMNS": "120"})
    finally:
        os.chdir(before)


EXAMPLES = COMMAND.findall(DOC.read_text(encoding="utf-8"))


def test_every_format_has_an_example():
    suffixes = {shlex.split(command)[1].rsplit(".", 1)[-1] for command, _ in EXAMPLES}
    assert suffixes >= {"onnx", "keras", "pt2", "pt", "safetensors", "gguf"}


@pytest.mark.parametrize("command, expected", EXAMPLES, ids=[c for c, _ in EXAMPLES])
def test_doc_example_output(command, expected, folder):
    result = run(command, folder)
    assert result.exit_code == 0, result.output
    for fragment in expected.split(" | "):
        assert fragment.strip() in result.stdout, (fragment, result.stdout)


def test_readme_model_file_commands_run(folder):
    """The README's "Model files" block: each command is one of the doc's, and runs."""
    text = README.read_text(encoding="utf-8")
    section = text.split("## Model files", 1)[1].split("\n## ", 1)[0]
    commands = re.findall(r"^(archcalc \S+\.(?:onnx|keras|pt2|pt|safetensors|gguf)[^\n#]*)", section, re.M)
    assert len(commands) >= 6, commands
    documented = {c for c, _ in EXAMPLES}
    for command in commands:
        command = command.strip()
        assert command in documented, command
        assert run(command, folder).exit_code == 0


def test_every_format_of_lenet_agrees_with_the_zoo(folder):
    """The same LeNet-5 read from four files gives the zoo spec's numbers, layer memory included."""
    from archcalc.api import analyze

    zoo = analyze("lenet5", "32x32x1")
    reports = [analyze(str(folder / "lenet.onnx"), "32x32x1"), analyze(str(folder / "lenet.keras")),
               analyze(str(folder / "lenet.pt2")), analyze(str(folder / "lenet.pt"), "1x1x32x32")]
    for report in reports:
        assert (report.totals.params, report.totals.macs) == (zoo.totals.params, zoo.totals.macs) == (61_706, 416_520)
    for report in reports[:2]:  # the graphs without extra views: every layer output as the spec's
        assert report.totals.activation_bytes == zoo.totals.activation_bytes
        assert report.totals.peak_activation_bytes == zoo.totals.peak_activation_bytes
