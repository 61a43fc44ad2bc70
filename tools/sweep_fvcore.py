"""The ``fvcore`` preset against fvcore itself over the transformers sweep (issue 16).

For each model type the sweep builds (``tests/hf_sweep.py``), at batch 1: fvcore's
``FlopCountAnalysis(...).total()`` (a ``torch.jit`` trace of a wrapper that takes the model's
inputs positionally and returns its output tensors; unsupported ops count 0, as fvcore counts
them) and archcalc's total under ``convention="fvcore"``. Prints one JSON line per model:
``{"type", "fvcore", "archcalc", "error", "unsupported", "fvcore_by_op", "archcalc_by_op"}``; a model fvcore cannot trace has ``fvcore: null``
and the reason. Also the ops fvcore skipped (its ``unsupported_ops``), which name most
differences.

    python tools/sweep_fvcore.py [--part I/N] [TYPE ...] > fvcore.jsonl
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import warnings
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import torch  # noqa: E402
from torch import nn  # noqa: E402

from archcalc.frontends.leaves import leaves  # noqa: E402
from tests import hf_sweep  # noqa: E402


class Positional(nn.Module):
    """The model with its keyword inputs taken positionally, returning its output tensors."""

    def __init__(self, model, names, options):
        super().__init__()
        self.model, self.names, self.options = model, names, options

    def forward(self, *tensors):
        out = self.model(**dict(zip(self.names, tensors)), **self.options)
        return tuple(t for t in leaves(out.to_tuple() if hasattr(out, "to_tuple") else out)
                     if isinstance(t, torch.Tensor))


def fvcore_total(built) -> tuple[int, dict[str, int]]:
    from fvcore.nn import FlopCountAnalysis

    logging.getLogger("fvcore").setLevel(logging.ERROR)
    names = list(built.inputs)
    wrapper = Positional(built.model, names, built.options).eval()
    with warnings.catch_warnings(), hf_sweep.quiet():
        warnings.simplefilter("ignore")
        analysis = FlopCountAnalysis(wrapper, tuple(built.inputs[n] for n in names))
        analysis.unsupported_ops_warnings(False).uncalled_modules_warnings(False)
        return int(analysis.total()), dict(analysis.unsupported_ops()), {k: int(v) for k, v in analysis.by_operator().items()}


def archcalc_total(built) -> tuple[int, dict[str, int]]:
    """archcalc's total under the fvcore preset, and its FLOPs by op (the layer type)."""
    report = hf_sweep.analyze(built, 1, convention="fvcore")
    by_op: dict[str, int] = {}
    for row in report.rows:
        if row.flops:
            by_op[row.op] = by_op.get(row.op, 0) + int(row.flops)
    return int(report.totals.flops), by_op


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("types", nargs="*")
    parser.add_argument("--part", default="0/1")
    options = parser.parse_args()
    index, count = (int(v) for v in options.part.split("/"))
    for model_type in (options.types or hf_sweep.model_types())[index::count]:
        try:
            built = hf_sweep.build(model_type)
        except hf_sweep.Skip:
            continue
        except Exception as error:  # noqa: BLE001
            print(json.dumps({"type": model_type, "skip": repr(error)[:200]}), flush=True)
            continue
        line = {"type": model_type, "fvcore": None, "archcalc": None, "error": None, "unsupported": {}}
        try:
            line["archcalc"], line["archcalc_by_op"] = archcalc_total(built)
        except Exception as error:  # noqa: BLE001
            line["error"] = f"archcalc: {error!r}"[:300]
        try:
            line["fvcore"], line["unsupported"], line["fvcore_by_op"] = fvcore_total(built)
        except Exception as error:  # noqa: BLE001
            line["error"] = (line["error"] or "") + f" fvcore: {type(error).__name__}: {error}"[:300]
        print(json.dumps(line), flush=True)


if __name__ == "__main__":
    main()
