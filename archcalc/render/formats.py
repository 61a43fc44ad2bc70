"""Output formats and the file extensions that select them (``-o layers.md``).

Kept apart from the exporters so that choosing a format imports nothing heavy.
An extension that names no text format is refused with a hint instead of
silently getting the text table (``-o layers.png`` is what ``--plot`` is for).
"""

from __future__ import annotations

from pathlib import Path

from archcalc.errors import InputError

FORMATS = ("table", "json", "csv", "md", "latex", "html")
EXTENSIONS = {
    ".json": "json",
    ".csv": "csv",
    ".md": "md",
    ".markdown": "md",
    ".tex": "latex",
    ".latex": "latex",
    ".html": "html",
    ".htm": "html",
    ".txt": "table",
}
#: extensions people try that archcalc does not write as text, and what to do instead
OTHER_EXTENSIONS = {
    ".png": "--plot draws images: archcalc MODEL --plot {stem}.png (or .svg, .pdf)",
    ".svg": "--plot draws images: archcalc MODEL --plot {stem}.svg (or .png, .pdf)",
    ".pdf": "--plot draws images: archcalc MODEL --plot {stem}.pdf; for a PDF table, write .tex and compile it",
    ".jpg": "--plot draws images: archcalc MODEL --plot {stem}.png",
    ".jpeg": "--plot draws images: archcalc MODEL --plot {stem}.png",
    ".xlsx": "write {stem}.csv: Excel and LibreOffice open it as it is",
    ".xls": "write {stem}.csv: Excel and LibreOffice open it as it is",
    ".ods": "write {stem}.csv: Excel and LibreOffice open it as it is",
}


def format_for(fmt: str | None, output: Path | None, formats=FORMATS, extensions=None) -> str:
    """The output format: ``--format``, else ``-o``'s extension, else the table.

    A file without extension gets the text table; an extension that names no
    format in ``extensions`` is an error that says which ones do."""
    extensions = EXTENSIONS if extensions is None else extensions
    if fmt is not None:
        fmt = fmt.lower()
        if fmt not in formats:
            raise InputError(f"unknown format '{fmt}' (choose from {', '.join(formats)})")
        return fmt
    if output is None or not output.suffix:
        return "table"
    suffix = output.suffix.lower()
    if suffix in extensions:
        return extensions[suffix]
    known = " ".join(sorted(extensions))
    hint = OTHER_EXTENSIONS.get(suffix, f"-o writes {known}; --format FORMAT chooses one for any name")
    raise InputError(f"-o {output}: archcalc does not write {suffix} files (it writes {known})",
                     hint=hint.format(stem=output.stem))
