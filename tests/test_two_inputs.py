"""Layers of two inputs and losses (archcalc/layers/similarity.py, loss.py, pool.py's
max_unpool): live modules with several inputs against real forward passes, numel(),
FlopCounterMode and fvcore, the arithmetic written out here, and every explain step evaluated."""

from __future__ import annotations

import pytest

from tests.test_derivation import check_step, report_value
from tests.torch_truth import fvcore_total, numel, output_shape, torch, torch_total

from archcalc.derivation import explain_row  # noqa: E402
from archcalc.frontends import analyze_module  # noqa: E402
from archcalc.frontends.module_inputs import InputSpec  # noqa: E402

nn = torch.nn
BATCH = 3


def explained(report):
    for row in report.rows:
        for step in explain_row(row, report):
            check_step(step, report_value(row, step.key))


def test_bilinear():
    module = nn.Bilinear(3, 4, 5)
    a, b = torch.randn(BATCH, 6, 3), torch.randn(BATCH, 6, 4)
    report = analyze_module(module, [(6, 3), (6, 4)], batch=BATCH)
    (row,) = report.rows
    assert row.op == "bilinear" and report.counts_status == "complete"
    assert row.output_shape == output_shape(module, (a, b)) == (6, 5)
    assert row.params == numel(module) == 5 * 3 * 4 + 5
    # every weight once per position; the outer product x1 x2^T once per position
    assert row.macs == BATCH * 6 * 5 * 3 * 4 and row.ops.muls == BATCH * 6 * 3 * 4
    assert fvcore_total(module, (a, b)) == torch_total(module, (a, b)) == 0
    explained(report)


def test_cosine_similarity_and_pairwise_distance():
    a, b = torch.randn(BATCH, 8, 5), torch.randn(BATCH, 8, 5)
    cosine = analyze_module(nn.CosineSimilarity(dim=1), [(8, 5), (8, 5)], batch=BATCH)
    (row,) = cosine.rows
    assert row.output_shape == output_shape(nn.CosineSimilarity(dim=1), (a, b)) == (5,)
    outputs = BATCH * 5
    # n = 8 along dim 1: x1 x2, x1^2, x2^2 (3n muls) + the norms' product; three sums; eps; sqrt; div
    assert (row.ops.muls, row.ops.adds, row.ops.cmps, row.ops.exps, row.ops.divs) == (
        outputs * 25, outputs * 21, outputs, outputs, outputs)
    explained(cosine)
    distance = analyze_module(nn.PairwiseDistance(), [(8, 5), (8, 5)], batch=BATCH)
    (row,) = distance.rows
    assert row.output_shape == output_shape(nn.PairwiseDistance(), (a, b)) == (8,)
    outputs = BATCH * 8
    # n = 5 over the last axis: difference and + eps (2n adds), the sum (n - 1), n squares, a root
    assert (row.ops.adds, row.ops.muls, row.ops.exps) == (outputs * 14, outputs * 5, outputs)
    explained(distance)


def test_max_unpool_is_data_movement():
    pool, unpool = nn.MaxPool2d(2, return_indices=True), nn.MaxUnpool2d(2)

    class PoolUnpool(nn.Module):
        def __init__(self):
            super().__init__()
            self.pool, self.unpool = pool, unpool

        def forward(self, x):
            y, indices = self.pool(x)
            return self.unpool(y, indices)

    model = PoolUnpool()
    x = torch.randn(BATCH, 3, 6, 6)
    report = analyze_module(model, (3, 6, 6), batch=BATCH)
    assert report.counts_status == "complete"
    assert [row.op for row in report.rows][-1] == "max_unpool"
    assert report.rows[-1].output_shape == output_shape(model, x) == (3, 6, 6)
    # the pooling's comparisons only: 3*3*3 outputs of 2*2 - 1
    assert report.rows[-1].ops.elementary == 0 and report.rows[0].ops.cmps == BATCH * 27 * 3


C = 10


@pytest.mark.parametrize("module, target, per_sample", [
    # (x - y)^2 per element
    (nn.MSELoss(reduction="none"), lambda: torch.randn(BATCH, 7), {"adds": 7, "muls": 7}),
    # -log_softmax(x)[y]: C exps and a log, 2C adds, the negation
    (nn.CrossEntropyLoss(reduction="none"), lambda: torch.randint(0, C, (BATCH,)),
     {"exps": C + 1, "adds": 2 * C, "muls": 1}),
    # with a mean over the batch: + one add per value
    (nn.CrossEntropyLoss(), lambda: torch.randint(0, C, (BATCH,)), {"exps": C + 1, "adds": 2 * C + 1, "muls": 1}),
    # -(y log x + (1 - y) log(1 - x)): 2 logs, 2 clamps, 3 adds, 3 muls
    (nn.BCELoss(reduction="sum"), lambda: torch.rand(BATCH, 7), {"exps": 14, "cmps": 14, "adds": 21 + 7, "muls": 21}),
    (nn.NLLLoss(weight=torch.ones(C), reduction="none"), lambda: torch.randint(0, C, (BATCH,)), {"muls": 2}),
])
def test_loss_arithmetic(module, target, per_sample):
    y = target()
    classes = y.dtype == torch.int64
    x = torch.randn(BATCH, C) if classes else torch.rand(BATCH, 7).clamp(0.05, 0.95)
    spec = [InputSpec(tuple(x.shape[1:])), InputSpec(tuple(y.shape[1:]), "int64" if classes else None)]
    report = analyze_module(module, spec, batch=BATCH)
    (row,) = [row for row in report.rows if row.op == "loss"]
    assert report.counts_status == "complete"
    assert report.totals.buffers == sum(b.numel() for b in module.buffers())
    for kind in ("adds", "muls", "divs", "cmps", "exps"):
        assert getattr(row.ops, kind) == BATCH * per_sample.get(kind, 0), kind
    assert torch_total(module, (x, y)) == 0
    explained(report)


def test_linear_cross_entropy_counts_its_head():
    module = nn.LinearCrossEntropyLoss(16, C, bias=True, reduction="none")
    x, y = torch.randn(BATCH, 16), torch.randint(0, C, (BATCH,))
    report = analyze_module(module, [InputSpec((16,)), InputSpec((), "int64")], batch=BATCH)
    assert report.totals.params == numel(module) == 16 * C + C
    assert report.totals.macs == BATCH * 16 * C
    assert analyze_module(module, [InputSpec((16,)), InputSpec((), "int64")], batch=BATCH,
                          convention="torch").totals.flops == torch_total(module, (x, y))
    explained(report)
