"""``--plot FILE.png|svg``: per-layer bars of activation memory, parameters and FLOPs.

The three charts lecture slides use, stacked with a shared layer axis.
matplotlib is imported here only (the ``plot`` extra); without it the CLI says
how to install it. Draws the values it is given; computes nothing.

A network with more than :data:`PLOT_BARS` layers is drawn with its blocks
folded to the deepest depth that fits (:func:`plot_depth`; ResNet-50's 175
layers become 23 bars at depth 2), so that every label stays readable; the
title says so, and ``--depth`` chooses another depth.
"""

from __future__ import annotations

from pathlib import Path

from archcalc.breakdown import leaf_entries, readable_depth
from archcalc.errors import InputError
from archcalc.render.units import axis_unit
from archcalc.render.units import shape as shape_text
from archcalc.report import Report

PLOT_FORMATS = (".png", ".svg", ".pdf")
#: most bars a plot draws before it folds blocks
PLOT_BARS = 60


def plot_depth(report: Report, depth: int | None = None) -> int | None:
    """The depth a plot folds blocks to: ``depth`` when given, else None when every layer fits
    in :data:`PLOT_BARS` bars, else the deepest depth that fits."""
    return depth if depth is not None else readable_depth(report, PLOT_BARS)


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
    size, unit = axis_unit(max(values, default=0), kind)
    return [v / size for v in values], unit


def plot_report(report: Report, path: Path | str, depth: int | None = None, layout: str = "hwc") -> Path:
    """Draw the three per-layer charts to ``path`` (``.png``, ``.svg`` or ``.pdf``), blocks folded
    to :func:`plot_depth`."""
    path = Path(path)
    if path.suffix.lower() not in PLOT_FORMATS:
        raise InputError(f"--plot writes {', '.join(PLOT_FORMATS)} files, got {path.name!r}")
    folder = path.parent if str(path.parent) else Path(".")
    if path.is_dir() or not folder.is_dir():  # said before matplotlib is imported and the bars drawn
        raise InputError(f"cannot write {path}: " + ("it is a folder" if path.is_dir() else "No such file or directory"))
    plt = _pyplot()
    depth = plot_depth(report, depth)
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
    width = min(max(8.0, 0.2 * n + 2.0), 16.0)
    fig, axes = plt.subplots(3, 1, figsize=(width, 9.0), sharex=True, constrained_layout=True)
    positions = list(range(n))
    for ax, (title, values, kind, colour) in zip(axes, charts):
        scaled, suffix = _scale(values, kind)
        ax.bar(positions, scaled, color=colour, width=0.8)
        ax.set_ylabel(f"{title}" + (f" ({suffix})" if suffix else ""))
        ax.grid(axis="y", alpha=0.3)
        ax.spines[["top", "right"]].set_visible(False)
    shape = shape_text(report.input_shape, layout)
    folded = f"; {len(report.rows)} layers, blocks folded to depth {depth}" if depth is not None else ""
    axes[0].set_title(
        f"{report.model}: input {shape}, batch {report.batch}, {report.dtype}\n"
        f"convention {report.convention.name} ({report.convention.label}){folded}",
        fontsize=10,
    )
    font = 9 if n <= 30 else 8 if n <= 45 else 7
    axes[-1].set_xticks(positions)
    axes[-1].set_xticklabels(names, rotation=90, fontsize=font)
    axes[-1].set_xlim(-0.6, n - 0.4)
    import io

    from archcalc.output_files import write_bytes

    # the same report draws the same bytes: no date in the metadata, clip-path ids from a fixed salt
    metadata = {".svg": {"Date": None}, ".pdf": {"CreationDate": None, "ModDate": None}}.get(path.suffix.lower())
    buffer = io.BytesIO()
    with plt.rc_context({"svg.hashsalt": "archcalc"}):
        fig.savefig(buffer, dpi=120, format=path.suffix.lower()[1:], metadata=metadata)
    plt.close(fig)
    write_bytes(path, buffer.getvalue())  # atomic: a temporary file beside it, then a rename
    return path
