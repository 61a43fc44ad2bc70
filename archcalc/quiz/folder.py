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


def write_quiz(
    variants: list[Variant],
    folder: Path,
    *,
    tex: bool = False,
    pdf: bool = False,
    html: bool = False,
    title: str | None = None,
) -> list[Path]:
    """Write every file of the quiz into ``folder`` (created); the paths written, in order.
    ``pdf`` checks for a TeX engine before writing anything."""
    engine = latex.require_engine() if pdf else None
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise InputError(f"cannot create the folder {folder}: {error.strerror}") from None
    written: list[Path] = []

    def write(name: str, text: str) -> Path:
        path = folder / name
        try:
            path.write_text(text, encoding="utf-8")
        except OSError as error:
            raise InputError(f"cannot write {path}: {error.strerror}") from None
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


__all__ = ["number_text", "quiz_title", "write_quiz"]
