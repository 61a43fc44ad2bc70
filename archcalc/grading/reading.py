"""Reading an answers file: recognise its format, hand it to the right reader.

Pasted Keras, torchsummary or torchinfo summaries are recognised by their look
(:mod:`archcalc.grading.summaries`); else YAML, CSV, a Markdown table or a
LaTeX ``tabular`` by the file's suffix or its look (:mod:`archcalc.grading.sheets`).
"""

from __future__ import annotations

import re
from pathlib import Path

from archcalc.errors import SourceLocation
from archcalc.grading.answers import AnswerError, AnswerSheet
from archcalc.grading.sheets import read_csv, read_latex, read_markdown, read_yaml
from archcalc.grading.summaries import read_summary

# -- dispatch ---------------------------------------------------------------------

ANSWER_SUFFIXES = (".yaml", ".yml", ".csv", ".md", ".markdown", ".txt", ".text", ".tsv", ".tex")
#: the largest answers file read, and its most lines: a sheet of the largest zoo network is some
#: 100 KB, a pasted summary of a 1,000-layer model some 3,000 lines and 300 KB; past these a file is
#: not a student's answers, and reading it would take minutes and gigabytes
MAX_ANSWER_BYTES = 2 * 1024 * 1024
MAX_ANSWER_LINES = 10_000


def _too_large(source: str) -> AnswerError:
    return AnswerError(f"the answers file is larger than {MAX_ANSWER_BYTES // (1024 * 1024)} MiB; "
                       "archcalc reads answer sheets up to that size", location=SourceLocation(source, None))


def _too_long(text: str, source: str) -> None:
    lines = text.count("\n") + 1
    if lines > MAX_ANSWER_LINES:
        raise AnswerError(f"the answers file has {lines:,} lines; archcalc reads answer sheets of up to "
                          f"{MAX_ANSWER_LINES:,} lines", location=SourceLocation(source, None))


def read_limited(stream, source: str) -> str:
    """At most :data:`MAX_ANSWER_BYTES` of a text stream (stdin); more is an AnswerError."""
    text = stream.read(MAX_ANSWER_BYTES + 1)
    if len(text) > MAX_ANSWER_BYTES:
        raise _too_large(source)
    return text


def read_answers_text(text: str, source: str = "<answers>", suffix: str = "") -> AnswerSheet:
    """Recognise the format and read it: pasted summaries first, then by suffix, then by look."""
    if not text.strip():
        raise AnswerError("the answers file is empty", location=SourceLocation(source, None))
    _too_long(text, source)
    sheet = read_summary(text, source)
    if sheet is not None:
        return sheet
    suffix = suffix.lower()
    if suffix == ".tex" or re.search(r"\\begin\{(?:tabular|tabularx|longtable)\*?\}", text):
        return read_latex(text, source)
    if suffix in (".yaml", ".yml"):
        return read_yaml(text, source)
    if suffix in (".csv", ".tsv"):
        return read_csv(text, source)
    if suffix in (".md", ".markdown"):
        return read_markdown(text, source)
    meaningful = [ln for ln in text.splitlines() if ln.strip() and not ln.lstrip().startswith("#")]
    if any(ln.lstrip().startswith("|") for ln in meaningful):
        return read_markdown(text, source)
    if meaningful and re.search(r"[,;\t]", meaningful[0]) and not re.match(r"^\s*[\w ]+:\s", meaningful[0]):
        return read_csv(text, source)
    if not meaningful:
        raise AnswerError("the answers file is empty", location=SourceLocation(source, None))
    return read_yaml(text, source)


def read_answers(path: str | Path) -> AnswerSheet:
    """Read an answers file (YAML, CSV, Markdown, or a pasted summary in any text file)."""
    path = Path(path)
    try:
        with open(path, "rb") as handle:
            data = handle.read(MAX_ANSWER_BYTES + 1)
        if len(data) > MAX_ANSWER_BYTES:
            raise _too_large(str(path))
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise AnswerError("the answers file is not UTF-8 text", location=SourceLocation(str(path), None)) from None
    except OSError as error:
        raise AnswerError(f"cannot read the answers: {error.strerror}",
                          location=SourceLocation(str(path), None)) from None
    return read_answers_text(text, str(path), path.suffix)
