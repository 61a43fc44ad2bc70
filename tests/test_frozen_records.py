"""The per-layer records made by archcalc.frozen_records are the records their dataclasses make:
every field set, equal, printed and hashed alike, and still frozen."""

from __future__ import annotations

import dataclasses

import pytest

from archcalc import analyze
from archcalc.breakdown import table_entries
from archcalc.frozen_records import record_maker


def _records(model: str, input: str | None = None) -> list:
    report = analyze(model, input)
    return [*report.rows, *[row.rf for row in report.rows if row.rf is not None], *table_entries(report)]


@pytest.mark.parametrize("model", ["vgg16", "resnet50", "googlenet", "vit_b_16"])
def test_records_hold_every_field_and_equal_their_constructors(model):
    from archcalc.api import load_graph

    graph, _ = load_graph(model)
    for record in [*graph.nodes, *_records(model)]:
        names = [f.name for f in dataclasses.fields(record)]
        assert not hasattr(record, "__dict__")  # slots only: every field is a slot, set or AttributeError
        rebuilt = type(record)(**{name: getattr(record, name) for name in names})
        assert rebuilt == record
        assert repr(rebuilt) == repr(record)


def test_a_frozen_record_stays_frozen():
    from archcalc.report import ReceptiveField

    field = record_maker(ReceptiveField)(size=(3, 3), jump=(1, 1), start=(0, 0))
    assert field == ReceptiveField((3, 3), (1, 1), (0, 0))
    assert hash(field) == hash(ReceptiveField((3, 3), (1, 1), (0, 0)))
    with pytest.raises(dataclasses.FrozenInstanceError):
        field.size = (5, 5)


def test_a_maker_wants_every_field():
    from archcalc.report import ReceptiveField

    with pytest.raises(TypeError):
        record_maker(ReceptiveField)(size=(3, 3), jump=(1, 1))
