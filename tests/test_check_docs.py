"""The answer examples of docs/check.md are real: each grades as all right against LeNet-5."""

import re
from pathlib import Path

import pytest

import archcalc
from archcalc.grading import grade_answers, grade_sheet, read_answers_text

DOC = (Path(__file__).resolve().parent.parent / "docs" / "check.md").read_text()
LENET = str(Path(__file__).parent / "data" / "answers" / "specs" / "lenet5.yaml")


@pytest.mark.parametrize(("language", "suffix"), [("yaml", ".yaml"), ("csv", ".csv"), ("markdown", ".md"),
                                                  ("latex", ".tex")])
def test_answer_examples_are_right(language, suffix):
    block = re.search(rf"```{language}\n(.*?)```", DOC, re.DOTALL).group(1)
    result = grade_sheet(read_answers_text(block, f"check.md ({language})", suffix), archcalc.analyze(LENET))
    assert result.all_right and result.right > 0 and result.not_checkable == 0


def test_python_example():
    report = archcalc.analyze("vgg16", "224x224x3")
    assert grade_answers(report, {"shape": "224x224x64", "params": "1,792"}, "macs",
                         layer="features.stage1.conv1").all_right
