"""Time `archcalc vgg16 --input 224x224x3` against torchinfo and fvcore on the same network.

Each tool runs in a fresh Python process, as a user would run it, so import
time counts; the median of ``--repeat`` runs is reported, with the ratio to
archcalc. The torch tools need the network as an nn.Module: it is built from
archcalc's own vgg16 spec with the torch builder (torchvision's VGG-16 has
the same layers), on the CPU with real weights, since that is what
torchinfo.summary and fvcore.nn.FlopCountAnalysis run on.

    python benchmarks/bench_main_job.py [--repeat 5] [--model vgg16] [--input 224x224x3]

No timing is asserted anywhere in the tests; this script is for the notes.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time

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


def time_command(command: list[str], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        subprocess.run(command, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--model", default="vgg16")
    parser.add_argument("--input", default="224x224x3")
    parser.add_argument("--tools", default=",".join(TOOLS))
    options = parser.parse_args()
    results = {}
    for name in options.tools.split(","):
        command = [part.format(model=options.model, input=options.input) for part in TOOLS[name]]
        try:
            results[name] = time_command(command, options.repeat)
        except subprocess.CalledProcessError:
            print(f"{name:10s}  failed (is it installed?)")
    base = results.get("archcalc")
    print(f"{options.model} at {options.input}, median of {options.repeat} fresh processes (wall time):")
    for name, seconds in results.items():
        ratio = f"{seconds / base:6.1f}x archcalc" if base else ""
        print(f"  {name:10s} {seconds * 1000:8.0f} ms  {ratio}")


if __name__ == "__main__":
    main()
