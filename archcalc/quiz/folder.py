"""Writing a quiz to a folder: per variant ``sheet-<k>.md``, ``key-<k>.md`` and ``key-<k>.json``
(``.tex`` and ``.pdf`` on request), ``quiz.json`` listing the variants, ``quiz.html`` on request.

``<k>`` is the variant's number, zero-padded to the width of the largest (``sheet-07.md`` of
30), so that files sort in order.
"""

from __future__ import annotations

import json
from pathlib import Path

from archcalc.errors import InputError
from archcalc.quiz import latex, markdown
from archcalc.quiz.records import QUIZ_JSON_VERSION, variant_json
from archcalc.quiz.sheet import Variant


def number_text(number: int, count: int) -> str:
    return str(number).zfill(len(str(count)))


def quiz_title(variants: list[Variant]) -> str:
    """The quiz's title: the variants' one title, or for a mixed quiz (``quiz layer``) what it mixes
    (``Single layers, mixed: Convolution layer, Pooling layer``), first seen first."""
    titles = list(dict.fromkeys(v.title for v in variants))
    if len(titles) == 1:
        return titles[0]
    return f"Single layers, mixed: {', '.join(titles)}" if variants[0].kind == "layer" else \
        f"Mixed: {', '.join(titles)}"


#: the files a quiz writes (what ``force`` clears of an older quiz, and nothing else)
QUIZ_FILES = ("sheet-*.md", "key-*.md", "key-*.json", "sheet-*.tex", "key-*.tex", "sheet-*.pdf", "key-*.pdf",
              "quiz.json", "quiz.html")


def prepare_folder(folder: Path, force: bool = False, create: bool = True) -> None:
    """Make sure ``folder`` can take a new quiz: created when missing (``create``); a folder that
    holds anything is refused (returned sheets would be overwritten, or an older quiz's files mixed
    with the new ones), unless ``force``, which removes an older quiz's files (:data:`QUIZ_FILES`) first."""
    if folder.exists() and not folder.is_dir():
        raise InputError(f"-o {folder} is a file; a quiz is written to a folder")
    if not create and not folder.exists():
        return
    try:
        folder.mkdir(parents=True, exist_ok=True)
        entries = sorted(p.name for p in folder.iterdir())
    except OSError as error:
        raise InputError(f"cannot create the folder {folder}: {error.strerror}") from None
    if entries and not force:
        shown = ", ".join(entries[:3]) + (f" and {len(entries) - 3} more" if len(entries) > 3 else "")
        raise InputError(f"the folder {folder} is not empty ({shown}); a quiz is written to an empty folder",
                         hint="choose a new folder, or --force to replace the quiz files there (sheet-*, key-*, "
                              "quiz.json, quiz.html; other files stay)")
    if force:
        for pattern in QUIZ_FILES:
            for path in folder.glob(pattern):
                try:
                    path.unlink()
                except OSError as error:
                    raise InputError(f"cannot remove {path}: {error.strerror}") from None


def write_quiz(
    variants: list[Variant],
    folder: Path,
    *,
    tex: bool = False,
    pdf: bool = False,
    html: bool = False,
    title: str | None = None,
    force: bool = False,
) -> list[Path]:
    """Write every file of the quiz into ``folder`` (created, and empty unless ``force``:
    :func:`prepare_folder`); the paths written, in order. ``pdf`` checks for a TeX engine before
    writing anything. Each file is written atomically (a temporary file, then a rename)."""
    from archcalc.output_files import write_text

    engine = latex.require_engine() if pdf else None
    if html:
        from archcalc.quiz.webpage import check_page_size

        check_page_size(variants)  # refused before anything is written
    prepare_folder(folder, force)
    written: list[Path] = []

    def write(name: str, text: str) -> Path:
        path = folder / name
        write_text(path, text)
        written.append(path)
        return path

    count = max(v.number for v in variants)
    listed = []
    for variant in variants:
        k = number_text(variant.number, count)
        files = {"sheet": f"sheet-{k}.md", "key": f"key-{k}.md", "json": f"key-{k}.json"}
        write(files["sheet"], markdown.render(variant, key=False))
        write(files["key"], markdown.render(variant, key=True))
        write(files["json"], variant_json(variant))
        if tex or pdf:
            for what, key in (("sheet", False), ("key", True)):
                path = write(f"{what}-{k}.tex", latex.render(variant, key))
                files[f"{what}_tex"] = path.name
                if engine is not None:
                    pdf_path = latex.compile_pdf(path, engine)
                    written.append(pdf_path)
                    files[f"{what}_pdf"] = pdf_path.name
        listed.append({"variant": variant.number, "student": variant.student, "files": files})
    if html:
        from archcalc.quiz.webpage import render_page

        write("quiz.html", render_page(variants, title or quiz_title(variants)))
    manifest = {
        "archcalc_quiz_version": QUIZ_JSON_VERSION,
        "kind": variants[0].kind,
        "seed": variants[0].seed,
        "title": title or quiz_title(variants),
        "variants": listed,
        "page": "quiz.html" if html else None,
    }
    write("quiz.json", json.dumps(manifest, indent=2) + "\n")
    return written


__all__ = ["QUIZ_FILES", "number_text", "prepare_folder", "quiz_title", "write_quiz"]
