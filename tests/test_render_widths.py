"""A wider terminal never shows less: the table at 80, 100, 120 and 160 columns.

Every word a narrower table shows (a name, a type, a hyper-parameter, a
number, a header) is in the wider one's same row too; a word cut with an
ellipsis is whole, or cut later, in the wider one; no line is longer than
the console.
"""

from __future__ import annotations

import io
import itertools

import pytest
from rich.console import Console

import archcalc
from archcalc.render.styled import Terminal
from archcalc.render.table import render_report

WIDTHS = (80, 100, 120, 160)
MODELS = ("vgg16", "resnet18", "resnet50", "googlenet", "mobilenet_v2", "lenet5")
BAR_GLYPHS = set("▏▎▍▌▋▊▉█")
HEADERS = ("Layer", "Type", "Output", "(HxWxC)", "Params", "Act. mem", "MACs", "FLOPs", "RF")


def rendered(report, width: int) -> list[str]:
    out = io.StringIO()
    render_report(report, Terminal(file=out, width=width, color=False))
    return out.getvalue().splitlines()


def table_rows(lines: list[str]) -> tuple[str, list[str]]:
    """The header line and the row lines (between the rule under the header and the caption)."""
    header = lines[1]
    end = next(i for i, line in enumerate(lines) if line.startswith(("MACs:", "FLOPs [")))
    return header, lines[3:end]


def words(line: str) -> list[str]:
    """The words of a row, without bars and percentages (which only wider tables show)."""
    return [w for w in line.split() if not set(w) <= BAR_GLYPHS and not w.endswith("%")]


@pytest.mark.parametrize("model", MODELS)
@pytest.mark.parametrize("convention", ["macs", "textbook"])
def test_wider_never_shows_less(model, convention):
    report = archcalc.analyze(model, convention=convention)
    tables = {width: rendered(report, width) for width in WIDTHS}
    for width, lines in tables.items():
        assert max(len(line) for line in lines) <= width, (width, max(lines, key=len))
    for narrow, wide in itertools.pairwise(WIDTHS):
        narrow_head, narrow_rows = table_rows(tables[narrow])
        wide_head, wide_rows = table_rows(tables[wide])
        for header in HEADERS:
            if header in narrow_head:
                assert header in wide_head, (narrow, wide, header)
        assert len(narrow_rows) == len(wide_rows)
        for small, large in zip(narrow_rows, wide_rows):
            large_words = words(large)
            for word in words(small):
                if word.endswith("…"):
                    assert any(w.startswith(word[:-1]) for w in large_words), (narrow, wide, word, large)
                else:
                    assert word in large_words, (narrow, wide, word, small, large)
        assert sum(line.count("…") for line in wide_rows) <= sum(line.count("…") for line in narrow_rows)


@pytest.mark.parametrize("model", ["vgg16", "resnet18", "resnet50"])
def test_from_120_columns_nothing_is_cut(model):
    """The reported faults: ``conv f64 ...`` cut and ``maxpo…`` names at 120 columns."""
    report = archcalc.analyze(model, convention="textbook")
    for width in (120, 160):
        lines = rendered(report, width)
        header, rows = table_rows(lines)
        assert "…" not in "\n".join(rows)
        assert "MACs" in header and "FLOPs [textbook]" in header
        conv = next(line for line in rows if line.split()[0] == "conv1")
        assert "f64" in conv


def test_types_grow_from_short_to_full():
    """At 80 columns a conv is ``conv 7x7/2``; wider, its other hyper-parameters follow."""
    report = archcalc.analyze("resnet18")
    narrow = next(line for line in table_rows(rendered(report, 80))[1] if line.startswith("conv1"))
    wide = next(line for line in table_rows(rendered(report, 160))[1] if line.startswith("conv1"))
    assert "conv 7x7/2 " in narrow and "f64" not in narrow
    assert "conv 7x7/2 f64 p3 no bias" in wide


def test_terminal_and_rich_console_print_the_same_text():
    report = archcalc.analyze("lenet5")
    console = Console(width=100, record=True, file=io.StringIO(), color_system=None)
    render_report(report, console)
    recorded = [line.rstrip() for line in console.export_text().splitlines()]
    assert recorded == [line.rstrip() for line in rendered(report, 100)]


def test_colours_only_on_a_terminal():
    report = archcalc.analyze("lenet5")
    plain, coloured = io.StringIO(), io.StringIO()
    render_report(report, Terminal(file=plain, width=80, color=False))
    render_report(report, Terminal(file=coloured, width=80, color=True))
    assert "\x1b[" not in plain.getvalue() and "\x1b[" in coloured.getvalue()
    no_colour = Terminal(file=io.StringIO(), width=80, environ={"NO_COLOR": "1", "FORCE_COLOR": "1"})
    render_report(report, no_colour)
    text = no_colour.file.getvalue()
    assert "\x1b[36m" not in text and "\x1b[1m" in text  # bold stays, colours go


def rendered_exact(report, width: int) -> list[str]:
    out = io.StringIO()
    render_report(report, Terminal(file=out, width=width, color=False), exact=True)
    return out.getvalue().splitlines()


def test_bars_give_way_before_names_and_types():
    """Full integers leave no room for bars at 80 columns: the bars go, names and types stay whole."""
    report = archcalc.analyze("resnet50", convention="textbook")
    header, rows = table_rows(rendered_exact(report, 80))
    assert "…" not in "\n".join(rows) and "3,211,264 B" in "\n".join(rows)
    assert not any(set(line) & BAR_GLYPHS for line in rows)
    header, rows = table_rows(rendered_exact(report, 160))
    assert any(set(line) & BAR_GLYPHS for line in rows)
