"""Where a network spends: layers arranged in their block tree, or folded to a depth.

A Report's rows are named by their place in the hierarchy (``layer3.1.conv2``).
:func:`table_entries` turns them into the entries a table or a chart shows:

* every layer in execution order, under header entries that open each block
  (``layer3``, then ``layer3.1``), indented by depth; or, with ``depth=N``,
* each block ``N`` names deep folded into one entry: the sums of its
  parameters, activation memory, MACs and FLOPs, the output shape and the
  receptive field of its last layer.

Each entry carries its share of the network's parameters, activation memory
(summed) and FLOPs: ``share = entry value / total`` (0 when the total is 0).
Parameters shared with an earlier layer count once, in that earlier layer, as
in the totals. Nothing here formats; renderers do that.
"""

from __future__ import annotations

from dataclasses import dataclass

from archcalc.frozen_records import record_maker
from archcalc.layers import get_rule
from archcalc.report import LayerRow, ReceptiveField, Report

Shape = tuple[int, ...]

#: entry kinds
LAYER = "layer"
BLOCK = "block"
HEADER = "header"


@dataclass(frozen=True, slots=True)
class Entry:
    """One line of a per-layer table.

    ``kind`` is ``layer`` (one layer), ``block`` (a folded block) or
    ``header`` (the title line of an open block; its numbers are the block's
    sums, which tables may leave out). ``label`` is the last part of the name,
    ``level`` the indentation (0 for top-level names).
    """

    name: str
    label: str
    level: int
    kind: str
    rows: tuple[LayerRow, ...]
    output_shape: Shape
    params: int
    activation_bytes: int
    macs: int
    flops: int
    rf: ReceptiveField | None
    param_share: float
    memory_share: float
    flops_share: float

    @property
    def row(self) -> LayerRow | None:
        """The layer of a ``layer`` entry."""
        return self.rows[0] if self.kind == LAYER else None

    @property
    def op_counts(self) -> tuple[tuple[str, int], ...]:
        """``(("conv", 3), ("relu", 3), ("maxpool", 1))``: the ops of a block, in first-seen order."""
        counts: dict[str, int] = {}
        for row in self.rows:
            counts[row.op] = counts.get(row.op, 0) + 1
        return tuple(counts.items())


_make_entry = record_maker(Entry)


def owned_params(row: LayerRow) -> int:
    """Parameters a row adds to the totals (0 when it reuses an earlier layer's)."""
    return row.owned_params


def _share(value: int, total: int) -> float:
    return value / total if total else 0.0


def make_entry(report: Report, name: str, kind: str, level: int, rows: tuple[LayerRow, ...]) -> Entry:
    """An entry summing ``rows`` (the sums of a block, or one layer's numbers)."""
    totals = report.totals
    if len(rows) == 1:  # one layer (most entries): its numbers, no sums to make
        row = rows[0]
        params, activation_bytes, macs, flops = row.owned_params, row.activation_bytes, row.macs, row.flops
    else:
        params = sum(owned_params(r) for r in rows)
        activation_bytes = sum(r.activation_bytes for r in rows)
        macs = sum(r.macs for r in rows)
        flops = sum(r.flops for r in rows)
    return _make_entry(  # Entry(...) without its per-field setattr lookups
        name=name,
        label=name.rsplit(".", 1)[-1] if level else name,
        level=level,
        kind=kind,
        rows=rows,
        output_shape=rows[-1].output_shape,
        params=params,
        activation_bytes=activation_bytes,
        macs=macs,
        flops=flops,
        rf=rows[-1].rf,
        # _share, written out (a call per share and entry)
        param_share=params / totals.params if totals.params else 0.0,
        memory_share=activation_bytes / totals.activation_bytes if totals.activation_bytes else 0.0,
        flops_share=flops / totals.flops if totals.flops else 0.0,
    )


def _units(rows: tuple[LayerRow, ...], depth: int | None) -> list[tuple[tuple[str, ...], tuple[LayerRow, ...]]]:
    """Consecutive rows grouped by their name cut to ``depth`` parts (a layer keeps its full name)."""
    groups: list[tuple[tuple[str, ...], list[LayerRow]]] = []
    for row in rows:
        parts = tuple(row.name.split("."))
        key = parts if depth is None or len(parts) <= depth else parts[:depth]
        folded = depth is not None and len(parts) > depth
        if folded and groups and groups[-1][0] == key and groups[-1][1][0].name.count(".") >= depth:
            groups[-1][1].append(row)
        else:
            groups.append((key, [row]))
    return [(key, tuple(members)) for key, members in groups]


def is_view(row: LayerRow) -> bool:
    """A view a live module made (permute, reshape, slicing): no parameters, no work, no new
    memory. Rows a spec writes (they have a file and line) are never views in this sense."""
    return (row.location is None and row.category == "reshape" and get_rule(row.op).aliases_input
            and not row.params and not row.flops and not row.macs)


def table_entries(report: Report, depth: int | None = None, views: bool = True) -> tuple[Entry, ...]:
    """The report's rows as table entries: a block tree, blocks folded below ``depth`` names.

    ``views=False`` leaves out the views of a live module (:func:`is_view`), which the rows
    around them already show.

    ``depth=None`` shows every layer; ``depth=1`` folds everything into the
    top-level names (``features``, ``avgpool``, ``classifier`` of VGG-16).
    Header entries open each block whose layers are shown (``layer1``,
    ``layer1.0``); they are not repeated for consecutive rows of one block.
    """
    if depth is not None and depth < 1:
        raise ValueError("depth must be at least 1")
    units = _units(report.rows if views else tuple(r for r in report.rows if not is_view(r)), depth)
    # the rows under every block prefix, for the sums of header entries
    members: dict[tuple[str, ...], list[LayerRow]] = {}
    for key, rows in units:
        for cut in range(1, len(key)):
            members.setdefault(key[:cut], []).extend(rows)
    entries: list[Entry] = []
    open_path: tuple[str, ...] = ()
    for key, rows in units:
        common = 0
        while common < min(len(open_path), len(key) - 1) and open_path[common] == key[common]:
            common += 1
        for cut in range(common + 1, len(key)):
            prefix = key[:cut]
            entries.append(make_entry(report, ".".join(prefix), HEADER, cut - 1, tuple(members[prefix])))
        open_path = key[:-1]
        is_block = depth is not None and rows[0].name.count(".") >= depth
        entries.append(make_entry(report, ".".join(key), BLOCK if is_block else LAYER, len(key) - 1, rows))
    return tuple(entries)


def leaf_entries(report: Report, depth: int | None = None) -> tuple[Entry, ...]:
    """The entries that carry numbers (layers and folded blocks), without headers: what charts draw."""
    return tuple(e for e in table_entries(report, depth) if e.kind != HEADER)


def repeated_block_container(names: list[str] | tuple[str, ...]) -> str | None:
    """The name under which a network repeats numbered blocks (``transformer.h`` of ``transformer.h.0.attn``,
    ``model.layers``): the prefix followed by the most distinct indices (two or more), the shallower
    on a tie; None when no name has a numbered part with something under it."""
    indices: dict[str, set[str]] = {}
    for name in names:
        parts = name.split(".")
        for position, part in enumerate(parts[:-1]):
            if part.isdigit():
                indices.setdefault(".".join(parts[:position]), set()).add(part)
    candidates = [(len(found), -prefix.count("."), prefix) for prefix, found in indices.items() if len(found) >= 2]
    return max(candidates)[2] if candidates else None


def block_of(name: str, container: str | None) -> str | None:
    """``transformer.h.3`` for ``transformer.h.3.attn.c_attn`` under the container ``transformer.h``; else None."""
    if container is None:
        return None
    prefix = f"{container}." if container else ""
    if not name.startswith(prefix):
        return None
    index = name[len(prefix):].split(".", 1)
    return f"{prefix}{index[0]}" if len(index) == 2 and index[0].isdigit() else None


def block_view_depth(report: Report) -> int | None:
    """The folding depth of a transformer's block view: each repeated block unfolded one level
    (attention, MLP, norms of ``transformer.h.0``); None when the network repeats no block."""
    container = repeated_block_container([row.name for row in report.rows])
    if container is None:
        return None
    return (len(container.split(".")) if container else 0) + 2


def readable_depth(report: Report, most: int) -> int | None:
    """The depth to fold blocks to so that at most ``most`` entries carry numbers: None when
    every layer fits, else the deepest depth that fits (1 when even that has more)."""
    if len(report.rows) <= most:
        return None
    deepest = max(row.name.count(".") for row in report.rows) + 1
    for depth in range(deepest, 0, -1):
        if len(leaf_entries(report, depth)) <= most:
            return depth
    return 1
