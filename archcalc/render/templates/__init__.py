"""jinja2 templates of the HTML exports (package data next to this file).

``render("report.html.j2", context)`` fills a template; values are escaped
unless the template marks them ``safe`` (the inline SVG charts, which
:mod:`archcalc.render.svg` escapes itself). jinja2 is imported here only.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any

TEMPLATES = Path(__file__).parent


@lru_cache(maxsize=1)
def environment():
    import jinja2

    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(TEMPLATES)),
        autoescape=jinja2.select_autoescape(enabled_extensions=("html", "j2"), default_for_string=True),
        trim_blocks=True,
        lstrip_blocks=True,
        undefined=jinja2.StrictUndefined,
    )


def render(name: str, context: dict[str, Any]) -> str:
    return environment().get_template(name).render(**context)
