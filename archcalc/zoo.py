"""The model zoo: the YAML specs shipped in ``archcalc/specs``.

``resolve_model("vgg16")`` gives the zoo file; a path to a YAML file is used
as it is.
"""

from __future__ import annotations

import difflib
import re
from pathlib import Path

from archcalc.errors import InputError

ZOO_DIR = Path(__file__).parent / "specs"
_DESCRIPTION = re.compile(r"^description:\s*(.+)$", re.MULTILINE)


def zoo_names() -> list[str]:
    return sorted(p.stem for p in ZOO_DIR.glob("*.yaml"))


def zoo_path(name: str) -> Path | None:
    candidate = ZOO_DIR / f"{name.lower().replace('-', '_')}.yaml"
    return candidate if candidate.is_file() else None


def shown_path(path: Path) -> str:
    """How messages name a spec file: ``archcalc/specs/resnet50.yaml`` for the zoo (not the
    install path), the path as given otherwise."""
    try:
        return f"archcalc/specs/{path.resolve().relative_to(ZOO_DIR.resolve())}"
    except ValueError:
        return str(path)


def zoo_description(name: str) -> str:
    """The spec's one-line ``description:`` (read without parsing the YAML, for speed)."""
    path = zoo_path(name)
    if path is None:
        return ""
    match = _DESCRIPTION.search(path.read_text(encoding="utf-8"))
    return match.group(1).strip().strip("'\"") if match else ""


def resolve_model(model: str) -> Path:
    """A zoo name or a path to a YAML spec -> the spec file."""
    path = Path(model)
    if path.suffix.lower() in (".yaml", ".yml"):
        if not path.is_file():
            raise InputError(f"no such spec file: {model}")
        return path
    found = zoo_path(model)
    if found is not None:
        return found
    close = difflib.get_close_matches(model.lower(), zoo_names(), n=3)
    hint = f" Did you mean {', '.join(close)}?" if close else ""
    raise InputError(f"unknown model '{model}': not in the zoo and not a .yaml file.{hint} `archcalc list` shows the zoo")
