"""Regression snapshot: every Report archcalc produces, as JSON and with its derivations.

Used around refactors that must not change behaviour (issue: a layer family is
one file). It is a check of sameness, not of correctness:

    python tools/snapshot.py save  BEFORE_DIR   # on the old tree
    python tools/snapshot.py save  AFTER_DIR    # on the new tree
    python tools/snapshot.py compare BEFORE_DIR AFTER_DIR

``save`` writes, for every zoo model at its default input, the output of
``archcalc MODEL --format json`` and ``archcalc MODEL --explain --format json``
(``zoo/``), then runs the test suite with a pytest plugin (``-p
tools.snapshot``) that records the JSON and the explained JSON of every Report
any test builds (``reports/``, one file per distinct content). ``compare``
says which files differ; every report before must exist after (new tests may
add reports).
"""

from __future__ import annotations

import hashlib
import os
import re
import subprocess
import sys
from pathlib import Path

ENV = "ARCHCALC_SNAPSHOT_DIR"


def _portable(text: str) -> str:
    """Temporary paths of pytest (which differ between runs and workers) as ``TMP/``."""
    return re.sub(r"/tmp/pytest-of-[^/]+/pytest-\d+/(popen-gw\d+/)?", "TMP/", text)


def _record(report) -> None:
    from archcalc.render import exports

    folder = Path(os.environ[ENV]) / "reports"
    folder.mkdir(parents=True, exist_ok=True)
    plain = exports.to_json(report)
    try:
        from archcalc.derivation import explain_row, explain_totals

        rows = {row.name: explain_row(row, report) for row in report.rows}
        explained = exports.to_json(report, rows, explain_totals(report))
    except Exception as error:  # noqa: BLE001 - record the failure itself
        explained = f"explain failed: {type(error).__name__}: {error}"
    plain, explained = _portable(plain), _portable(explained)
    text = plain + "\n----\n" + explained
    digest = hashlib.sha1(plain.encode()).hexdigest()[:16]
    (folder / f"{digest}.txt").write_text(text, encoding="utf-8")


def pytest_configure(config) -> None:  # the plugin: wrap analyze_graph before tests import it
    if not os.environ.get(ENV):
        return
    import archcalc.analysis as analysis

    original = analysis.analyze_graph

    def recording(*args, **kwargs):
        report = original(*args, **kwargs)
        _record(report)
        return report

    analysis.analyze_graph = recording
    for name, module in list(sys.modules.items()):
        if name.startswith("archcalc") and getattr(module, "analyze_graph", None) is original:
            module.analyze_graph = recording


def save(folder: Path) -> None:
    from archcalc.zoo import zoo_names

    zoo = folder / "zoo"
    zoo.mkdir(parents=True, exist_ok=True)
    for model in zoo_names():
        for suffix, extra in (("json", []), ("explain.json", ["--explain"])):
            out = subprocess.run(
                [sys.executable, "-m", "archcalc", model, "--format", "json", *extra],
                capture_output=True, text=True, check=True,
            ).stdout
            (zoo / f"{model}.{suffix}").write_text(out, encoding="utf-8")
    env = {**os.environ, ENV: str(folder.resolve())}
    subprocess.run([sys.executable, "-m", "pytest", "-q", "-x", "-p", "tools.snapshot", "-p", "no:randomly",
                    "-n", "2"], env=env, check=True)


def compare(before: Path, after: Path) -> int:
    bad = 0
    for kind in ("zoo", "reports"):
        old = {p.name: p.read_text(encoding="utf-8") for p in (before / kind).glob("*")}
        new = {p.name: p.read_text(encoding="utf-8") for p in (after / kind).glob("*")}
        missing = sorted(set(old) - set(new))
        changed = sorted(k for k in set(old) & set(new) if old[k] != new[k])
        print(f"{kind}: {len(old)} before, {len(new)} after, {len(missing)} missing, {len(changed)} changed")
        for name in missing[:20] + changed[:20]:
            print("  ", name)
        bad += len(missing) + len(changed)
    print("IDENTICAL" if not bad else f"{bad} DIFFERENCES")
    return 1 if bad else 0


if __name__ == "__main__":
    command, *paths = sys.argv[1:]
    if command == "save":
        save(Path(paths[0]))
    else:
        sys.exit(compare(Path(paths[0]), Path(paths[1])))
