"""Every class of bad input through the CLI: one or two lines, exit status 2, no traceback."""

from __future__ import annotations

import pytest


def write(tmp_path, text, name="bad.yaml"):
    path = tmp_path / name
    path.write_text(text)
    return str(path)


CASES = {
    "yaml syntax": ("input: 8x8x3\nlayers:\n  - conv: {filters: 4, kernel: 3\n", ["YAML syntax error", ":4"]),
    "unknown layer": ("input: 8x8x3\nlayers:\n  - convolve: {filters: 4}\n", ["unknown layer type 'convolve'", ":3", "did you mean"]),
    "unknown key": ("input: 8x8x3\nlayers:\n  - conv: {filters: 4, kernal: 3}\n", ["unknown argument 'kernal'", ":3", "did you mean 'kernel'"]),
    "missing argument": ("input: 8x8x3\nlayers:\n  - conv: {kernel: 3}\n", ["needs the argument 'filters'", ":3"]),
    "kernel too large": (
        "input: 8x8x3\nlayers:\n  - maxpool: 2\n  - maxpool: 2\n  - conv: {filters: 4, kernel: 5, name: big}\n",
        ["layer 'big' (conv)", ":5", "kernel 5 is larger than the padded input", "2 + 0 + 0 = 2"],
    ),
    "concat mismatch": (
        "input: 8x8x3\nlayers:\n  - concat:\n      - [conv: {filters: 4, kernel: 3}]\n      - [conv: {filters: 4, kernel: 1}]\n",
        ["concat", ":3", "(4, 6, 6), (4, 8, 8)"],
    ),
    "channels": (
        "input: 8x8x3\nlayers:\n  - conv: {filters: 4, kernel: 3, groups: 2, name: c1}\n",
        ["layer 'c1'", "groups = 2 must divide both input channels (3)"],
    ),
    "add mismatch": (
        "input: 8x8x3\nlayers:\n  - residual:\n      body: [conv: {filters: 5, kernel: 3, pad: 1}]\n      shortcut: identity\n",
        ["cannot combine shapes", "(5, 8, 8) and (3, 8, 8)"],
    ),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_bad_spec(case, tmp_path, run_cli):
    text, expected = CASES[case]
    path = write(tmp_path, text)
    result = run_cli(path)
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    message = result.stderr
    assert message.startswith("error: ")
    assert len(message.strip().splitlines()) <= 2, message
    assert "bad.yaml" in message
    for fragment in expected:
        assert fragment in message, (fragment, message)


@pytest.mark.parametrize(
    "args, fragment",
    [
        (["vgg16", "--input", "224x224"], None),  # H x W takes the spec's channels: fine
        (["vgg16", "--input", "224xx3"], "cannot read --input"),
        (["vgg16", "--input", "abc"], "cannot read --input"),
        (["vgg16", "--input", "224x224x4"], "the network takes 3 input channels"),
        (["vgg16", "--dtype", "float8"], "unknown dtype"),
        (["vgg16", "--convention", "gflops"], "unknown convention"),
        (["vgg16", "--format", "pdf"], "unknown format"),
        (["vgg17"], "unknown model 'vgg17'"),
        (["missing.yaml"], "no such spec file"),
        (["vgg16", "--include", "weights"], "unknown category"),
        (["vgg16", "--input", "16x16x3"], "larger than the padded input"),
    ],
)
def test_bad_command_line(args, fragment, run_cli):
    result = run_cli(*args)
    if fragment is None:
        assert result.exit_code == 0, result.output
        return
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    assert fragment in result.stderr
    assert len(result.stderr.strip().splitlines()) <= 2


def test_chw_input_is_accepted_when_unambiguous(run_cli):
    result = run_cli("vgg16", "--input", "3x224x224", "--format", "json")
    assert result.exit_code == 0
    assert '"input_shape": [\n    3,\n    224,\n    224\n  ]' in result.stdout


def test_non_integer_size_warns_and_strict_fails(tmp_path, run_cli):
    path = write(tmp_path, "input: 7x7x1\nlayers:\n  - conv: {filters: 1, kernel: 3, stride: 3}\n")
    ok = run_cli(path)
    assert ok.exit_code == 0
    assert "(7 - 3 + 2*0)/3 + 1 = 2.33333 is not an integer; PyTorch floors it to 2" in ok.stderr
    strict = run_cli(path, "--strict")
    assert strict.exit_code == 2
    assert "--strict" in strict.stderr and ":3" in strict.stderr
