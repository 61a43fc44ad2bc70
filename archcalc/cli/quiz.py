"""``archcalc quiz KIND [MODEL] --students N --seed S -o DIR``: exercise sheets and their keys.

Without ``-o`` the keys are printed (a preview); with it, ``DIR`` gets ``sheet-<k>.md``,
``key-<k>.md`` and ``key-<k>.json`` per variant and ``quiz.json`` (``--tex``, ``--pdf``,
``--html`` add the LaTeX, the PDFs and the self-checking web page). ``archcalc quiz
--list`` names the kinds.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text

from archcalc.cli.app import app, split_words, stdout_console, user_errors
from archcalc.errors import InputError


@app.command("quiz")
@user_errors
def quiz_command(
    kind: Annotated[Optional[str], typer.Argument(help="the kind of exercise (archcalc quiz --list)")] = None,
    model: Annotated[Optional[str], typer.Argument(help="table, rf, find-error: a zoo name or spec.yaml; "
                                                        "compare: the pair of designs")] = None,
    students: Annotated[int, typer.Option("--students", "-n", min=1, help="how many variants")] = 1,
    seed: Annotated[int, typer.Option("--seed", "-s", help="the seed: the same seed writes the same quiz")] = 0,
    roster: Annotated[Optional[Path], typer.Option("--roster", help="one variant per student named in this "
                                                   "file (one name a line, or a CSV with a name column)")] = None,
    output: Annotated[Optional[Path], typer.Option("--output", "-o", help="the folder to write (else the keys "
                                                   "are printed)")] = None,
    input: Annotated[Optional[str], typer.Option("--input", "-i", help="the input, H x W x C (fixes the drawn "
                                                 "size and channels)")] = None,
    convention: Annotated[str, typer.Option("--convention", "-c", help="the FLOPs convention: macs, flops, "
                                            "exact, textbook, fvcore, torch")] = "flops",
    dtype: Annotated[str, typer.Option("--dtype", help="float32, float16, ...")] = "float32",
    batch: Annotated[int, typer.Option("--batch", "-b", min=1, help="batch size")] = 1,
    set_: Annotated[Optional[list[str]], typer.Option("--set", help="fix a drawn value: name=value "
                                                      "(e.g. --set filters=10)")] = None,
    classic: Annotated[bool, typer.Option("--classic", help="the published exercise's numbers (CS231n, ...)")] = False,
    allow_floor: Annotated[bool, typer.Option("--allow-floor", help="allow sizes where (W - F + 2P)/S + 1 is "
                                              "not whole (PyTorch floors them)")] = False,
    style: Annotated[str, typer.Option("--style", help="table style: plain, cs231n, keras, eecs498")] = "plain",
    rows: Annotated[Optional[list[str]], typer.Option("--rows", help="table rows: kinds (conv, pool, linear) "
                                                      "or layer names, comma-separated")] = None,
    columns: Annotated[Optional[list[str]], typer.Option("--columns", help="table columns: shape, weights, "
                                                         "biases, params, memory, macs, flops, rf")] = None,
    errors: Annotated[int, typer.Option("--errors", help="find-error: how many planted mistakes")] = 3,
    tex: Annotated[bool, typer.Option("--tex", help="also write LaTeX sheets and keys")] = False,
    pdf: Annotated[bool, typer.Option("--pdf", help="also compile PDFs (needs a TeX engine)")] = False,
    html: Annotated[bool, typer.Option("--html", help="also write quiz.html, a page that checks answers")] = False,
    brief: Annotated[bool, typer.Option("--brief", help="without -o: print the keys without their "
                                        "derivations")] = False,
    list_: Annotated[bool, typer.Option("--list", help="name the kinds of exercise")] = False,
    force: Annotated[bool, typer.Option("--force", help="write into a folder that is not empty (an older "
                                        "quiz's files there are removed first)")] = False,
) -> None:
    """Write exercise sheets and their keys, one variant per student; `archcalc check` grades them."""
    from archcalc.quiz import QuizOptions, make_quiz, quiz_kinds

    if list_:
        render_kinds(quiz_kinds(), stdout_console())
        return
    if kind is None:
        raise InputError("which kind of exercise? e.g. archcalc quiz conv -o quiz/ (archcalc quiz --list names them)")
    if output is not None and str(output) == "-":
        output = None  # -o - : the keys on stdout, as without -o
    if output is not None and not force:
        from archcalc.quiz.folder import prepare_folder

        prepare_folder(output, create=False)  # refused before any work when it holds files
    names = None
    if roster is not None:
        from archcalc.quiz.roster import read_roster

        names = read_roster(roster)
    options = QuizOptions(
        model=model, input=input, convention=_convention(convention), dtype=dtype, batch=batch,
        fixed=_fixed_values(set_), classic=classic, allow_floor=allow_floor, style=style,
        rows=split_words(rows), columns=tuple(w.lower() for w in split_words(columns)), errors=errors,
    )
    _say_input_reading(options)
    known = quiz_kinds().get(kind)
    if model is not None and known is not None and not known.model:
        raise InputError(f"the '{kind}' exercise takes no MODEL (got {model!r}); `archcalc quiz --list`")
    variants = make_quiz(kind, options, students=students, seed=seed, roster=names)
    console = stdout_console()
    if output is None:
        if pdf or tex or html:
            raise InputError("--tex, --pdf and --html write files: give the folder with -o DIR")
        from archcalc.quiz.markdown import render

        console.print("\n".join(render(v, key=True, derivations=not brief) for v in variants), markup=False,
                      highlight=False, soft_wrap=True, end="")
        return
    from archcalc.quiz.folder import write_quiz

    written = write_quiz(variants, output, tex=tex, pdf=pdf, html=html, force=force)
    console.print(Text(f"{kind}: {len(variants)} variant{'s' if len(variants) != 1 else ''} (seed {seed}) "
                       f"written to {output}/ ({len(written)} files)"), soft_wrap=True)
    sheets = sorted(p.name for p in written if p.name.startswith("sheet-") and p.suffix == ".md")
    keys = sorted(p.name for p in written if p.name.startswith("key-") and p.suffix == ".md")
    console.print(Text(f"  sheets: {_span(sheets)}; keys: {_span(keys)} (+ .json)"), soft_wrap=True)
    extras = [f"{n} {suffix} files" for suffix in (".tex", ".pdf")
              if (n := sum(1 for p in written if p.suffix == suffix))]
    extras += [p.name for p in written if p.suffix == ".html"]
    if extras:
        console.print(Text(f"  also: {', '.join(extras)}"), soft_wrap=True)
    console.print(Text("  grade the returned sheets with: archcalc check FOLDER/"), soft_wrap=True)


def _say_input_reading(options) -> None:
    """The one line of archcalc.inputs.read_input where the input's order was a guess."""
    from archcalc.quiz.kinds import quiz_input

    text = quiz_input(options)
    if text is None or options.model:  # a model's input is read (and said) by its analysis
        return
    from archcalc.cli.app import stderr_console
    from archcalc.inputs import read_input

    note = read_input(text).note
    if note:
        stderr_console().print(Text(f"note: {note}", style="yellow"), soft_wrap=True)


def _span(names: list[str]) -> str:
    if not names:
        return ""
    return names[0] if len(names) == 1 else f"{names[0]} .. {names[-1]}"


def _convention(name: str) -> str:
    from archcalc.conventions import PRESETS

    if name.lower() not in PRESETS:
        raise InputError(f"unknown convention '{name}' (choose from {', '.join(PRESETS)})")
    return name.lower()


def _fixed_values(values: list[str] | None) -> dict:
    """``["filters=10", "kernel=5"]`` -> ``{"filters": 10, "kernel": 5}`` (numbers as numbers)."""
    fixed = {}
    for value in values or []:
        key, sep, text = value.partition("=")
        if not sep or not key.strip() or not text.strip():
            raise InputError(f"--set takes name=value, got {value!r} (e.g. --set filters=10)")
        text = text.strip()
        try:
            fixed[key.strip()] = int(text)
        except ValueError:
            fixed[key.strip()] = text
    return fixed


def render_kinds(kinds, console: Console) -> None:
    """The kinds, grouped, with what MODEL means for each."""
    table = Table(header_style="bold", pad_edge=False, box=None)
    table.add_column("kind", no_wrap=True)
    table.add_column("group", no_wrap=True)
    table.add_column("MODEL", no_wrap=True)
    table.add_column("what", overflow="fold")
    for kind in kinds.values():
        table.add_row(kind.name, kind.group, kind.model or "-", kind.summary)
    console.print(table)
    console.print(Text("archcalc quiz KIND [MODEL] --students N --seed S -o DIR; --classic gives a published "
                       "exercise's numbers, --set name=value fixes one"), soft_wrap=True)
