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
]
