"""LaTeX sheets and keys (``--tex``), and PDFs (``--pdf``) where a TeX engine is installed.

The sheet is the Markdown sheet's content for paper: the header, the exercise, and the table
with blank cells to fill in by hand (for "find the error", the table's values); the key adds
the answers and their derivations. Only ``article`` and ``longtable`` are used, which every
TeX distribution has.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from archcalc.errors import InputError
from archcalc.quiz.markdown import header_lines
from archcalc.quiz.sheet import Variant
from archcalc.render.explain import equation
from archcalc.render.terminal_text import visible_line

#: TeX engines tried for --pdf, in order
ENGINES = ("pdflatex", "xelatex", "lualatex", "tectonic")
_SPECIAL = {"\\": r"\textbackslash{}", "{": r"\{", "}": r"\}", "$": r"\$", "&": r"\&", "#": r"\#",
            "^": r"\^{}", "_": r"\_", "%": r"\%", "~": r"\textasciitilde{}"}


def escape(text: str) -> str:
    """Text with LaTeX's special characters escaped; control characters and newlines (a blank
    line ends a paragraph, and a table cell with one does not compile) written as their escapes."""
    return "".join(_SPECIAL.get(char, char) for char in visible_line(str(text)))


def _code(text: str) -> str:
    """Monospaced text that may break after commas (a long one-line spec)."""
    return r"\texttt{" + escape(text).replace(", ", r", \allowbreak{}") + "}"


def _statement(text: str) -> str:
    paragraphs = []
    for block in text.split("\n\n"):
        lines = block.splitlines()
        if lines and all(line[:1].isdigit() for line in lines):
            items = "\n".join(r"  \item " + _inline(line.split(". ", 1)[-1]) for line in lines)
            paragraphs.append(r"\begin{enumerate}" + "\n" + items + "\n" + r"\end{enumerate}")
        elif lines and lines[0].startswith("- "):
            entries = " ".join(line.strip() for line in lines).split("- ")[1:]
            items = "\n".join(r"  \item " + _inline(entry.strip()) for entry in entries)
            paragraphs.append(r"\begin{itemize}" + "\n" + items + "\n" + r"\end{itemize}")
        else:
            paragraphs.append(_inline(" ".join(lines)))
    return "\n\n".join(paragraphs)


def _inline(text: str) -> str:
    """Markdown ``code`` spans as \\texttt, the rest escaped."""
    parts = text.split("`")
    return "".join(_code(p) if i % 2 else escape(p) for i, p in enumerate(parts))


def render(variant: Variant, key: bool) -> str:
    """The .tex of the sheet (``key=False``) or the key."""
    what = "key" if key else "variant"
    lines = [
        r"\documentclass[10pt]{article}",
        r"\usepackage[margin=1.8cm,landscape]{geometry}" if len(variant.columns) > 4 else
        r"\usepackage[margin=1.8cm]{geometry}",
        r"\usepackage[T1]{fontenc}",
        r"\usepackage{longtable}",
        r"\setlength{\parindent}{0pt}",
        r"\setlength{\parskip}{0.6em}",
        r"\begin{document}",
        r"\section*{" + escape(f"{variant.title}: {what} {variant.number}") + "}",
        r"\begin{itemize}",
    ]
    for line in header_lines(variant):
        label, _, value = line.removeprefix("- ").partition(": ")
        shown = _code(value.strip("`")) if label == "Model" else escape(value)
        lines.append(r"  \item " + escape(label) + ": " + shown)
    lines += [r"\end{itemize}", r"\subsection*{Exercise}", _statement(variant.statement)]
    if variant.instructions:
        lines.append(r"\begin{itemize}")
        lines += [r"  \item " + _inline(text) for text in variant.instructions]
        lines.append(r"\end{itemize}")
    lines += _table(variant, key)
    if key:
        lines += _key_sections(variant)
    lines.append(r"\end{document}")
    return "\n".join(lines) + "\n"


def _table(variant: Variant, key: bool) -> list[str]:
    spec = "ll" + "r" * len(variant.columns)
    headings = ["Layer", "Type"] + [c.heading for c in variant.columns]
    lines = [r"{\small", r"\begin{longtable}{" + spec + "}", r"\hline",
             " & ".join(r"\textbf{" + escape(h) + "}" for h in headings) + r" \\", r"\hline", r"\endhead"]
    for row in variant.rows:
        cells = [escape(row.label), escape(row.kind)]
        for column in variant.columns:
            answer = row.answers.get(column.quantity)
            if answer is None:
                cells.append("")
            elif key:
                cells.append(escape(answer.text))
            else:
                cells.append(escape(answer.shown) if answer.shown is not None else r"\rule{0pt}{1.6em}")
        lines.append(" & ".join(cells) + r" \\ \hline")
    lines += [r"\end{longtable}", "}"]
    return lines


def _key_sections(variant: Variant) -> list[str]:
    lines = []
    headings = {c.quantity: c.heading for c in variant.columns}
    if variant.planted:
        lines += [r"\subsection*{The planted errors}", r"\begin{itemize}"]
        for p in variant.planted:
            lines.append(r"  \item " + escape(f"{p.row}, {headings[p.quantity]}: the table says {p.written}, right is "
                                              f"{p.right} ({p.explanation})"))
        lines.append(r"\end{itemize}")
    if variant.notes:
        lines += [r"\subsection*{Notes}", r"\begin{itemize}"] + [r"  \item " + escape(n) for n in variant.notes]
        lines.append(r"\end{itemize}")
    lines.append(r"\subsection*{Derivations}")
    for row in variant.rows:
        if not row.answers:
            continue
        lines += [r"\paragraph{" + escape(row.label) + "}", r"\begin{itemize}"]
        for answer in variant.row_answers(row):
            lines.append(r"  \item " + escape(headings[answer.quantity]) + r" = \textbf{" + escape(answer.text) + "}")
            if answer.steps:
                lines.append(r"  \begin{itemize}")
                for step in answer.steps:
                    lines.append(r"    \item " + escape(step.quantity) + ": " + _code(equation(step)))
                lines.append(r"  \end{itemize}")
        lines.append(r"\end{itemize}")
    return lines


def tex_engine() -> str | None:
    """The first TeX engine on PATH, or None."""
    return next((engine for engine in ENGINES if shutil.which(engine)), None)


def require_engine() -> str:
    """The TeX engine --pdf will use, or an InputError saying none is installed."""
    engine = tex_engine()
    if engine is None:
        raise InputError(f"--pdf needs a TeX engine ({', '.join(ENGINES)}) and none is installed",
                         hint="--tex writes the .tex files; compile them where TeX is installed")
    return engine


def compile_pdf(tex: Path, engine: str) -> Path:
    """``tex`` compiled to a PDF beside it (InputError naming the log when the engine fails)."""
    command = [engine, tex.name] if engine == "tectonic" else [engine, "-interaction=nonstopmode", "-halt-on-error",
                                                               tex.name]
    result = subprocess.run(command, cwd=tex.parent, capture_output=True, text=True, timeout=300, check=False)
    pdf = tex.with_suffix(".pdf")
    if result.returncode != 0 or not pdf.is_file():
        log = tex.with_suffix(".log")
        raise InputError(f"{engine} could not compile {tex} (exit {result.returncode}); see {log}")
    for suffix in (".aux", ".log"):
        tex.with_suffix(suffix).unlink(missing_ok=True)
    return pdf


__all__ = ["ENGINES", "compile_pdf", "escape", "render", "require_engine", "tex_engine"]
