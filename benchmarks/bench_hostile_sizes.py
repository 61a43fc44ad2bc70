"""The size figures of issue 20: the default table and JSON of long specs, and large quizzes.

Each run is ``python -m archcalc ...`` in a fresh process, as a user runs it (import time counts);
the script prints wall time, CPU time and peak memory (max RSS) of each, and the bytes a quiz
wrote. A spec of N layers is ``repeat: N`` of one 3x3 conv (the analysis derives it once per
distinct layer; the table and JSON still write N rows).

    python benchmarks/bench_hostile_sizes.py [--layers 1000,2000,4000,8000,100000]
                                             [--students 1000] [--skip-quiz] [--skip-table]
                                             [--baseline DIR] [--rounds N]

``--baseline DIR``: a checkout of another archcalc (``git archive REV | tar -x -C DIR``) run on the
same specs, each table and JSON case run alternately with this one's (``--rounds`` times each, the
fastest CPU time kept), and the ratio of CPU times printed: on a noisy machine, figures measured
side by side in one run are the ones to compare.

No timing is asserted anywhere in the tests; this script is for the notes. On a shared machine,
compare CPU times (wall time includes waiting for the cores) and say what the load was.

Figures (main at cca1114 against 6b8ccac, ``--layers 100000 --skip-quiz --baseline DIR --rounds 3``,
2 cores idle, load 1.1-1.7; outputs byte-identical):

    100000  table   cpu 3.68 s  (6b8ccac: 4.29 s)  1.2x   max RSS 255 MiB (255)
    100000  json    cpu 7.89 s  (6b8ccac: 8.37 s)  1.1x   max RSS 794 MiB (794)

Five more runs of the table alone, ``COLUMNS=120 python -m archcalc chain.yaml > out.txt``: 3.62, 3.69,
3.76, 3.76, 3.80 s wall (five idle runs before these changes: 4.49-5.87 s). What
changed: each node carries its layer key (the analysis made it again per node, through up to three
``marshal`` attempts for the spec reader's text keys), a repeat's plain argument mappings are read
once, and the table measures its FLOPs column once. What remains is about 35 us of Python per layer,
a third each in loading, analysis and the table.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def run(args: list[str], cwd: Path, root: Path = ROOT) -> dict:
    """One run of the archcalc in ``root``: wall and CPU seconds, this child's own peak memory
    (``os.wait4``: the rusage of RUSAGE_CHILDREN would give the largest child so far), and the
    bytes it printed."""
    env = dict(os.environ, PYTHONPATH=str(root), COLUMNS="120")
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        start = time.perf_counter()
        child = subprocess.Popen([sys.executable, "-m", "archcalc", *args], cwd=cwd, env=env, stdout=out, stderr=err)
        _, status, usage = os.wait4(child.pid, 0)
        wall = time.perf_counter() - start
        child.returncode = os.waitstatus_to_exitcode(status)
        printed = out.seek(0, os.SEEK_END)
        out.seek(0)
        digest = hashlib.sha256(out.read()).hexdigest()
        err.seek(0)
        if child.returncode not in (0, 1):
            raise SystemExit(f"archcalc {' '.join(args)} failed: {err.read().decode().strip()}")
    return {"wall": wall, "cpu": usage.ru_utime + usage.ru_stime, "rss_mib": usage.ru_maxrss / 1024,
            "stdout": printed, "sha256": digest}


def spec(folder: Path, layers: int) -> Path:
    path = folder / f"chain-{layers}.yaml"
    path.write_text(f"name: chain-{layers}\ninput: 8x8x4\nlayers:\n  - repeat: {layers}\n    layers:\n"
                    "      - conv: {filters: 4, kernel: 3, pad: 1}\n", encoding="utf-8")
    return path


def folder_bytes(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.iterdir())


def fastest(args: list[str], folder: Path, root: Path, rounds: int) -> dict:
    """The run with the least CPU time of ``rounds`` runs."""
    return min((run(args, folder, root) for _ in range(rounds)), key=lambda figures: figures["cpu"])


def table_figures(folder: Path, sizes: list[int], baseline: Path | None, rounds: int) -> None:
    """The default table and ``-f json`` of a chain of each size; with a baseline, its figures on
    the same spec beside them (runs alternate: this one, the baseline, per round) and the ratio."""
    head = f"{'layers':>8}  {'format':6}  {'wall s':>7}  {'cpu s':>6}  {'max RSS MiB':>11}  {'stdout bytes':>12}"
    print(head + (f"  {'base wall':>9}  {'base cpu':>8}  {'base RSS':>8}  {'cpu ratio':>9}" if baseline else ""))
    for layers in sizes:
        path = spec(folder, layers)
        # the 100,000-layer cap is the ir's: repeat N makes N layers, allowed up to it
        for fmt in ("table", "json"):
            args = [str(path), "-f", fmt]
            if baseline is None:
                figures, base = fastest(args, folder, ROOT, rounds), None
            else:
                pairs = [(run(args, folder, ROOT), run(args, folder, baseline)) for _ in range(rounds)]
                figures = min((p[0] for p in pairs), key=lambda f: f["cpu"])
                base = min((p[1] for p in pairs), key=lambda f: f["cpu"])
            line = (f"{layers:>8}  {fmt:6}  {figures['wall']:>7.2f}  {figures['cpu']:>6.2f}  "
                    f"{figures['rss_mib']:>11.0f}  {figures['stdout']:>12,}")
            if base is not None:
                line += (f"  {base['wall']:>9.2f}  {base['cpu']:>8.2f}  {base['rss_mib']:>8.0f}  "
                         f"{base['cpu'] / figures['cpu']:>8.1f}x")
                if base["sha256"] != figures["sha256"]:
                    line += f"  (the outputs differ: baseline printed {base['stdout']:,} bytes)"
            print(line, flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--layers", default="1000,2000,4000,8000,100000")
    parser.add_argument("--students", type=int, default=1000)
    parser.add_argument("--skip-quiz", action="store_true")
    parser.add_argument("--skip-table", action="store_true")
    parser.add_argument("--baseline", type=Path, help="another archcalc checkout, run side by side")
    parser.add_argument("--rounds", type=int, default=1, help="runs of each case (the fastest CPU time kept)")
    options = parser.parse_args()
    print(f"load average before: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        if not options.skip_table:
            table_figures(folder, [int(n) for n in options.layers.split(",")], options.baseline, options.rounds)
        if not options.skip_quiz:
            print(f"\n{'quiz':40}  {'wall s':>7}  {'cpu s':>6}  {'max RSS MiB':>11}  {'files':>6}  {'MB written':>10}")
            for index, args in enumerate((["conv"], ["table", "vgg16"], ["conv", "--html"])):
                out = folder / f"quiz-{index}"
                figures = run(["quiz", *args, "--students", str(options.students), "-o", str(out)], folder)
                files = len(list(out.iterdir()))
                label = " ".join(["quiz", *args, "--students", str(options.students)])
                print(f"{label:40}  {figures['wall']:>7.2f}  {figures['cpu']:>6.2f}  {figures['rss_mib']:>11.0f}  "
                      f"{files:>6}  {folder_bytes(out) / 1e6:>10.1f}")
    print(f"load average after: {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
