"""Hostile sizes: every case ends within 10 s of CPU and 500 MiB with a one- or two-line error and
exit status 2 (issue 20, section 2).

Each case runs ``python -m archcalc`` in a child process under ``resource.setrlimit``: RLIMIT_AS
500 MiB (a larger allocation fails, and would show as a traceback or a kill) and RLIMIT_CPU 10 s
(the kernel kills the child past it). The wall clock is not asserted (the test machine is shared);
the CPU time is. The table-time and quiz-size figures are in benchmarks/bench_hostile_sizes.py.
"""

from __future__ import annotations

import os
import resource
import subprocess
import sys
from pathlib import Path

import pytest

MEMORY = 500 * 2**20
CPU_SECONDS = 10
ROOT = Path(__file__).resolve().parent.parent

LAUGHS = """a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]
b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]
c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]
d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]
e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]
f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]
g: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f]
h: &h [*g,*g,*g,*g,*g,*g,*g,*g,*g]
i: &i [*h,*h,*h,*h,*h,*h,*h,*h,*h]
"""


def _limits() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY, MEMORY))
    resource.setrlimit(resource.RLIMIT_CPU, (CPU_SECONDS, CPU_SECONDS))


def run_limited(args: list[str], cwd: Path) -> tuple[subprocess.CompletedProcess, float]:
    """``archcalc ARGS`` in a child under the limits; the result and the child's CPU seconds."""
    env = dict(os.environ, PYTHONPATH=str(ROOT), OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1",
               MKL_NUM_THREADS="1", COLUMNS="100")
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    result = subprocess.run([sys.executable, "-m", "archcalc", *args], cwd=cwd, env=env, preexec_fn=_limits,
                            capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return result, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def write(path: Path, text: str) -> str:
    path.write_text(text, encoding="utf-8")
    return str(path)


def sparse(path: Path, head: str | bytes, size: int) -> str:
    """A file of ``size`` bytes that starts with ``head`` (the rest a hole: cheap to make)."""
    with open(path, "wb") as handle:
        handle.write(head.encode() if isinstance(head, str) else head)
        handle.truncate(size)
    return str(path)


def spec_with(value: str, where: str = "filters") -> str:
    body = {"filters": "layers:\n  - conv: {filters: *i, kernel: 3}\n",
            "input": "layers:\n  - relu: {}\n",
            "name": "layers:\n  - conv: {name: *i, filters: 4, kernel: 3}\n",
            "vars": "vars: {k: *i}\nlayers:\n  - conv: {filters: $k, kernel: 3}\n"}[where]
    head = "name: m\n" + ("input: *i\n" if where == "input" else "input: 8x8x3\n")
    return value + head + body


def inline(filters: str) -> str:
    return "{name: m, input: 8x8x3, layers: [conv: {filters: '" + filters + "', kernel: 3}]}"


def _cases(tmp: Path) -> dict[str, list[str]]:
    """Each case: the arguments (files made in ``tmp`` on demand)."""
    folder = tmp / "class"
    return {
        # YAML alias bombs ("billion laughs", 1 KB) in every position, and an alias inside itself
        "laughs_as_filters": lambda: [write(tmp / "f.yaml", spec_with(LAUGHS, "filters"))],
        "laughs_as_input": lambda: [write(tmp / "i.yaml", spec_with(LAUGHS, "input"))],
        "laughs_as_name": lambda: [write(tmp / "n.yaml", spec_with(LAUGHS, "name"))],
        "laughs_as_variable": lambda: [write(tmp / "v.yaml", spec_with(LAUGHS, "vars"))],
        "laughs_inline": lambda: ["{a: &a [1,1,1,1,1,1,1,1,1,1], b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a,*a], "
                                  "c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b,*b], d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c,*c], "
                                  "e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d,*d], f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e,*e], "
                                  "g: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f,*f], name: m, input: 8x8x3, "
                                  "layers: [conv: {filters: *g, kernel: 3}]}"],
        "laughs_in_check_yaml": lambda: ["check", write(tmp / "a.yaml", LAUGHS + "model: lenet5\nconv1: {params: *i}\n")],
        "alias_inside_itself": lambda: [write(tmp / "r.yaml", "name: m\ninput: 8x8x3\nx: &a [1, *a]\nlayers: [relu: {}]\n")],
        "deep_nesting": lambda: [write(tmp / "d.yaml", "name: m\ninput: 8x8x3\nx: " + "[" * 50000 + "]" * 50000
                                       + "\nlayers: [relu: {}]\n")],
        # expressions that build huge values
        "expression_list_times": lambda: [inline("max([1, 2] * 300000000)")],
        "expression_zeros": lambda: [inline("max([0] * 10**10)")],
        "expression_string": lambda: [inline('len("a" * 10**9)')],
        "expression_power_tower": lambda: [inline("2**64**64")],
        "expression_long_sum": lambda: [inline("+".join(["1"] * 3000))],
        "expression_big_int_chain": lambda: [inline("*".join(["(2**64)"] * 200))],
        # huge specs: refused while reading
        "spec_50_mb_lines": lambda: [write(tmp / "big.yaml", "name: m\ninput: 8x8x3\nlayers:\n"
                                           + "  - relu: {}\n" * 4_000_000)],
        "spec_8m_inline_entries": lambda: [sparse(tmp / "wide.yaml", "name: m\ninput: 8x8x3\nlayers: [", 50 * 2**20)],
        "spec_repeat_past_the_cap": lambda: [inline("4").replace("[conv:", "[repeat: 10000000, layers: [conv:")
                                             .replace("3}]}", "3}]]}")],
        "spec_nested_repeats": lambda: [write(tmp / "nest.yaml", "name: m\ninput: 8x8x3\nlayers:\n  - repeat: 1000\n"
                                              "    layers:\n      - repeat: 1000\n        layers:\n"
                                              "          - relu: {}\n")],
        # huge answer sheets, and a single huge CSV field
        "check_100_mb_csv": lambda: ["check", sparse(tmp / "a.csv", "layer,shape,params\n", 100 * 2**20), "-m", "lenet5"],
        "check_100_mb_markdown": lambda: ["check", sparse(tmp / "a.md", "| layer | params |\n", 100 * 2**20),
                                          "-m", "lenet5"],
        "check_100_mb_keras_summary": lambda: ["check", sparse(tmp / "k.txt", 'Model: "sequential"\n', 100 * 2**20),
                                               "-m", "lenet5"],
        "check_many_rows": lambda: ["check", write(tmp / "rows.csv", "layer,shape,params\n"
                                                   + "".join(f"c{i},28x28x6,156\n" for i in range(200_000))),
                                    "-m", "lenet5"],
        "check_200_kb_field": lambda: ["check", write(tmp / "field.csv", 'layer,shape,params\nconv1,28x28x6,"'
                                                      + "x" * 200_000 + '"\n'), "-m", "lenet5"],
        "check_folder_with_a_bad_sheet": lambda: (folder.mkdir(exist_ok=True), write(folder / "bad.csv",
                                                  'layer,params\nconv1,"' + "x" * 200_000 + '"\n'),
                                                  write(folder / "good.csv", "layer,params\nconv1,156\n"),
                                                  ["check", str(folder), "-m", "lenet5"])[-1],
        "check_missing_folder": lambda: ["check", str(tmp / "no-such-folder") + "/", "-m", "lenet5"],
        "check_binary_sheet": lambda: ["check", sparse(tmp / "b.csv", b"\x00\xff\xfe", 4096), "-m", "lenet5"],
        # quiz sizes, rosters
        "quiz_100000_students": lambda: ["quiz", "conv", "--students", "100000"],
        "quiz_10_to_the_9_students": lambda: ["quiz", "conv", "--students", str(10**9)],
        "quiz_10_to_the_18_students": lambda: ["quiz", "conv", "--students", str(10**18), "-o", str(tmp / "q")],
        "quiz_vgg16_2000_students": lambda: ["quiz", "table", "vgg16", "--students", "2000", "--html",
                                             "-o", str(tmp / "q2")],
        "quiz_vgg16_page_of_100_students": lambda: ["quiz", "table", "vgg16", "--students", "100", "--html",
                                                    "-o", str(tmp / "q3")],
        "quiz_binary_roster": lambda: ["quiz", "conv", "--roster", sparse(tmp / "roster.bin", b"\xff\xfe\x00\x89PNG", 4096)],
        "quiz_huge_roster": lambda: ["quiz", "conv", "--roster", sparse(tmp / "roster.txt", "ada\n", 100 * 2**20)],
        "quiz_roster_of_5000": lambda: ["quiz", "conv", "--roster", write(tmp / "r.txt", "".join(
            f"student {i}\n" for i in range(5000)))],
        # output paths that cannot be written
        "plot_into_a_folder": lambda: ["lenet5", "--plot", str(tmp)],
        "plot_into_a_missing_folder": lambda: ["lenet5", "--plot", str(tmp / "missing" / "x.png")],
        "output_into_a_folder": lambda: ["lenet5", "-o", str(tmp)],
    }


CASES = list(_cases(Path("/nonexistent")))


@pytest.mark.parametrize("case", CASES)
def test_hostile_case_ends_bounded_with_a_short_error(case, tmp_path):
    args = _cases(tmp_path)[case]()
    result, cpu = run_limited(args, tmp_path)
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert result.returncode == 2, (result.returncode, result.stderr[-2000:])
    assert "Traceback" not in result.stderr and "Error:" not in result.stderr.replace("error:", "")
    assert 1 <= len([line for line in lines if not line.startswith(("skipped", "csv written", "Class summary"))]) <= 3, lines
    assert lines[0].startswith("error:") or any(line.startswith("error:") for line in lines), lines
    assert all(len(line) <= 400 for line in lines), "an error quotes a whole value"
    assert cpu < CPU_SECONDS
