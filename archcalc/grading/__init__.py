"""Grading answers: exercise tables and pasted summaries, cell by cell, against a Report.

    >>> import archcalc
    >>> from archcalc.grading import grade_answers
    >>> report = archcalc.analyze("vgg16", "224x224x3")
    >>> grade_answers(report, {"params": "1,792"}, layer="features.stage1.conv1").all_right
    True

* :mod:`~archcalc.grading.values`: numbers and shapes as people write them, at their precision;
* :mod:`~archcalc.grading.answers`: the answer model (sheets, rows, cells);
* :mod:`~archcalc.grading.sheets`: YAML, CSV and Markdown answer tables;
* :mod:`~archcalc.grading.summaries`: pasted Keras, torchsummary and torchinfo summaries;
* :mod:`~archcalc.grading.reading`: which reader an answers file needs;
* :mod:`~archcalc.grading.matching`: which layer each row is about;
* :mod:`~archcalc.grading.truths`: true values and the other ways of counting them;
* :mod:`~archcalc.grading.cells`: one cell right, wrong or not checkable;
* :mod:`~archcalc.grading.grade`: rows, totals and whole sheets;
* :mod:`~archcalc.grading.verdicts`: the verdicts, tallies and scores;
* :mod:`~archcalc.grading.exports`: JSON, CSV and Markdown of the verdicts.

The library never prints; ``archcalc check`` renders.
"""

from archcalc.grading.answers import AnswerCell, AnswerError, AnswerRow, AnswerSheet
from archcalc.grading.grade import grade_answers, grade_sheet, parse_answer_options
from archcalc.grading.reading import read_answers, read_answers_text
from archcalc.grading.values import (
    WrittenNumber,
    WrittenShape,
    parse_number,
    parse_shape,
)
from archcalc.grading.verdicts import CellVerdict, GradeResult, RowGrade, Status

__all__ = [
    "AnswerCell",
    "AnswerError",
    "AnswerRow",
    "AnswerSheet",
    "CellVerdict",
    "GradeResult",
    "RowGrade",
    "Status",
    "WrittenNumber",
    "WrittenShape",
    "grade_answers",
    "grade_sheet",
    "parse_answer_options",
    "parse_number",
    "parse_shape",
    "read_answers",
    "read_answers_text",
]
