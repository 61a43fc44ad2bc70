"""``archcalc quiz``: exercise sheets and their keys, one variant per student, graded by ``archcalc check``.

    >>> from archcalc.quiz import QuizOptions, make_quiz
    >>> [variant] = make_quiz("conv", QuizOptions(classic=True))
    >>> variant.rows[0].answers["params"].text
    '760'

* :mod:`~archcalc.quiz.kinds`: the kinds of exercise and how a variant is built;
* :mod:`~archcalc.quiz.templates`: the exercise templates (``exercises/*.yaml``, data);
* :mod:`~archcalc.quiz.draws`: seeded, reproducible draws of a variant's numbers;
* :mod:`~archcalc.quiz.networks`: a variant's network, drawn or chosen, analysed by archcalc;
* :mod:`~archcalc.quiz.answers`: the key's answers and derivations, from the analysis;
* :mod:`~archcalc.quiz.styles`: table styles (CS231n, Keras, EECS 498) and how values are written;
* :mod:`~archcalc.quiz.mistakes`: mistakes planted in "find the error" tables;
* :mod:`~archcalc.quiz.markdown`, :mod:`~archcalc.quiz.latex`, :mod:`~archcalc.quiz.records`,
  :mod:`~archcalc.quiz.webpage`: Markdown, LaTeX/PDF, JSON and the self-checking web page;
* :mod:`~archcalc.quiz.folder`: writing a quiz to a folder.

The library never prints; ``archcalc quiz`` renders.
"""

from __future__ import annotations

from archcalc.errors import InputError
from archcalc.quiz.kinds import Kind, QuizOptions, build_variant, quiz_kinds
from archcalc.quiz.sheet import Answer, Column, Planted, Row, Variant


#: the most variants one quiz writes (1,000 students of ``quiz table vgg16`` write 35 MB of keys in
#: seconds; benchmarks/bench_hostile_sizes.py measures it)
MAX_STUDENTS = 1000


def make_quiz(
    kind: str,
    options: QuizOptions | None = None,
    *,
    students: int = 1,
    seed: int = 0,
    roster: list[str] | None = None,
) -> list[Variant]:
    """One variant per student: ``students`` of them, or one per name of ``roster``.

    Variant ``k`` depends only on ``kind``, ``seed``, ``k`` and the options, so the same
    command writes the same files, and variant 7 is the same for 10 or 30 students."""
    options = options or QuizOptions()
    count = len(roster) if roster else students
    if count > MAX_STUDENTS:
        given = f"the roster names {count:,} students" if roster else f"--students {count:,}"
        raise InputError(f"{given}: a quiz has at most {MAX_STUDENTS:,} variants",
                         hint="split the class into several quizzes (different --seed)")
    names: list[str | None] = list(roster) if roster else [None] * students
    if not names:
        raise InputError("a quiz needs at least one student (--students N or --roster FILE)")
    if options.errors < 1:
        raise InputError("--errors must be at least 1")
    return [build_variant(kind, number, seed, options, name) for number, name in enumerate(names, start=1)]


__all__ = ["MAX_STUDENTS", "Answer", "Column", "Kind", "Planted", "QuizOptions", "Row", "Variant", "build_variant", "make_quiz",
           "quiz_kinds"]
