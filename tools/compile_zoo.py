"""Write the compiled twin of every zoo spec (archcalc/specs/compiled/NAME.json).

Run it after editing or adding a spec in archcalc/specs/ (tests/test_zoo_compiled.py
says when one is missing or stale); see archcalc/spec/compiled.py.

    python tools/compile_zoo.py
"""

from __future__ import annotations

import json

from archcalc.spec.compiled import compile_text, compiled_dir
from archcalc.zoo import ZOO_DIR


def main() -> None:
    out = compiled_dir()
    out.mkdir(exist_ok=True)
    written = 0
    for spec in sorted(ZOO_DIR.glob("*.yaml")):
        data = compile_text(spec.read_text(encoding="utf-8"), spec.name)
        target = out / f"{spec.stem}.json"
        text = json.dumps(data, separators=(",", ":")) + "\n"
        if not target.is_file() or target.read_text(encoding="utf-8") != text:
            target.write_text(text, encoding="utf-8")
            written += 1
    for stale in out.glob("*.json"):
        if not (ZOO_DIR / f"{stale.stem}.yaml").is_file():
            stale.unlink()
    print(f"{written} compiled spec(s) written to {out}")


if __name__ == "__main__":
    main()
