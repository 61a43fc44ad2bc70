"""The answer model: what a student or a pasted summary claims, before any grading.

An :class:`AnswerSheet` holds one :class:`AnswerRow` per layer (or per
question) and the totals, each a list of :class:`AnswerCell` (a quantity and
the text as written). Readers: :mod:`archcalc.grading.sheets` (YAML, CSV,
Markdown tables) and :mod:`archcalc.grading.summaries` (pasted Keras,
torchsummary, torchinfo); :mod:`archcalc.grading.reading` picks one.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from archcalc.errors import InputError

#: quantities of a layer row (also the names ``grade_answers`` takes)
ROW_QUANTITIES = ("shape", "weights", "biases", "params", "memory", "macs", "flops", "rf")
#: quantities of the totals: the row ones plus whole-network numbers
TOTAL_QUANTITIES = ROW_QUANTITIES + (
    "trainable_params",
    "non_trainable_params",
    "peak_memory",
    "param_memory",
    "input_memory",
    "pass_memory",
    "total_memory",
)
META_KEYS = ("model", "input", "convention", "batch", "dtype")


class AnswerError(InputError):
    """An answers file cannot be read (the CLI exits with status 2)."""


@dataclass(frozen=True)
class AnswerCell:
    """One answer: a quantity, the text as written, the column's unit (``MB`` in ``Memory (MB)``)."""

    quantity: str
    text: str
    unit: str = ""
    line: int | None = None


@dataclass(frozen=True)
class AnswerRow:
    """One row of an answer table: how it names the layer and its cells."""

    label: str
    name: str | None
    kind: str | None
    cells: tuple[AnswerCell, ...]
    line: int | None = None


@dataclass(frozen=True)
class AnswerSheet:
    """A whole answer: rows, totals and what the file declares about itself.

    ``tool`` is set for pasted summaries (``keras``, ``torchsummary``,
    ``torchinfo``): their totals follow that tool's definitions.
    """

    source: str
    format: str
    rows: tuple[AnswerRow, ...]
    totals: tuple[AnswerCell, ...] = ()
    convention: str | None = None
    convention_line: int | None = None
    model: str | None = None
    input: str | None = None
    batch: int | None = None
    dtype: str | None = None
    tool: str | None = None
    ignored_columns: tuple[str, ...] = ()
    notes: tuple[str, ...] = field(default=())

    @property
    def cell_count(self) -> int:
        return sum(len(r.cells) for r in self.rows) + len(self.totals)


