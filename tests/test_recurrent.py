"""RNN, LSTM and GRU and their cells (archcalc/layers/recurrent.py): every step counted, the
first step's W_hh h_0 included, against real forward passes, numel(), FlopCounterMode (which
sees the addmm/mm of GRU, RNN, cells and projected LSTMs; a plain LSTM runs as one oneDNN
kernel on the CPU and counts 0), fvcore (which counts the cells' addmm only), and the
arithmetic written out here.

The issue's truths: nn.LSTM(16, 32, num_layers=2, batch_first=True) + nn.Linear(32, 5) on the
last step, 12 steps: 172,192 MACs; nn.GRU(16, 24, batch_first=True, bidirectional=True), 12
steps: 69,120 (archcalc gave 164,000 and 65,664, skipping W_hh h_0).
"""

from __future__ import annotations

import pytest

from tests.torch_truth import fvcore_total, numel, output_shape, torch, torch_total

from archcalc.frontends import analyze_module  # noqa: E402

nn = torch.nn
BATCH = 3


class LastStep(nn.Module):
    def __init__(self):
        super().__init__()
        self.lstm = nn.LSTM(16, 32, num_layers=2, batch_first=True)
        self.head = nn.Linear(32, 5)

    def forward(self, x):
        out, _ = self.lstm(x)
        return self.head(out[:, -1])


def test_issue_truth_lstm_two_layers_and_a_head():
    model = LastStep()
    report = analyze_module(model, (12, 16))
    assert report.counts_status == "complete"
    assert report.totals.macs == 12 * 4 * 32 * (16 + 32) + 12 * 4 * 32 * (32 + 32) + 32 * 5 == 172_192
    assert report.totals.params == numel(model)
    assert report.rows[-1].output_shape == output_shape(model, torch.randn(2, 12, 16)) == (5,)


def test_issue_truth_bidirectional_gru():
    model = nn.GRU(16, 24, batch_first=True, bidirectional=True)
    x = torch.randn(BATCH, 12, 16)
    report = analyze_module(model, (12, 16), batch=BATCH)
    assert report.totals.macs == BATCH * 2 * 12 * 3 * 24 * (16 + 24) == BATCH * 69_120
    # torch's counter sees the GRU's addmm, h_0's included: 2 per MAC
    assert analyze_module(model, (12, 16), batch=BATCH, convention="torch").totals.flops == torch_total(model, x)
    assert torch_total(model, x) == 2 * BATCH * 69_120


def macs(gates, hidden, features, layers=1, directions=1, proj=0, steps=1):
    """MACs of a recurrent layer, written out: per step, layer and direction G*H*(in + H_out)
    (+ P*H for the projection), in = F for the first layer and D*H_out for the others."""
    h_out = proj or hidden
    total = 0
    for layer in range(layers):
        width = features if layer == 0 else directions * h_out
        total += directions * (gates * hidden * (width + h_out) + proj * hidden)
    return steps * total


# (module, per-sample input, MACs written out, torch's counter sees it, fvcore counts it)
CASES = [
    (nn.LSTM(16, 32, num_layers=2, batch_first=True), (12, 16), macs(4, 32, 16, layers=2, steps=12), False, False),
    (nn.LSTM(10, 12, proj_size=5, bidirectional=True, batch_first=True), (7, 10),
     macs(4, 12, 10, directions=2, proj=5, steps=7), True, False),
    (nn.LSTM(8, 6, num_layers=3, bias=False, bidirectional=True, batch_first=True), (6, 8),
     macs(4, 6, 8, layers=3, directions=2, steps=6), False, False),
    (nn.GRU(16, 8, num_layers=2, batch_first=True), (5, 16), macs(3, 8, 16, layers=2, steps=5), True, False),
    (nn.GRU(6, 4, bias=False, batch_first=True), (9, 6), macs(3, 4, 6, steps=9), True, False),
    (nn.RNN(5, 7, num_layers=2, nonlinearity="relu", bidirectional=True, batch_first=True), (9, 5),
     macs(1, 7, 5, layers=2, directions=2, steps=9), True, False),
    (nn.LSTMCell(10, 12), (10,), macs(4, 12, 10), True, True),
    (nn.GRUCell(10, 6, bias=False), (10,), macs(3, 6, 10), True, True),
    (nn.RNNCell(10, 4, nonlinearity="relu"), (10,), macs(1, 4, 10), True, True),
]


@pytest.mark.parametrize("module, shape, expected, torch_sees, fvcore_sees", CASES,
                         ids=[type(case[0]).__name__ for case in CASES])
def test_recurrent_modules(module, shape, expected, torch_sees, fvcore_sees):
    x = torch.randn(BATCH, *shape)
    report = analyze_module(module, shape, batch=BATCH)
    row = report.rows[0]  # then the final states the module returns too: (h_n, c_n), c'
    assert report.counts_status == "complete"
    assert row.output_shape == output_shape(module, x)
    assert row.params == report.totals.params == numel(module)
    assert row.macs == report.totals.macs == BATCH * expected
    assert torch_total(module, x) == (2 * BATCH * expected if torch_sees else 0)
    assert analyze_module(module, shape, batch=BATCH, convention="torch").totals.flops == torch_total(module, x)
    assert fvcore_total(module, x) == (BATCH * expected if fvcore_sees else 0)
    assert analyze_module(module, shape, batch=BATCH, convention="fvcore").totals.flops == fvcore_total(module, x)


def test_gate_arithmetic_written_out():
    """LSTM per hidden unit and step (PyTorch docs): gates' x + h parts 4 adds, 3 sigmoids (1 exp,
    1 add, 1 div each), 2 tanh, c' = f*c + i*g (2 muls, 1 add), h' = o*tanh(c') (1 mul)."""
    report = analyze_module(nn.LSTM(4, 5, batch_first=True), (3, 4))
    ops = report.rows[0].ops
    units = 3 * 5
    assert (ops.adds, ops.muls, ops.divs, ops.exps) == (units * (4 + 3 + 1), units * 3, units * 3, units * 5)
    assert ops.bias_adds == units * 2 * 4
    # GRU: r, z sigmoids, n = tanh(W_in x + b_in + r*(W_hn h + b_hn)), h' = (1 - z)*n + z*h
    ops = analyze_module(nn.GRU(4, 5, batch_first=True), (3, 4)).rows[0].ops
    assert (ops.adds, ops.muls, ops.divs, ops.exps) == (units * (3 + 2 + 2), units * 3, units * 2, units * 3)


class StateHead(nn.Module):
    """Reads the final hidden state h_n, a second output of the LSTM."""

    def __init__(self):
        super().__init__()
        self.lstm = nn.LSTM(6, 8, num_layers=2, batch_first=True)
        self.head = nn.Linear(8, 3)

    def forward(self, x):
        _, (h, _) = self.lstm(x)
        return self.head(h[-1])


def test_final_state_is_traced():
    model = StateHead()
    report = analyze_module(model, (4, 6), batch=BATCH)
    assert not report.warnings, [w.message for w in report.warnings]
    assert report.totals.macs == BATCH * (macs(4, 8, 6, layers=2, steps=4) + 8 * 3)
    assert report.rows[-1].output_shape == output_shape(model, torch.randn(BATCH, 4, 6)) == (3,)
    assert report.totals.params == numel(model)


class CellLoop(nn.Module):
    def __init__(self):
        super().__init__()
        self.cell = nn.GRUCell(6, 8)

    def forward(self, x):
        h = None
        for t in range(x.shape[1]):
            h = self.cell(x[:, t], h)
        return h


def test_cell_in_a_loop_counts_every_step():
    model = CellLoop()
    x = torch.randn(BATCH, 5, 6)
    report = analyze_module(model, (5, 6), batch=BATCH)
    assert [row.op for row in report.rows].count("gru_cell") == 5
    assert report.totals.macs == BATCH * 5 * 3 * 8 * (6 + 8)
    assert analyze_module(model, (5, 6), batch=BATCH, convention="torch").totals.flops == torch_total(model, x)
    assert report.totals.params == numel(model)


def test_sequence_first_layout():
    """batch_first=False: torch reads (T, N, F). The capture puts its batch first, which such a
    module reads as time; per sample the counts are the same: T steps of every layer."""
    module = nn.GRU(16, 24, num_layers=2)
    x = torch.randn(12, BATCH, 16)  # (T, N, F), as the module expects
    report = analyze_module(module, (12, 16), batch=BATCH)
    assert report.totals.macs == BATCH * macs(3, 24, 16, layers=2, steps=12)
    assert analyze_module(module, (12, 16), batch=BATCH, convention="torch").totals.flops == torch_total(module, x)
    assert report.rows[0].output_shape == (12, 24)
