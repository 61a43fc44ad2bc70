"""Totals side by side: several networks (``archcalc compare``) or one network at
several batches or input sizes (``--sweep``), each with its ratio to the first.

``ratio = value / value of the first column`` (``None`` when the first is 0),
so that "VGG-16 uses 25x the activation memory of AlexNet" is read off the
table. Nothing here formats.
"""

from __future__ import annotations

from dataclasses import dataclass

from archcalc.report import Report

#: (key, label, kind): kind is "count" or "bytes"; keys follow Totals, "training_bytes.adam" reads the mapping
METRICS: tuple[tuple[str, str, str], ...] = (
    ("params", "Parameters", "count"),
    ("param_bytes", "Parameter memory", "bytes"),
    ("activation_bytes", "Activations (sum)", "bytes"),
    ("peak_activation_bytes", "Activations (peak)", "bytes"),
    ("training_bytes.sgd", "Training (SGD)", "bytes"),
    ("training_bytes.adam", "Training (Adam)", "bytes"),
    ("macs", "MACs", "count"),
    ("flops", "FLOPs", "count"),
)
#: transformers (every report with an LLM sizing): key, label, kind
LLM_METRICS: tuple[tuple[str, str, str], ...] = (
    ("llm.activation_bytes", "Training activations", "bytes"),
    ("llm.training_bytes", "Training per GPU", "bytes"),
    ("llm.training_flops", "Training FLOPs", "count"),
    ("llm.kv_cache_bytes", "KV cache", "bytes"),
    ("llm.inference_bytes", "Inference memory", "bytes"),
    ("llm.prefill_s", "Prefill", "seconds"),
    ("llm.decode_tokens_per_s", "Decode tokens/s", "rate"),
)


@dataclass(frozen=True)
class ComparedMetric:
    """One total across the compared reports."""

    key: str
    label: str
    kind: str
    values: tuple[int, ...]
    ratios: tuple[float | None, ...]


@dataclass(frozen=True)
class Comparison:
    """Totals of several reports, with ratios to the first."""

    labels: tuple[str, ...]
    reports: tuple[Report, ...]
    metrics: tuple[ComparedMetric, ...]

    def metric(self, key: str) -> ComparedMetric:
        for metric in self.metrics:
            if metric.key == key:
                return metric
        raise KeyError(key)

    def to_dict(self) -> dict:
        return {
            "labels": list(self.labels),
            "models": [r.model for r in self.reports],
            "input_shapes": [list(r.input_shape) for r in self.reports],
            "batches": [r.batch for r in self.reports],
            "dtypes": [r.dtype for r in self.reports],
            "conventions": [r.convention.name for r in self.reports],
            "metrics": [
                {"key": m.key, "label": m.label, "unit": m.kind, "values": list(m.values), "ratios": list(m.ratios)}
                for m in self.metrics
            ],
        }


def total_value(report: Report, key: str) -> int:
    """A total by key: ``params``, ``macs``, ``training_bytes.adam``, ..."""
    head, _, sub = key.partition(".")
    if head == "llm":
        return report.llm.metric(sub)
    value = getattr(report.totals, head)
    return value[sub] if sub else value


def compare(reports: list[Report] | tuple[Report, ...], labels: list[str] | None = None) -> Comparison:
    """Totals of ``reports`` side by side, each with its ratio to the first report's."""
    if not reports:
        raise ValueError("nothing to compare")
    labels = tuple(labels) if labels else tuple(r.model for r in reports)
    metrics = []
    extra: tuple[tuple[str, str, str], ...] = ()
    if all(r.llm is not None for r in reports):
        first = reports[0].llm
        extra = tuple(
            (key, label + (f" ({first.serving[0].gpu.name.removeprefix('NVIDIA ')})" if kind in ("seconds", "rate")
                           else f" [{first.memory.plan.precision}, {first.memory.plan.optimizer}, "
                                f"ZeRO-{first.memory.plan.zero}]" if key == "llm.training_bytes" else ""), kind)
            for key, label, kind in LLM_METRICS
            if (kind not in ("seconds", "rate") or all(r.llm.serving for r in reports))
            and (key not in ("llm.kv_cache_bytes", "llm.inference_bytes") or all(r.llm.kv for r in reports))
        )
    for key, label, kind in METRICS + extra:
        if key.startswith("training_bytes.") and any(key.split(".", 1)[1] not in r.totals.training_bytes for r in reports):
            continue
        if key == "flops":
            names = {r.convention.name for r in reports}
            if names == {"macs"}:
                continue  # the same numbers as MACs
            label = f"{reports[0].convention.unit} [{', '.join(sorted(names))}]"
        values = tuple(total_value(r, key) for r in reports)
        first = values[0]
        ratios = tuple(v / first if first else None for v in values)
        metrics.append(ComparedMetric(key, label, kind, values, ratios))
    return Comparison(labels=labels, reports=tuple(reports), metrics=tuple(metrics))
