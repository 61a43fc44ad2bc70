"""Published ``config.json`` values of popular open models, shipped as data files.

Each file under ``archcalc/llm/configs/`` holds a checkpoint's published ``config.json``
fields (the ones that shape the model), plus:

* ``_name``: the hub id (``mistralai/Mixtral-8x7B-v0.1``), by which ``hf:NAME`` finds it;
* ``_source``: the URL of the ``config.json`` (or model card) the values were copied from;
* ``_published``: optionally, the figures the model card publishes (parameter counts).

``hf:NAME`` reads the file when there is no ``config.json`` path and no copy in the local
Hugging Face cache, so well-known models size offline. ``archcalc llm --list`` names them.
The file's stem (``mixtral-8x7b``) and the last part of the hub id are accepted as names too.
No torch, no transformers: plain JSON.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

CONFIG_DIR = Path(__file__).resolve().parent / "configs"


@dataclass(frozen=True)
class PublishedConfig:
    """One shipped config: its hub id, the source it was copied from, the file and its fields."""

    name: str
    source: str
    file: Path
    published: str = ""

    def fields(self) -> dict[str, Any]:
        """The config.json fields, without archcalc's ``_`` keys."""
        data = json.loads(self.file.read_text(encoding="utf-8"))
        return {key: value for key, value in data.items() if not key.startswith("_")}


@lru_cache(maxsize=1)
def published_configs() -> tuple[PublishedConfig, ...]:
    """Every shipped config, sorted by hub id."""
    found = []
    for file in sorted(CONFIG_DIR.glob("*.json")):
        data = json.loads(file.read_text(encoding="utf-8"))
        found.append(PublishedConfig(data["_name"], data["_source"], file, data.get("_published", "")))
    return tuple(sorted(found, key=lambda c: c.name.lower()))


def find_published(name: str) -> PublishedConfig | None:
    """The shipped config named ``name`` (hub id, its last part, or the file stem; any case)."""
    wanted = name.strip().lower()
    for config in published_configs():
        if wanted in (config.name.lower(), config.name.rsplit("/", 1)[-1].lower(), config.file.stem.lower()):
            return config
    return None
