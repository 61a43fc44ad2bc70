"""Help and listings read as prose at 80 columns: no click type noise, examples, wrapped text
that stays indented, shell completion."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from typer.testing import CliRunner

from archcalc.cli import app
from archcalc.layers import all_ops
from archcalc.zoo import zoo_names

ENV = {"COLUMNS": "80", "NO_COLOR": "1", "TERM": "dumb"}
COMMANDS = ["analyze", "list", "layers", "check", "compare", "layer", "verify"]


def invoke(*args: str):
    return CliRunner().invoke(app, list(args), env=ENV)


@pytest.mark.parametrize("args", [["--help"], *[[c, "--help"] for c in COMMANDS]])
def test_help_has_no_click_type_noise(args):
    result = invoke(*args)
    assert result.exit_code == 0, result.output
    for noise in ("<str>", "<int", "<path>", "range>", "x>=", "{model}", "{MODEL}", "<float"):
        assert noise not in result.stdout, (args, noise)
    assert max(len(line) for line in result.stdout.splitlines()) <= 80


@pytest.mark.parametrize("command", ["analyze", "check", "compare", "layer", "verify"])
def test_help_gives_examples(command):
    text = invoke(command, "--help").stdout
    assert "Example" in text and f"archcalc {command if command != 'analyze' else 'vgg16'}" in text


def test_root_help_says_the_command_may_be_left_out_and_offers_completion():
    text = invoke("--help").stdout
    assert "`archcalc MODEL` is short for `archcalc analyze MODEL`" in text
    assert "Examples:" in text and "--install-completion" in text
    assert "The command may be left out" in invoke("analyze", "--help").stdout


def test_metavars_name_what_to_type():
    text = invoke("analyze", "--help").stdout
    assert "--input HxWxC" in text and "--batch N" in text and "-o, --output FILE" in text
    assert "Usage: archcalc analyze [OPTIONS] MODEL" in text


def test_ranges_are_still_checked():
    result = invoke("analyze", "lenet5", "--batch", "0")
    assert result.exit_code == 2 and "must be at least 1" in result.stderr


def test_layer_help_lists_dense():
    text = invoke("layer", "--help").stdout
    assert "dense" in text and "fc" in text


def test_list_wraps_under_the_description():
    text = invoke("list").stdout
    names = set(zoo_names())
    for line in text.splitlines():
        assert len(line) <= 80
        assert line.startswith(" ") or line.split()[0] in names, line
    assert {line.split()[0] for line in text.splitlines() if not line.startswith(" ")} == names


def test_layers_wraps_under_the_op():
    text = invoke("layers").stdout
    ops = set(all_ops())
    for line in text.splitlines():
        assert len(line) <= 80
        assert line.startswith("    ") or line.split(":")[0] in ops, line
    assert "    also: fc, dense, fully_connected" in text


def test_shell_completion_of_model_names():
    env = {**os.environ, "_ARCHCALC_COMPLETE": "complete_bash", "COMP_WORDS": "archcalc analyze resn",
           "COMP_CWORD": "2"}
    result = subprocess.run([sys.executable, "-c", "from archcalc.cli import main; main()"], env=env,
                            capture_output=True, text=True)
    assert "resnet50" in result.stdout.split() and "vgg16" not in result.stdout.split()
