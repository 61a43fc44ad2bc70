"""archcalc: per-layer shapes, parameters, memory, receptive field and FLOPs of neural networks.

    >>> import archcalc
    >>> report = archcalc.analyze("vgg16", "224x224x3", convention="flops")
    >>> report.totals.params
    138357544

The YAML path imports neither torch nor pandas; live modules and exports
import them when needed.
"""

from archcalc.api import analyze, load_graph
from archcalc.conventions import PRESETS, Convention, get_convention
from archcalc.errors import ArchcalcError, InputError, LayerError, SpecError
from archcalc.report import Report

__version__ = "0.1.0"

#: further entry points, imported on first use so that ``import archcalc`` stays light
_LAZY = {
    "analyze_layer": "archcalc.single_layer",
    "compare": "archcalc.comparison",
    "sweep": "archcalc.sweep",
    "explain_row": "archcalc.derivation",
    "explain_totals": "archcalc.derivation",
    "analyze_module": "archcalc.frontends",
    "verify": "archcalc.verify",
    "grade_answers": "archcalc.grading",
}


def __getattr__(name: str):
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'archcalc' has no attribute {name!r}")

__all__ = [
    "PRESETS",
    "ArchcalcError",
    "Convention",
    "InputError",
    "LayerError",
    "Report",
    "SpecError",
    "analyze",
    "get_convention",
    "load_graph",
    *_LAZY,
]
