"""pdflatex, the real consumer of archcalc's LaTeX (issue 20: "pdflatex for LaTeX where installed").

The hostile-output tests check the LaTeX's structure everywhere; where pdflatex is on the PATH
they also compile it (:func:`assert_compiles`), and where it is not, those tests are skipped
(:data:`needs_pdflatex`) and say so. The CI image installs no TeX, so there they are skipped.

An archcalc table is a fragment (``-f latex``: a ``table`` float or a bare ``tabular`` whose
first comment names the packages it needs); it is compiled inside a minimal ``article``
with those packages. A quiz's ``.tex`` is a complete document and is compiled as it is.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

#: skip a test where pdflatex is not on the PATH (decided once, when the tests are collected)
needs_pdflatex = pytest.mark.skipif(shutil.which("pdflatex") is None, reason="pdflatex is not installed")

PREAMBLE = "\\documentclass{article}\n\\usepackage[T1]{fontenc}\n\\usepackage{booktabs}\n\\usepackage{longtable}\n"


def document(text: str) -> str:
    """``text`` as a complete LaTeX document (a fragment wrapped in a minimal article)."""
    if any(line.startswith("\\documentclass") for line in text.splitlines()):
        return text
    return PREAMBLE + "\\begin{document}\n" + text + "\n\\end{document}\n"


def assert_compiles(text: str, folder: Path, name: str = "archcalc") -> Path:
    """Run pdflatex (the one on the PATH now) on ``text`` in ``folder``; fail with its error lines
    unless it exits 0 and writes a PDF. Returns the PDF."""
    engine = shutil.which("pdflatex")
    assert engine is not None, "pdflatex is not on the PATH (mark the test with needs_pdflatex)"
    folder.mkdir(parents=True, exist_ok=True)
    source = folder / f"{name}.tex"
    source.write_text(document(text), encoding="utf-8")
    done = subprocess.run([engine, "-interaction=nonstopmode", "-halt-on-error", "-no-shell-escape", source.name],
                          cwd=folder, capture_output=True, text=True, errors="replace", timeout=120)
    errors = [line for line in done.stdout.splitlines() if line.startswith("!")]
    pdf = folder / f"{name}.pdf"
    assert done.returncode == 0 and not errors and pdf.exists(), (done.returncode, errors or done.stdout[-2000:])
    return pdf
