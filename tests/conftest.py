"""Shared test helpers: build graphs from inline YAML, run the CLI."""

from __future__ import annotations

import textwrap

import pytest
from typer.testing import CliRunner

from archcalc.analysis import analyze_graph
from archcalc.cli import app, normalize_argv
from archcalc.spec import load_spec_text


def spec_report(text: str, convention: str = "macs", batch: int = 1, dtype: str = "float32", **kwargs):
    """Report of an inline YAML spec (dedented)."""
    graph = load_spec_text(textwrap.dedent(text), "inline.yaml", **kwargs)
    return analyze_graph(graph, batch=batch, dtype=dtype, convention=convention)


@pytest.fixture
def run_cli():
    runner = CliRunner()

    def run(*args: str):
        return runner.invoke(app, normalize_argv(list(args)))

    return run
