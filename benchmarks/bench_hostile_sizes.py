"""The size figures of issue 20: the default table and JSON of long specs, and large quizzes.

Each run is ``python -m archcalc ...`` in a fresh process, as a user runs it (import time counts);
the script prints wall time, CPU time and peak memory (max RSS) of each, and the bytes a quiz
wrote. A spec of N layers is ``repeat: N`` of one 3x3 conv (the analysis derives it once per
distinct layer; the table and JSON still write N rows).

    python benchmarks/bench_hostile_sizes.py [--layers 1000,2000,4000,8000,100000]
                                             [--students 1000] [--skip-quiz] [--skip-table]

No timing is asserted anywhere in the tests; this script is for the notes. On a shared machine,
compare CPU times (wall time includes waiting for the cores) and say what the load was.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def run(args: list[str], cwd: Path) -> dict:
    """One run: wall and CPU seconds, this child's own peak memory (``os.wait4``: the rusage of
    RUSAGE_CHILDREN would give the largest child so far), and the bytes it printed."""
    env = dict(os.environ, PYTHONPATH=str(ROOT), COLUMNS="120")
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        start = time.perf_counter()
        child = subprocess.Popen([sys.executable, "-m", "archcalc", *args], cwd=cwd, env=env, stdout=out, stderr=err)
        _, status, usage = os.wait4(child.pid, 0)
        wall = time.perf_counter() - start
        child.returncode = os.waitstatus_to_exitcode(status)
        printed = out.seek(0, os.SEEK_END)
        err.seek(0)
        if child.returncode not in (0, 1):
            raise SystemExit(f"archcalc {' '.join(args)} failed: {err.read().decode().strip()}")
    return {"wall": wall, "cpu": usage.ru_utime + usage.ru_stime, "rss_mib": usage.ru_maxrss / 1024,
            "stdout": printed}


def spec(folder: Path, layers: int) -> Path:
    path = folder / f"chain-{layers}.yaml"
    path.write_text(f"name: chain-{layers}\ninput: 8x8x4\nlayers:\n  - repeat: {layers}\n    layers:\n"
                    "      - conv: {filters: 4, kernel: 3, pad: 1}\n", encoding="utf-8")
    return path


def folder_bytes(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.iterdir())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--layers", default="1000,2000,4000,8000,100000")
    parser.add_argument("--students", type=int, default=1000)
    parser.add_argument("--skip-quiz", action="store_true")
    parser.add_argument("--skip-table", action="store_true")
    options = parser.parse_args()
    print(f"load average before: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        if not options.skip_table:
            print(f"{'layers':>8}  {'format':6}  {'wall s':>7}  {'cpu s':>6}  {'max RSS MiB':>11}  {'stdout bytes':>12}")
            for layers in (int(n) for n in options.layers.split(",")):
                path = spec(folder, layers)
                # the 100,000-layer cap is the ir's: repeat N makes N layers, allowed up to it
                for fmt in ("table", "json"):
                    figures = run([str(path), "-f", fmt], folder)
                    print(f"{layers:>8}  {fmt:6}  {figures['wall']:>7.2f}  {figures['cpu']:>6.2f}  "
                          f"{figures['rss_mib']:>11.0f}  {figures['stdout']:>12,}")
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
