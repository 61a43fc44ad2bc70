"""The YAML path never imports torch, fvcore, pandas or matplotlib (speed is a feature); the
main job on a zoo model imports neither yaml (its spec is precompiled) nor rich's console
(the table prints through a light terminal)."""

from __future__ import annotations

import subprocess
import sys

CHECK = """
import sys
from archcalc.cli import main
try:
    main({argv!r})
except SystemExit as exit:
    assert exit.code in (0, None), exit.code
heavy = sorted(m for m in ("torch", "fvcore", "pandas", "matplotlib", "numpy", "yaml", "rich.console",
                           "jinja2") if m in sys.modules)
print("HEAVY=" + ",".join(heavy))
"""


def heavy_modules(argv: list[str]) -> list[str]:
    result = subprocess.run(
        [sys.executable, "-c", CHECK.format(argv=argv)], capture_output=True, text=True, check=True
    )
    line = [ln for ln in result.stdout.splitlines() if ln.startswith("HEAVY=")][-1]
    return [m for m in line[len("HEAVY="):].split(",") if m]


def test_table_path_imports_nothing_heavy():
    assert heavy_modules(["vgg16", "--input", "224x224x3"]) == []


def test_json_path_imports_nothing_heavy():
    assert heavy_modules(["resnet50", "--format", "json"]) == []


def test_a_spec_file_is_parsed_with_yaml_and_nothing_heavier(tmp_path):
    path = tmp_path / "tiny.yaml"
    path.write_text("input: 8x8x1\nlayers: [conv: {filters: 2, kernel: 3}]\n")
    assert heavy_modules([str(path)]) == ["yaml"]
