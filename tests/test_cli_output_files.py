"""``-o FILE`` and ``--plot FILE``: formats from extensions, refusals with a hint for the ones
archcalc does not write, and a line on stderr saying where each file went."""

from __future__ import annotations

import pytest

import archcalc


@pytest.mark.parametrize("name, hint", [
    ("layers.png", "--plot draws images"),
    ("layers.pdf", "--plot draws images"),
    ("layers.svg", "--plot draws images"),
    ("layers.xlsx", "Excel and LibreOffice open it"),
    ("layers.docx", "-o writes"),
])
@pytest.mark.parametrize("command", [["lenet5"], ["compare", "lenet5", "alexnet"],
                                     ["layer", "conv", "--input", "8x8x3", "--filters", "4", "--kernel", "3"]])
def test_extensions_that_are_no_format_are_refused(run_cli, tmp_path, command, name, hint):
    path = tmp_path / name
    result = run_cli(*command, "-o", str(path))
    assert result.exit_code == 2, result.output
    assert hint in result.stderr and "does not write" in result.stderr
    assert len(result.stderr.strip().splitlines()) <= 2
    assert not path.exists()


def test_check_refuses_them_too(run_cli, tmp_path):
    result = run_cli("check", "tests/data/answers/lenet5_typos.csv", "--model", "lenet5", "-o",
                     str(tmp_path / "grades.xlsx"))
    assert result.exit_code == 2 and "grades.csv" in result.stderr


@pytest.mark.parametrize("name, what", [("out.csv", "csv"), ("out.md", "md"), ("out.tex", "latex"),
                                        ("out.html", "html"), ("out.json", "json"), ("out.txt", "table"),
                                        ("out", "table")])
def test_every_written_file_is_named_on_stderr(run_cli, tmp_path, name, what):
    path = tmp_path / name
    result = run_cli("lenet5", "-o", str(path))
    assert result.exit_code == 0, result.output
    assert result.stdout == ""
    assert f"{what} written to {path}" in result.stderr
    assert path.stat().st_size > 500


def test_an_explicit_format_writes_any_name(run_cli, tmp_path):
    path = tmp_path / "layers.data"
    result = run_cli("lenet5", "--format", "csv", "-o", str(path))
    assert result.exit_code == 0 and path.read_text().startswith("name,type,")


def test_plot_of_a_large_network_folds_and_says_so(run_cli, tmp_path):
    pytest.importorskip("matplotlib")
    import matplotlib.image as mpimg

    path = tmp_path / "r50.png"
    result = run_cli("resnet50", "--plot", str(path))
    assert result.exit_code == 0, result.output
    # 175 layers; at depth 2: conv1, bn1, relu1, maxpool, 16 blocks, avgpool, flatten1, fc = 23 bars
    assert "175 layers, blocks folded to depth 2 (23 bars)" in result.stderr
    height, width = mpimg.imread(path).shape[:2]
    assert width <= 2000 and height <= 1200
    small = tmp_path / "vgg.png"
    result = run_cli("vgg16", "--plot", str(small))
    assert "folded" not in result.stderr and f"plot written to {small}" in result.stderr
    assert len(archcalc.analyze("vgg16").rows) == 13 + 13 + 5 + 2 + 7  # under 60: every layer a bar
