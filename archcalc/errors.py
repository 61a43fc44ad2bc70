"""Errors and warnings a user can cause, with where they come from.

Every error a user can trigger (a bad spec, a layer that does not fit, a bad
``--input``) is an :class:`ArchcalcError`. It carries the file, the line and
the layer path, so the CLI can print it in one or two lines and exit with
status 2 instead of showing a traceback.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

#: the most characters of one value an error quotes (a value from a file may be megabytes long)
QUOTED_LIMIT = 80
#: the most characters of one line of an error message (room for a long file path and the reason)
LINE_LIMIT = 240
_QUOTED = re.compile(r"'[^'\n]{%d,}'|\"[^\"\n]{%d,}\"" % (QUOTED_LIMIT, QUOTED_LIMIT))


def cut(text: str, limit: int = QUOTED_LIMIT) -> str:
    """``text`` shortened to about ``limit`` characters: its start, ``...``, and how much was cut."""
    if len(text) <= limit:
        return text
    keep = max(limit - 30, 10)
    return f"{text[:keep]}... ({len(text) - keep:,} more characters)"


def cut_values(message: str) -> str:
    """An error message whose quoted values (``'...'``, ``"..."``) are cut to about
    :data:`QUOTED_LIMIT` characters and whose lines are cut to :data:`LINE_LIMIT` (an unquoted
    value, such as a list, is long only in the middle of a line)."""
    if len(message) <= QUOTED_LIMIT:
        return message
    message = _QUOTED.sub(lambda m: m.group()[0] + cut(m.group()[1:-1]) + m.group()[0], message)
    lines = []
    for line in message.split("\n"):
        if len(line) > LINE_LIMIT:
            head, tail = line[:160], line[-40:]
            line = f"{head}... ({len(line) - len(head) - len(tail):,} characters cut) ...{tail}"
        lines.append(line)
    return "\n".join(lines)


@dataclass(frozen=True)
class SourceLocation:
    """Where a layer was written: a file and a 1-based line (either may be unknown)."""

    file: str | None = None
    line: int | None = None

    def __str__(self) -> str:
        if self.file and self.line:
            return f"{self.file}:{self.line}"
        if self.file:
            return self.file
        if self.line:
            return f"line {self.line}"
        return ""


class ArchcalcError(Exception):
    """An error the user can fix: names the file, line, layer and the numbers involved."""

    def __init__(
        self,
        message: str,
        *,
        location: SourceLocation | None = None,
        layer: str | None = None,
        op: str | None = None,
        hint: str | None = None,
    ) -> None:
        message = cut_values(message)
        super().__init__(message)
        self.message = message
        self.location = location
        self.layer = cut(layer, QUOTED_LIMIT) if layer else layer
        self.op = op
        self.hint = cut_values(hint) if hint else hint

    def with_context(
        self,
        *,
        location: SourceLocation | None = None,
        layer: str | None = None,
        op: str | None = None,
    ) -> "ArchcalcError":
        """Fill in context the raiser did not know (keeps what is already set)."""
        if self.location is None or not str(self.location):
            self.location = location
        elif (location is not None and self.location.line is None and location.line is not None
              and self.location.file in (None, location.file)):
            self.location = location  # the same file, now with the line
        self.layer = self.layer or layer
        self.op = self.op or op
        return self

    def __str__(self) -> str:
        parts = []
        if self.location is not None and str(self.location):
            parts.append(str(self.location))
        if self.layer:
            parts.append(f"layer '{self.layer}'" + (f" ({self.op})" if self.op else ""))
        prefix = ": ".join(parts)
        text = f"{prefix}: {self.message}" if prefix else self.message
        if self.hint:
            text += f"\n  hint: {self.hint}"
        return text


class SpecError(ArchcalcError):
    """The YAML spec cannot be read: syntax, unknown keys, missing arguments."""


class LayerError(ArchcalcError):
    """A layer cannot be applied to its input: kernel too large, channels mismatch, ..."""


class NeedsImageError(LayerError):
    """A layer that slides over H x W (conv, pool) got a tensor without them."""


class InputError(ArchcalcError):
    """A command-line value (``--input``, ``--dtype``, ...) cannot be understood."""


@dataclass(frozen=True)
class AnalysisWarning:
    """Something worth telling but not fatal (non-integer output size, unaligned branches).

    ``intended``: the spec says so on purpose (a zoo network that floors a
    non-integer output size by design, see ``floors:`` in docs/spec-format.md);
    such warnings are kept, but printed only on request.
    """

    message: str
    layer: str | None = None
    location: SourceLocation | None = None
    kind: str = "warning"
    intended: bool = False

    def __str__(self) -> str:
        parts = []
        if self.location is not None and str(self.location):
            parts.append(str(self.location))
        if self.layer:
            parts.append(f"layer '{self.layer}'")
        prefix = ": ".join(parts)
        return f"{prefix}: {self.message}" if prefix else self.message
