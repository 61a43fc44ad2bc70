"""``archcalc check ANSWERS --model MODEL``: grade answer tables and pasted summaries.

Exit status: 0 when every checkable cell is right, 1 when one is wrong, 2 when
the answers (or the model) cannot be read. A folder of answers (or several
files) gives one row per file (CSV by default) and a class summary (on stderr,
so that stdout stays the per-file table; after it with ``--format table``; to a
file with ``--summary FILE``); a file that cannot be read gets its error in its
row and makes the exit status 2.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Optional

import typer

from archcalc.cli.app import (
    ArgOpt,
    ExcludeOpt,
    IncludeOpt,
    InputOpt,
    LayoutOpt,
    OutputOpt,
    StrictOpt,
    VerboseOpt,
    app,
    infer_format,
    parse_args,
    print_warnings,
    split_words,
    say_written,
    stderr_terminal,
    stdout_terminal,
    user_errors,
    write_output,
)
from archcalc.errors import ArchcalcError, InputError

@app.command("check")
@user_errors
def check_command(
    answers: Annotated[list[str], typer.Argument(help="answers: YAML/CSV/Markdown table, a pasted Keras/torchsummary/"
                                                      "torchinfo summary, several files or a folder of them, "
                                                      "or - for stdin")],
    model: Annotated[Optional[str], typer.Option("--model", "-m", help="zoo name, spec.yaml or file.py:Class "
                                                 "(default: the answers' model: line)")] = None,
    input: InputOpt = None,
    batch: Annotated[Optional[int], typer.Option("--batch", "-b", help="batch size (default: the answers' or 1)",
                                                 min=1)] = None,
    dtype: Annotated[Optional[str], typer.Option("--dtype", help="float32, float16, ... (default: the answers' "
                                                 "or float32)")] = None,
    convention: Annotated[Optional[str], typer.Option("--convention", "-c", help="expected FLOP convention "
                                                      "(default: the one the answers declare, else macs)")] = None,
    include: IncludeOpt = None,
    exclude: ExcludeOpt = None,
    format: Annotated[Optional[str], typer.Option("--format", "-f", help="table, json, csv, md")] = None,
    output: OutputOpt = None,
    layout: LayoutOpt = None,
    strict: StrictOpt = False,
    arg: ArgOpt = None,
    verbose: VerboseOpt = False,
    summary: Annotated[Optional[Path], typer.Option("--summary", help="several files or a folder: write the class "
                                                    "summary to FILE (.md, .csv, .json)")] = None,
    keys: Annotated[Optional[Path], typer.Option("--keys", help="the quiz folder (archcalc quiz -o): grade each "
                                                 "sheet against its issued key")] = None,
    roster: Annotated[Optional[Path], typer.Option("--roster", help="the class list: name who returned no sheet "
                                                   "(and ID, email columns for the gradebook)")] = None,
    gradebook: Annotated[Optional[Path], typer.Option("--gradebook", help="write one CSV row per student "
                                                      "(Canvas and Moodle grade import)")] = None,
    feedback: Annotated[Optional[Path], typer.Option("--feedback", help="write one feedback file per student "
                                                     "into this folder")] = None,
) -> None:
    """Grade ANSWERS against MODEL cell by cell, naming the convention a FLOP answer used.

    Exit status 0 when every checkable cell is right, 1 when one is wrong.

    \b
    Examples:
      archcalc check answers.csv --model lenet5
      archcalc check keras_summary.txt --model vgg16 --input 224x224x3
      archcalc check submissions/ --model lenet5 -o grades.csv
      archcalc check returned/ --keys quiz/ --gradebook grades.csv
    """
    fmt = _format(format, output)
    options = {"model": model, "input": input, "batch": batch, "dtype": dtype, "convention": convention,
               "include": split_words(include), "exclude": split_words(exclude), "layout": layout,
               "strict": strict, "args": parse_args(arg)}
    folder_format = fmt if format or output else "csv"
    day = {"keys": keys, "roster": roster, "gradebook": gradebook, "feedback": feedback}
    if any(day.values()) and len(answers) == 1 and not Path(answers[0]).is_dir():
        day_files = [Path(answers[0])]
        if not day_files[0].is_file():
            raise InputError(f"no such answers file or folder: {answers[0]}")
        raise typer.Exit(_check_files(day_files, options, folder_format, output, summary, day))
    if len(answers) > 1:
        missing = [a for a in answers if not Path(a).is_file()]
        if missing:
            raise InputError(f"no such answers file: {missing[0]}")
        _refuse_inputs(output, summary, answers)
        raise typer.Exit(_check_files([Path(a) for a in answers], options, folder_format, output, summary, day))
    answers = answers[0]
    path = Path(answers)
    if answers != "-" and path.is_dir():
        raise typer.Exit(_check_folder(path, options, folder_format, output, summary, day))
    from archcalc.grading import read_answers, read_answers_text

    _refuse_inputs(output, summary, [answers])
    if answers == "-":
        from archcalc.grading.reading import read_limited

        sheet = read_answers_text(read_limited(sys.stdin, "<stdin>"), "<stdin>")
    elif not path.exists():
        raise InputError(f"no such answers file or folder: {answers}")
    else:
        sheet = read_answers(path)
    result, report = _grade(sheet, options, {})
    print_warnings(report, stderr_terminal(), verbose)
    _emit(result, fmt, output)
    raise typer.Exit(1 if result.wrong else 0)


def _refuse_inputs(output: Path | None, summary: Path | None, inputs) -> None:
    """-o and --summary never write over an answers file (the student's work)."""
    from archcalc.output_files import refuse_inputs

    refuse_inputs(output, inputs)
    refuse_inputs(summary, inputs, "--summary")


def _format(fmt: str | None, output: Path | None) -> str:
    from archcalc.grading.exports import CHECK_FORMATS
    from archcalc.render.formats import EXTENSIONS

    extensions = {suffix: name for suffix, name in EXTENSIONS.items() if name in CHECK_FORMATS}
    return infer_format(fmt, output, CHECK_FORMATS, extensions)


def _grade(sheet, options: dict, reports: dict):
    """Analyse the model (cached per model, input, batch, dtype) and grade the sheet."""
    from archcalc.api import analyze
    from archcalc.grading import AnswerError, grade_sheet
    from archcalc.grading.truths import parse_convention

    if sheet.cell_count == 0:
        raise AnswerError(f"no answers found in {sheet.source} (read as {sheet.format})",
                          hint="a table needs columns such as shape, params, flops; see docs/check.md")
    model = options["model"] or _declared_model(sheet)
    if not model:
        raise InputError(f"{sheet.source}: which model? give --model (a zoo name, spec.yaml or file.py:Class) "
                         "or a model: line in the answers")
    convention = None
    if options["convention"] or options["include"] or options["exclude"]:
        base = parse_convention(options["convention"] or sheet.convention or "macs")
        convention = base.with_switches(options["include"], options["exclude"])
    analysed_under = convention or (sheet.convention if sheet.convention else "macs")
    key = (model, options["input"] or sheet.input, options["batch"] or sheet.batch or 1,
           options["dtype"] or sheet.dtype or "float32", str(analysed_under))
    if key not in reports:
        try:
            under = parse_convention(analysed_under)
        except ArchcalcError:
            under = parse_convention("macs")  # grade_sheet reports the declared one with its line
        reports[key] = analyze(model, key[1], batch=key[2], dtype=key[3], convention=under,
                               layout=options["layout"], strict=options["strict"], args=options["args"])
    report = reports[key]
    return grade_sheet(sheet, report, convention), report


def _declared_model(sheet) -> str | None:
    """The answers' ``model:``; a relative spec path is looked up next to the answers file first."""
    if not sheet.model:
        return None
    beside = Path(sheet.source).parent / sheet.model
    if sheet.model.endswith((".yaml", ".yml")) and not Path(sheet.model).exists() and beside.is_file():
        return str(beside)
    return sheet.model


def _emit(result, fmt: str, output: Path | None) -> None:
    if fmt == "table":
        from archcalc.render.styled import Terminal

        if output is not None:
            from archcalc.output_files import open_for_writing

            with open_for_writing(output) as handle:
                render_result(result, Terminal(file=handle, width=160, color=False))
            say_written(output, "table")
            return
        render_result(result, stdout_terminal())
        return
    from archcalc.grading.exports import CHECK_EXPORTERS

    write_output(CHECK_EXPORTERS[fmt](result), output, what=fmt)


def _check_folder(folder: Path, options: dict, fmt: str, output: Path | None, summary: Path | None = None,
                  day: dict | None = None) -> int:
    from archcalc.grading.own_outputs import written_by_check
    from archcalc.grading.reading import ANSWER_SUFFIXES
    from archcalc.render.styled import Line

    try:
        entries = sorted(p for p in folder.iterdir() if p.is_file() and not p.name.startswith("."))
    except OSError as error:
        raise InputError(f"cannot read the folder {folder}: {error.strerror or error}") from None
    found = [p for p in entries if p.suffix.lower() in ANSWER_SUFFIXES]
    skipped = [p for p in entries if p.suffix.lower() not in ANSWER_SUFFIXES]
    for path in skipped:  # said, not silently left out: a scanned sheet is graded by hand
        why = ("a scan or a PDF is not read: transcribe it or grade it by hand"
               if path.suffix.lower() in (".pdf", ".png", ".jpg", ".jpeg", ".heic", ".tif", ".tiff")
               else f"not an answers file ({', '.join(ANSWER_SUFFIXES)})")
        stderr_terminal().write_lines([Line(f"skipped: {path.name} ({why})", "yellow")])
    files = [p for p in found if not written_by_check(p)]  # last run's grades.csv is no student's sheet
    if len(files) < len(found):
        own = ", ".join(p.name for p in found if p not in files)
        stderr_terminal().write_lines([Line(f"skipped (written by archcalc check): {own}", "dim")])
    if not files:
        raise InputError(f"no answer files in {folder} (looked for {', '.join(ANSWER_SUFFIXES)})")
    _refuse_inputs(output, summary, files)
    return _check_files(files, options, fmt, output, summary, day)


def _check_files(files: list[Path], options: dict, fmt: str, output: Path | None, summary: Path | None,
                 day: dict | None = None) -> int:
    """Grade several answer files: one row per file (student and variant named), then the class
    summary; with ``day`` (--keys, --roster, --gradebook, --feedback) the grading day's outputs."""
    from archcalc.grading import read_answers
    from archcalc.grading.class_summary import class_summary
    from archcalc.grading.exports import FOLDER_EXPORTERS, FileGrade
    from archcalc.grading.gradebook import StudentGrade, keyed_sheet, read_keys, sheet_identity

    day = day or {}
    issued = read_keys(day["keys"]) if day.get("keys") else None
    reports: dict = {}
    grades = []
    results = []
    students: list[StudentGrade] = []
    from archcalc.render.styled import Line

    errors = stderr_terminal()
    for file in files:
        try:
            identity = sheet_identity(_text_of(file))
        except (ArchcalcError, RecursionError, MemoryError, ValueError, TypeError, LookupError, OSError):
            identity = sheet_identity("")  # the reading below says what is wrong with this file

        student, variant, flags = identity.student, identity.variant, ()
        try:
            sheet = read_answers(file)
            if issued is not None:
                key = (issued.keys.get(identity.variant) if identity.variant is not None else None) or (
                    issued.by_student(identity.student) if identity.student else None)
                if key is None:
                    raise InputError(f"{file.name}: which variant? no 'Quiz: ..., variant k' line matches a key "
                                     f"in {day['keys']}, nor does the student's name")
                sheet, flags = keyed_sheet(sheet, key)
                student, variant = student or key.student, key.variant
            result, _ = _grade(sheet, options, reports)
            results.append(result)
            grades.append(FileGrade.of(file.name, result, student or "", variant))
            students.append(StudentGrade(student or file.stem, variant, file.name, result, flags))
            for flag in flags:
                errors.write_lines([Line(f"note: {file.name}: {flag}", "yellow")])
        except ArchcalcError as error:
            message = str(error).splitlines()[0]
            errors.write_lines([Line(f"error: {message}", "red")])
            grades.append(FileGrade(file.name, error=message, student=student or "", variant=variant))
            students.append(StudentGrade(student or file.stem, variant, file.name, error=message))
        except (RecursionError, MemoryError, ValueError, TypeError, LookupError) as error:
            # one sheet that breaks the reader costs that sheet's row, never the class (docs/check.md)
            message = f"{file}: this file could not be read ({type(error).__name__})"
            errors.write_lines([Line(f"error: {message}", "red")])
            grades.append(FileGrade(file.name, error=message, student=student or "", variant=variant))
            students.append(StudentGrade(student or file.stem, variant, file.name, error=message))
    _grading_day(students, issued, day, errors)
    class_result = class_summary(results, unreadable=sum(1 for g in grades if g.error))
    if fmt == "table" and output is not None:
        from archcalc.render.styled import Terminal

        from archcalc.output_files import open_for_writing

        with open_for_writing(output) as handle:
            target = Terminal(file=handle, width=160, color=False)
            render_folder(grades, target)
            render_class_summary(class_result, target)
        say_written(output, "table")
    elif fmt == "table":
        render_folder(grades, stdout_terminal())
        render_class_summary(class_result, stdout_terminal())
    else:
        write_output(FOLDER_EXPORTERS[fmt](grades), output, what=fmt)
        if summary is None:
            render_class_summary(class_result, stderr_terminal())
    if summary is not None:
        from archcalc.grading.class_summary import SUMMARY_EXPORTERS

        kind = {".md": "md", ".markdown": "md", ".csv": "csv", ".json": "json"}.get(summary.suffix.lower(), "md")
        write_output(SUMMARY_EXPORTERS[kind](class_result), summary, what="class summary")
    if any(g.error for g in grades):
        return 2
    return 1 if any(g.wrong for g in grades) else 0


def _text_of(file: Path) -> str:
    try:
        return file.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError):
        return ""


def _grading_day(students: list, issued, day: dict, errors) -> None:
    """Who returned no sheet (against the roster, else the issued variants), the gradebook, the
    feedback files (archcalc.grading.gradebook)."""
    from archcalc.grading.gradebook import feedback_markdown, feedback_name, gradebook_csv, roster_records
    from archcalc.render.styled import Line

    roster = roster_records(day["roster"]) if day.get("roster") else {}
    returned_names = {g.student.strip().lower() for g in students}
    returned_variants = {g.variant for g in students if g.variant is not None}
    if roster:
        missing = [name for name in roster if name.strip().lower() not in returned_names]
    elif issued is not None:
        missing = [key.student or f"variant {key.variant}" for number, key in sorted(issued.keys.items())
                   if number not in returned_variants]
    else:
        missing = []
    if roster or issued is not None:
        text = ", ".join(missing) if missing else "none"
        errors.write_lines([Line(f"not returned ({len(missing)}): {text}", "yellow" if missing else "")])
    if day.get("gradebook"):
        title = issued.title if issued is not None else "Score"
        write_output(gradebook_csv(students, title, missing, roster), day["gradebook"], what="gradebook")
    if day.get("feedback"):
        folder = day["feedback"]
        try:
            folder.mkdir(parents=True, exist_ok=True)
            for grade in students:
                (folder / feedback_name(grade.student)).write_text(feedback_markdown(grade), encoding="utf-8")
        except OSError as error:
            raise InputError(f"cannot write the feedback into {folder}: {error.strerror}") from None
        say_written(folder, "feedback", f"{len(students)} files")


# -- rendering (computes nothing): archcalc.render.verdicts -----------------------------


def render_result(result, console) -> None:
    """The verdict table, the derivations of wrong cells, and the score."""
    from archcalc.render.verdicts import render_result as render

    render(result, console)


def render_folder(grades, console) -> None:
    from archcalc.render.styled import print_lines
    from archcalc.render.verdicts import folder_lines

    print_lines(console, folder_lines(grades, console.width))


def render_class_summary(summary, terminal) -> None:
    """The questions not every sheet got right, hardest first: how many got them right, the most
    common wrong answer and mistake, the conventions used instead."""
    from archcalc.grading.class_summary import SHORT_COLUMNS, short_records, summary_heading
    from archcalc.render.styled import Line, print_lines

    records, all_right = short_records(summary)
    lines = [Line(summary_heading(summary), "bold")]
    if records:
        widths = {c: max(len(c), *(len(str(r[c])) for r in records)) for c in SHORT_COLUMNS}
        lines.append(Line("  ".join(c.ljust(widths[c]) for c in SHORT_COLUMNS).rstrip(), "bold"))
        for record in records:
            cells = [str(record[c]).rjust(widths[c]) if c == "right" else str(record[c]).ljust(widths[c])
                     for c in SHORT_COLUMNS]
            lines.append(Line("  ".join(cells).rstrip()))
    if all_right:
        lines.append(Line(f"{all_right} question{'s' if all_right != 1 else ''} every sheet got right"
                          + (" (--summary FILE lists them all)" if records else "")))
    print_lines(terminal, lines)
