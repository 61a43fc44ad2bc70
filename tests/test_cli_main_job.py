"""The main job runs without typer when its arguments are plain, and prints exactly what the
typer command prints for the same arguments: table, warnings, errors, exit status."""

from __future__ import annotations

import subprocess
import sys

import pytest
from typer.testing import CliRunner

from archcalc.cli import app, main, normalize_argv
from archcalc.cli.main_job import plain_arguments

SPEC = "input: 7x7x1\nlayers:\n  - conv: {filters: 1, kernel: 3, stride: 3}\n"  # 2.33 -> 2: a warning

CASES = [
    ["vgg16", "--input", "224x224x3"],
    ["resnet50"],
    ["resnet50", "-v"],
    ["lenet5", "-c", "textbook", "--depth", "1", "--exact"],
    ["lenet5", "--batch", "4", "--dtype", "float16"],
    ["mobilenet_v2", "-i", "160x160x3", "-b", "2", "--convention", "flops"],
    ["lenet5", "--layout", "chw", "--input", "1x32x32"],
    ["vgg16", "--input", "225x225x3"],
    ["vgg16", "--input", "224"],
    ["lenet5", "--input", "32x32x3"],
    ["resnet18", "--strict"],
    ["nosuchnet"],
    ["lenet5", "--dtype", "float8"],
    ["SPEC"],
    ["SPEC", "--verbose", "--strict"],
]


@pytest.mark.parametrize("args", CASES, ids=[" ".join(c) for c in CASES])
def test_plain_arguments_print_what_typer_prints(args, tmp_path, monkeypatch, capsys):
    spec = tmp_path / "net.yaml"
    spec.write_text(SPEC)
    args = [str(spec) if a == "SPEC" else a for a in args]
    argv = normalize_argv(args)
    assert plain_arguments(argv) is not None
    env = {"COLUMNS": "100", "NO_COLOR": "1", "TERM": "dumb"}
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    with pytest.raises(SystemExit) as fast_exit:
        main(args)
    fast = capsys.readouterr()
    typed = CliRunner().invoke(app, argv, env=env)
    assert (fast_exit.value.code or 0) == typed.exit_code
    assert fast.out == typed.stdout
    assert fast.err == typed.stderr


@pytest.mark.parametrize("args", [
    ["lenet5", "--batch", "0"],
    ["lenet5", "--depth", "two"],
    ["lenet5", "--help"],
    ["lenet5", "--format", "json"],
    ["lenet5", "-o", "x.md"],
    ["lenet5", "--input=32x32x1"],
    ["lenet5", "vgg16"],
    ["lenet5", "-v", "-v"],
    ["lenet5", "--input"],
    ["lenet5", "--explain"],
    ["--version"],
    ["list"],
])
def test_anything_else_goes_through_typer(args):
    assert plain_arguments(normalize_argv(args)) is None


def test_the_main_job_imports_no_typer():
    code = ("import sys\nfrom archcalc.cli import main\ntry:\n    main(['vgg16', '--input', '224x224x3'])\n"
            "except SystemExit as e:\n    assert not e.code\nprint('TYPER=' + str('typer' in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip().endswith("TYPER=False")
