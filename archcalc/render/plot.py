"""``--plot FILE.png|svg``: per-layer bars of activation memory, parameters and FLOPs.

The three charts lecture slides use, stacked with a shared layer axis.
matplotlib is imported here only (the ``plot`` extra); without it the CLI says
how to install it. Draws the values it is given; computes nothing.
"""

from __future__ import annotations

from pathlib import Path

from archcalc.breakdown import leaf_entries
from archcalc.errors import InputError
from archcalc.report import Report

PLOT_FORMATS = (".png", ".svg", ".pdf")


def _pyplot():
    try:
        import matplotlib

        matplotlib.use("Agg", force=True)
        import matplotlib.pyplot as plt
    except ImportError:
        raise InputError(
            "--plot needs matplotlib, which is not installed",
            hint="pip install 'archcalc[plot]' (or pip install matplotlib)",
        ) from None
    return plt


def _scale(values: list[int], kind: str) -> tuple[list[float], str]:
    """Values in a readable unit: MiB/KiB for bytes, M/K/G for counts."""
    top = max(values, default=0)
    if kind == "bytes":
        for size, unit in ((2**30, "GiB"), (2**20, "MiB"), (2**10, "KiB")):
            if top >= size:
                return [v / size for v in values], unit
        return [float(v) for v in values], "B"
    for size, unit in ((10**9, "G"), (10**6, "M"), (10**3, "K")):
        if top >= size:
            return [v / size for v in values], unit
    return [float(v) for v in values], ""


def plot_report(report: Report, path: Path | str, depth: int | None = None, layout: str = "hwc") -> Path:
    """Draw the three per-layer charts to ``path`` (``.png``, ``.svg`` or ``.pdf``)."""
    path = Path(path)
    if path.suffix.lower() not in PLOT_FORMATS:
        raise InputError(f"--plot writes {', '.join(PLOT_FORMATS)} files, got {path.name!r}")
    plt = _pyplot()
    entries = leaf_entries(report, depth)
    names = [e.name for e in entries]
    n = len(entries)
    unit = report.convention.unit
    charts = [
        ("Activation memory", [e.activation_bytes for e in entries], "bytes", "#b0479b"),
        ("Parameters", [e.params for e in entries], "count", "#2e9d57"),
        ("MACs" if report.convention.name == "macs" else f"{unit} [{report.convention.name}]",
         [e.flops for e in entries], "count", "#2b8cbe"),
    ]
    width = min(max(8.0, 0.16 * n + 2.0), 40.0)
    fig, axes = plt.subplots(3, 1, figsize=(width, 9.0), sharex=True, constrained_layout=True)
    positions = list(range(n))
    for ax, (title, values, kind, colour) in zip(axes, charts):
        scaled, suffix = _scale(values, kind)
        ax.bar(positions, scaled, color=colour, width=0.8)
        ax.set_ylabel(f"{title}" + (f" ({suffix})" if suffix else ""))
        ax.grid(axis="y", alpha=0.3)
        ax.spines[["top", "right"]].set_visible(False)
    shape = "x".join(str(v) for v in (report.input_shape[1:] + report.input_shape[:1]
                                      if len(report.input_shape) == 3 and layout == "hwc" else report.input_shape))
    axes[0].set_title(
        f"{report.model}: input {shape}, batch {report.batch}, {report.dtype}, "
        f"convention {report.convention.name} ({report.convention.label})",
        fontsize=10,
    )
    font = 8 if n <= 40 else 6 if n <= 120 else 4
    axes[-1].set_xticks(positions)
    axes[-1].set_xticklabels(names, rotation=90, fontsize=font)
    axes[-1].set_xlim(-0.6, n - 0.4)
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path
