"""Time `archcalc FILE.py:resnet50 --input 224x224x3` against `torchinfo.summary` on the same module.

The issue "any PyTorch model, counted right" asks that archcalc on a live
ResNet-50 be at least 2x faster than torchinfo.summary, measured side by side
in one run. Both run in fresh Python processes, as a user would, with the same
module (``benchmarks/resnet50_module.py``, written out here: torchvision is not
needed): archcalc builds it on the meta device and captures one forward pass
on meta tensors; torchinfo builds it with real weights and runs a real CPU
forward pass (``torchinfo.summary(model, input_size=(1, 3, 224, 224))``).
Runs alternate between the tools (the machine is noisy: compare ratios), the
median of ``--repeat`` runs is reported, and ``import torch`` alone is timed
too, since neither tool can go below it.

    python benchmarks/bench_live_module.py [--repeat 7]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
MODULE = HERE / "resnet50_module.py"

TOOLS = {
    "import torch": [sys.executable, "-c", "import torch"],
    "archcalc": [sys.executable, "-m", "archcalc", f"{MODULE}:resnet50", "--input", "224x224x3"],
    "torchinfo": [
        sys.executable,
        "-c",
        f"import sys; sys.path.insert(0, {str(HERE)!r}); import torch, torchinfo, resnet50_module;"
        "torchinfo.summary(resnet50_module.resnet50(), input_size=(1, 3, 224, 224), verbose=0)",
    ],
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=7)
    options = parser.parse_args()
    # users run with compiled bytecode cached; so do we (the first run of each writes it)
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    times: dict[str, list[float]] = {name: [] for name in TOOLS}
    for round_ in range(options.repeat + 1):
        for name, command in TOOLS.items():
            start = time.perf_counter()
            subprocess.run(command, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
            if round_:  # the first round warms the bytecode caches
                times[name].append(time.perf_counter() - start)
    medians = {name: statistics.median(values) for name, values in times.items()}
    for name, value in medians.items():
        print(f"{name:<14} {value:6.2f} s   (runs: {', '.join(f'{v:.2f}' for v in times[name])})")
    print(f"torchinfo / archcalc: {medians['torchinfo'] / medians['archcalc']:.2f}x")
    print(f"archcalc - import torch: {medians['archcalc'] - medians['import torch']:.2f} s")


if __name__ == "__main__":
    main()
