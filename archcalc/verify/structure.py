"""Structure checks: a real forward pass with hooks; shapes and parameters against the Report.

Per layer that is a module:

* the output shape the hook sees (batch included) equals ``(batch, *row.output_shape)``;
* ``sum(p.numel() for p in module.parameters(recurse=False))`` equals
  ``row.weights + row.biases``, and the same for buffers.

For the whole network, the unique parameters of the module (a tied weight
counted once, as ``nn.Module.parameters()`` yields it once) equal
``totals.params``. A forward pass that raises is a failed check naming the
layer it stopped in.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch

from archcalc.report import Report
from archcalc.verify.hooks import LayerHooks, first_tensor
from archcalc.verify.report import Check, Status
from archcalc.verify.target import Target

Shape = tuple[int, ...]


@dataclass
class ForwardTrace:
    """What the hooks saw: every call's output shape per layer, and an error if the pass raised."""

    shapes: dict[str, list[Shape]] = field(default_factory=dict)
    error: str | None = None
    failed_layer: str | None = None

    @property
    def ran(self) -> bool:
        return self.error is None


def trace_forward(target: Target, x: torch.Tensor) -> ForwardTrace:
    trace = ForwardTrace()

    def after(name: str, output) -> None:
        tensor = first_tensor(output)
        trace.shapes.setdefault(name, []).append(tuple(tensor.shape) if tensor is not None else ())

    hooks = LayerHooks(target.layer_modules, after=after)
    try:
        with torch.no_grad(), hooks:
            target.module(x)
    except Exception as error:  # noqa: BLE001  (any failure of the real pass is a finding, reported)
        message = str(error).strip().splitlines()[0] if str(error).strip() else ""
        trace.error = f"{type(error).__name__}: {message}"
        trace.failed_layer = hooks.current
    return trace


def module_params(target: Target) -> dict[str, tuple[int, int]]:
    """Layer name -> (parameters, buffers) of its own module (not its children)."""
    return {
        name: (
            sum(p.numel() for p in module.parameters(recurse=False)),
            sum(b.numel() for b in module.buffers(recurse=False)),
        )
        for name, module in target.layer_modules.items()
    }


def structure_checks(report: Report, target: Target, trace: ForwardTrace) -> list[Check]:
    batch = report.batch
    hooked = [row for row in report.rows if row.name in target.layer_modules]
    not_hooked = len(report.rows) - len(hooked)
    extra = f"; {not_hooked} functional layers are not modules and have no hook" if not_hooked else ""

    # -- shapes ---------------------------------------------------------------
    details, layers = [], []
    if not trace.ran:
        where = f" in layer '{trace.failed_layer}'" if trace.failed_layer else ""
        details.append(f"the forward pass stopped{where}: {trace.error}")
    for row in hooked:
        expected = (batch, *row.output_shape)
        seen = trace.shapes.get(row.name)
        if not seen:
            if trace.ran:
                details.append(f"{row.name}: predicted {_shape(expected)}, the layer was never called")
                layers.append(row.name)
            continue
        if seen[0] != expected:
            details.append(f"{row.name} ({row.op}): predicted {_shape(expected)}, torch {_shape(seen[0])}")
            layers.append(row.name)
    if trace.failed_layer and trace.failed_layer not in layers:
        layers.append(trace.failed_layer)
    matching = sum(
        1 for row in hooked if trace.shapes.get(row.name) and trace.shapes[row.name][0] == (batch, *row.output_shape)
    )
    if details:
        summary = (f"{len(layers)} of {len(hooked)} layers differ" if layers else "the forward pass failed") + extra
    else:
        summary = f"{matching} of {len(hooked)} layers match a real forward pass{extra}"
    shapes = Check(
        kind="structure",
        name="output shapes",
        status=Status.FAIL if details else Status.PASS,
        summary=summary,
        predicted=len(hooked),
        measured=matching,
        unit="layers",
        details=tuple(details),
        layers=tuple(layers),
    )

    # -- parameters and buffers per layer ---------------------------------------
    measured = module_params(target)
    details, layers = [], []
    for row in hooked:
        params, buffers = measured[row.name]
        if params != row.params or buffers != row.buffers:
            details.append(
                f"{row.name} ({row.op}): predicted {row.params:,} parameters ({row.weights:,} weights + "
                f"{row.biases:,} biases) and {row.buffers:,} buffers, torch {params:,} and {buffers:,}"
            )
            layers.append(row.name)
    per_layer = Check(
        kind="structure",
        name="parameters per layer",
        status=Status.FAIL if layers else Status.PASS,
        summary=f"{len(layers)} of {len(hooked)} layers differ" if layers
        else f"weights, biases and buffers of {len(hooked)} layers match module.parameters()/buffers()",
        predicted=sum(row.params for row in hooked),
        measured=sum(measured[row.name][0] for row in hooked),
        unit="parameters",
        details=tuple(details),
        layers=tuple(layers),
    )

    # -- totals -------------------------------------------------------------------
    total = sum(p.numel() for p in target.module.parameters())
    totals = Check(
        kind="structure",
        name="parameter total",
        status=Status.PASS if total == report.totals.params else Status.FAIL,
        summary="unique parameters of the module (shared ones once)",
        predicted=report.totals.params,
        measured=total,
        unit="parameters",
        details=() if total == report.totals.params
        else (f"predicted {report.totals.params:,}, torch {total:,}: a difference of {total - report.totals.params:+,}",),
    )
    return [shapes, per_layer, totals]


def _shape(shape: Shape) -> str:
    """A batched tensor shape as the table writes it: per sample, H x W x C, and the batch."""
    from archcalc.render.units import shape as per_sample

    if not shape:
        return "()"
    return per_sample(tuple(shape[1:])) + (f" (batch {shape[0]})" if shape[0] != 1 else "")
