"""Text from files, made safe to print on a terminal.

Layer names, answers, file names and descriptions come from files other people
wrote. A name such as ``c\\x1b]0;PWN\\x07\\x1b[2J`` would retitle the window and
clear the teacher's screen during ``archcalc check``; a carriage return would
overwrite the line a verdict is on. :func:`visible` writes every control
character as its Python escape (``\\x1b``, ``\\r``, ``\\x00``), so the reader sees
what the file holds and the terminal runs nothing: the C0 controls (but the
newline and tab between lines and columns), DEL, the C1 controls (``\\x9b`` is
a one-byte CSI to some terminals), and the bidirectional overrides and
isolates that reorder what is shown ("Trojan Source", CVE-2021-42574).

Archcalc's own styles are added after this, by :class:`archcalc.render.styled.Terminal`
and by the rich console of :func:`safe_console`.
"""

from __future__ import annotations

import re
from typing import Any

#: C0 controls but newline and tab, DEL, C1 controls, bidi embeddings/overrides/isolates, line/paragraph separators
_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069\u2028\u2029]")
#: the same and newline and tab (text that must stay on one line: a table cell)
_CONTROL_ONE_LINE = re.compile("[\x00-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069\u2028\u2029]")
_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def _escape(match: re.Match) -> str:
    char = match.group()
    if char in _NAMED:
        return _NAMED[char]
    code = ord(char)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def visible(text: str) -> str:
    """``text`` with its control characters written as escapes (newline and tab kept).

    >>> visible("c\\x1b[2J\\x07\\r!")
    'c\\\\x1b[2J\\\\x07\\\\r!'
    """
    return _CONTROL.sub(_escape, text) if _CONTROL.search(text) else text


def visible_line(text: str) -> str:
    """:func:`visible`, with newlines and tabs escaped too (``a\\nb`` stays on one line)."""
    return _CONTROL_ONE_LINE.sub(_escape, text) if _CONTROL_ONE_LINE.search(text) else text


def safe_console(**options: Any):
    """A rich ``Console`` (``options`` as rich takes them) whose printed text passes through
    :func:`visible`; rich's own control codes and styles are kept (rich strips BEL and CR
    itself, but not ESC)."""
    from rich.console import Console
    from rich.segment import Segment

    class SafeConsole(Console):
        def _render_buffer(self, buffer):  # rich's one place where segments become text
            return super()._render_buffer(
                segment if segment.control else Segment(visible(segment.text), segment.style, segment.control)
                for segment in buffer)

    return SafeConsole(**options)


__all__ = ["safe_console", "visible", "visible_line"]
