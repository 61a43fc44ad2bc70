"""Styled lines of text, and a light terminal that prints them.

The per-layer table is the main job's output; drawing it with rich's layout
engine cost more than the whole analysis, and importing rich's console more
than parsing the spec. Renderers of plain line-by-line output therefore build
:class:`Line` objects (runs of text, each with a style name) and hand them to
either sink:

* :class:`Terminal` writes them to a stream, with ANSI colours when the stream
  is a terminal, following the conventions rich follows (``NO_COLOR``,
  ``FORCE_COLOR``, ``TTY_COMPATIBLE``, ``TERM=dumb``, ``COLUMNS``);
* a rich ``Console`` (tests record output this way, and the ``--explain``
  view mixes the table with rich panels) gets them as rich ``Text``.

Formatting only; nothing here computes a number.
"""

from __future__ import annotations

import os
import sys
from typing import Any, Iterable, TextIO

from archcalc.render.terminal_text import visible_line

#: style name -> ANSI SGR parameters (the subset the renderers use; rich's meanings)
SGR = {
    "bold": "1",
    "dim": "2",
    "red": "31",
    "green": "32",
    "yellow": "33",
    "magenta": "35",
    "cyan": "36",
    "bold red": "1;31",
    "bold green": "1;32",
    "bold yellow": "1;33",
}
#: SGR parameters kept under NO_COLOR (weight, not colour)
_NOT_COLOUR = {"1", "2"}


class Line:
    """One line of output: runs of text, each with a style name ("" for none)."""

    __slots__ = ("runs",)

    def __init__(self, text: str = "", style: str = "") -> None:
        self.runs: list[tuple[str, str]] = [(text, style)] if text else []

    def append(self, text: str, style: str = "") -> "Line":
        if text:
            self.runs.append((text, style))
        return self

    @property
    def plain(self) -> str:
        return "".join(text for text, _ in self.runs)

    def __len__(self) -> int:
        return sum(len(text) for text, _ in self.runs)

    def rstrip(self) -> "Line":
        """Drop trailing spaces (the last runs may be padding)."""
        while self.runs:
            text, style = self.runs[-1]
            stripped = text.rstrip(" ")
            if stripped:
                self.runs[-1] = (stripped, style)
                break
            self.runs.pop()
        return self

    def __repr__(self) -> str:
        return f"Line({self.plain!r})"


def to_rich(lines: Iterable[Line]):
    """The lines as one rich ``Text`` (for rich consoles)."""
    from rich.text import Text

    text = Text()
    for index, line in enumerate(lines):
        if index:
            text.append("\n")
        for run, style in line.runs:
            text.append(visible_line(run), style=style or None)
    return text


def _env_width(environ) -> int | None:
    columns = environ.get("COLUMNS", "")
    return int(columns) if columns.isdigit() and int(columns) > 0 else None


class Terminal:
    """Prints :class:`Line` objects to ``file``: ANSI styles when ``color``, else plain text."""

    def __init__(self, file: TextIO | None = None, width: int | None = None, color: bool | None = None,
                 stderr: bool = False, environ=None) -> None:
        self._file = file
        self.stderr = stderr
        environ = os.environ if environ is None else environ
        terminal = self._is_terminal(environ)
        dumb = terminal and environ.get("TERM", "").lower() in ("dumb", "unknown")
        self.color = (terminal and not dumb) if color is None else color
        self.no_color = environ.get("NO_COLOR", "") != ""
        self.width = width or (80 if dumb else self._detect_width(environ))

    @property
    def file(self) -> TextIO:
        return self._file or (sys.stderr if self.stderr else sys.stdout)

    def _is_terminal(self, environ) -> bool:
        compatible = environ.get("TTY_COMPATIBLE", "")
        if compatible in ("0", "1"):
            return compatible == "1"
        force = environ.get("FORCE_COLOR")
        if force is not None:
            return force != ""
        try:
            return bool(self.file.isatty())
        except (AttributeError, ValueError):
            return False

    @staticmethod
    def _detect_width(environ) -> int:
        width = None
        for stream in (sys.stdin, sys.stdout, sys.stderr):
            try:
                width = os.get_terminal_size(stream.fileno()).columns
            except (AttributeError, ValueError, OSError):
                continue
            break
        return _env_width(environ) or width or 80

    def _styled(self, text: str, style: str) -> str:
        if not self.color or not style:
            return text
        codes = SGR.get(style, "")
        if self.no_color:
            codes = ";".join(c for c in codes.split(";") if c in _NOT_COLOUR)
        return f"\x1b[{codes}m{text}\x1b[0m" if codes else text

    def write_lines(self, lines: Iterable[Line]) -> None:
        if not self.color:  # plain text: a line's runs joined, then made visible at once (the same text:
            # visible_line replaces characters one by one)
            out = [visible_line("".join([text for text, _ in line.runs])) for line in lines]
            self.file.write("\n".join(out) + "\n")
            self.file.flush()
            return
        out = []
        for line in lines:
            runs: list[list[str]] = []
            for text, style in line.runs:  # neighbours of one style share one escape sequence
                text = visible_line(text)  # a file's control characters (a line's newline too): shown, never run
                if runs and runs[-1][1] == style:
                    runs[-1][0] += text
                else:
                    runs.append([text, style])
            out.append("".join(self._styled(text, style) for text, style in runs))
        self.file.write("\n".join(out) + "\n")
        self.file.flush()


def print_lines(target: Any, lines: list[Line]) -> None:
    """Print ``lines`` to a :class:`Terminal` or a rich ``Console``."""
    if isinstance(target, Terminal):
        target.write_lines(lines)
    else:
        target.print(to_rich(lines), no_wrap=True, overflow="ignore", crop=False)
