"""Writing the files a user asked for without ever losing one of theirs.

* :func:`write_text` and :func:`open_for_writing` write a temporary file in the
  target's folder and rename it over the target (``os.replace``, atomic on POSIX
  and Windows): a reader, or a second archcalc writing the same ``-o`` file, sees
  the old file or the new one, never half of one. The new file gets the mode an
  ordinary ``open()`` would give it (the umask), or the mode of the file it replaces.
* :func:`refuse_inputs` refuses an output path that is one of the run's inputs
  (``check answers.csv -o answers.csv`` would replace the student's work).
* ``-o -`` means stdout (:func:`stdout_dash`), as it does for most Unix tools.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path
from typing import Iterable, Iterator, TextIO

from archcalc.errors import InputError


def stdout_dash(path: Path | None) -> Path | None:
    """None (stdout) for ``-o -``, else the path as given (a typer callback)."""
    return None if path is not None and str(path) == "-" else path


def _same_file(a: Path, b: Path) -> bool:
    try:
        return a.exists() and b.exists() and os.path.samefile(a, b)
    except OSError:
        return False


def refuse_inputs(output: Path | None, inputs: Iterable[Path | str], option: str = "-o") -> None:
    """An InputError when ``output`` is one of ``inputs`` (the same file, by any path)."""
    if output is None:
        return
    for given in inputs:
        try:
            if str(given) in ("-", "") or not Path(given).is_file():
                continue
        except (OSError, ValueError):  # not a path at all (an inline spec, a name too long)
            continue
        if _same_file(Path(output), Path(given)):
            raise InputError(f"{option} {output} is one of the inputs; archcalc does not write over it",
                             hint=f"choose another file for {option}")


def _mode_for(path: Path) -> int:
    try:
        return path.stat().st_mode & 0o7777
    except OSError:
        umask = os.umask(0)
        os.umask(umask)
        return 0o666 & ~umask


@contextlib.contextmanager
def open_for_writing(path: Path, what: str = "", binary: bool = False) -> Iterator[TextIO]:
    """A handle (text, or bytes with ``binary``) on a temporary file beside ``path``, renamed to
    ``path`` when the block ends without an error (removed otherwise); OSError becomes an
    InputError naming the file."""
    path = Path(path)
    folder = path.parent if str(path.parent) else Path(".")
    if path.is_dir():
        raise InputError(f"cannot write {path}: it is a folder")
    try:
        descriptor, temporary = tempfile.mkstemp(dir=folder, prefix=f".{path.name}.", suffix=".tmp")
    except OSError as error:
        raise InputError(f"cannot write {path}: {error.strerror or error}") from None
    try:
        opened = os.fdopen(descriptor, "wb") if binary else os.fdopen(descriptor, "w", encoding="utf-8", newline="")
        with opened as handle:
            yield handle
        os.chmod(temporary, _mode_for(path))
        os.replace(temporary, path)
    except OSError as error:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise InputError(f"cannot write {path}: {error.strerror or error}") from None
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise


def write_text(path: Path, text: str) -> None:
    """Write ``text`` (UTF-8) to ``path`` atomically (:func:`open_for_writing`)."""
    with open_for_writing(path) as handle:
        handle.write(text)


def write_bytes(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically (:func:`open_for_writing`)."""
    with open_for_writing(path, binary=True) as handle:
        handle.write(data)


__all__ = ["open_for_writing", "refuse_inputs", "stdout_dash", "write_bytes", "write_text"]
