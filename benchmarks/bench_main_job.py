"""Time `archcalc vgg16 --input 224x224x3` against torchinfo and fvcore on the same network.

Each tool runs in a fresh Python process, as a user would run it, so import
time counts. The tools run side by side: each round runs every tool once, in
turn, so that the load of a shared machine falls on all of them alike; the
report gives each tool's median wall time and the median over rounds of its
time divided by archcalc's (the ratio to quote: it is steadier than the
times themselves).

The torch tools need the network as an nn.Module: it is built from
archcalc's own vgg16 spec with the torch builder (torchvision's VGG-16 has
the same layers), on the CPU with real weights, since that is what
torchinfo.summary and fvcore.nn.FlopCountAnalysis run on.

archcalc's modules are compiled to bytecode first, as ``pip install`` does
for an installed package and Python does on the first run of an editable
one; ``--no-compile`` times the other case (``PYTHONDONTWRITEBYTECODE=1`` with
an editable install: every run compiles archcalc's sources again), which is
reported as its own line by ``--both``.

    python benchmarks/bench_main_job.py [--repeat 7] [--model vgg16] [--input 224x224x3]
                                        [--tools archcalc,torchinfo] [--both]

No timing is asserted anywhere in the tests; this script is for the notes.
"""

from __future__ import annotations

import argparse
import compileall
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

BUILD = (
    "import torch; torch.set_num_threads(2);"
    "from archcalc.spec import load_spec; from archcalc.zoo import zoo_path;"
    "from archcalc.torch_builder import build_module;"
    "g = load_spec(zoo_path('{model}'), input='{input}'); m = build_module(g);"
    "x = torch.zeros(1, *g.input_shape);"
)

TOOLS = {
    "archcalc": [sys.executable, "-m", "archcalc", "{model}", "--input", "{input}"],
    "torchinfo": [
        sys.executable,
        "-c",
        BUILD + "import torchinfo; torchinfo.summary(m, input_data=x, verbose=0)",
    ],
    "fvcore": [
        sys.executable,
        "-c",
        BUILD
        + "import logging; logging.disable(logging.WARNING);"
        + "from fvcore.nn import FlopCountAnalysis; FlopCountAnalysis(m.eval(), x).total()",
    ],
}

PACKAGE = Path(__file__).resolve().parent.parent / "archcalc"


def bytecode(compiled: bool) -> None:
    """Compile archcalc's modules (``compiled``) or remove their bytecode."""
    if compiled:
        compileall.compile_dir(str(PACKAGE), quiet=1)
    else:
        for cache in PACKAGE.rglob("__pycache__"):
            shutil.rmtree(cache, ignore_errors=True)


def run_once(command: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - start


def side_by_side(commands: dict[str, list[str]], repeat: int) -> dict[str, list[float]]:
    """``repeat`` rounds; each runs every tool once, in turn (after one untimed warm-up round)."""
    for command in commands.values():
        run_once(command)
    times: dict[str, list[float]] = {name: [] for name in commands}
    for _ in range(repeat):
        for name, command in commands.items():
            times[name].append(run_once(command))
    return times


def report(title: str, times: dict[str, list[float]]) -> None:
    print(title)
    base = times.get("archcalc")
    for name, values in times.items():
        line = f"  {name:10s} {statistics.median(values) * 1000:8.0f} ms"
        if base and name != "archcalc":
            ratios = [v / b for v, b in zip(values, base)]
            line += f"   {statistics.median(ratios):5.1f}x archcalc's time (rounds: {min(ratios):.1f}x to {max(ratios):.1f}x)"
        print(line)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--model", default="vgg16")
    parser.add_argument("--input", default="224x224x3")
    parser.add_argument("--tools", default="archcalc,torchinfo,fvcore")
    parser.add_argument("--no-compile", action="store_true", help="time archcalc without its bytecode")
    parser.add_argument("--both", action="store_true", help="time archcalc with and without its bytecode")
    options = parser.parse_args()
    commands = {}
    for name in options.tools.split(","):
        command = [part.format(model=options.model, input=options.input) for part in TOOLS[name]]
        try:
            run_once(command)
        except subprocess.CalledProcessError:
            print(f"{name:10s}  failed (is it installed?)")
            continue
        commands[name] = command
    cases = [False, True] if options.both else [not options.no_compile]
    for compiled in cases:
        bytecode(compiled)
        how = "archcalc's bytecode compiled" if compiled else "archcalc compiled from source on every run"
        times = side_by_side(commands, options.repeat)
        report(f"{options.model} at {options.input}, {options.repeat} rounds of fresh processes ({how}), "
               f"median wall time:", times)
    if not cases[-1] and os.environ.get("PYTHONDONTWRITEBYTECODE") is None:
        bytecode(True)


if __name__ == "__main__":
    main()
