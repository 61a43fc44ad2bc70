"""A small mixture-of-experts model (archcalc/layers/moe.py): a router, top-k routing, sort,
histc, cumsum, two grouped expert matmuls (torch._grouped_mm) and a scatter back; its truth
computed by hand here, "activated experts only", checked against a real CPU forward pass,
numel() and FlopCounterMode (which prices the router's mm and not _grouped_mm)."""

from __future__ import annotations

from math import ceil, log2

from tests.test_derivation import check_step, report_value
from tests.torch_truth import numel, torch, torch_total

from archcalc.derivation import explain_row  # noqa: E402
from archcalc.frontends import analyze_module  # noqa: E402

nn = torch.nn
F = torch.nn.functional

D, H, EXPERTS, K, T, BATCH = 16, 32, 4, 2, 5, 3


class GroupedMoE(nn.Module):
    """Top-k routing; the routed rows sorted by expert go through grouped matmuls."""

    def __init__(self):
        super().__init__()
        self.router = nn.Linear(D, EXPERTS, bias=False)
        self.w_up = nn.Parameter(torch.randn(EXPERTS, D, H) * 0.1)
        self.w_down = nn.Parameter(torch.randn(EXPERTS, H, D) * 0.1)

    def forward(self, x):
        n, t, d = x.shape
        tokens = x.reshape(-1, d)
        weights, chosen = self.router(tokens).softmax(-1).topk(K, dim=-1)
        flat = chosen.flatten()
        order = flat.argsort()
        offsets = torch.histc(flat.float(), bins=EXPERTS, min=0, max=EXPERTS - 1).cumsum(0).to(torch.int32)
        routed = tokens.repeat_interleave(K, dim=0)[order]
        hidden = F.silu(torch._grouped_mm(routed, self.w_up, offs=offsets))
        out = torch._grouped_mm(hidden, self.w_down, offs=offsets)
        back = torch.empty_like(out)
        back[order] = out
        return (back.view(n * t, K, d) * weights.unsqueeze(-1)).sum(1).view(n, t, d)


def test_moe_counts_the_activated_experts():
    model = GroupedMoE().to(torch.bfloat16)
    x = torch.randn(BATCH, T, D, dtype=torch.bfloat16)
    report = analyze_module(model, (T, D), batch=BATCH)
    assert report.counts_status == "complete", report.not_counted
    tokens, routed = BATCH * T, BATCH * T * K
    # the router on every token; each token through K of the E experts' up and down matrices
    router = tokens * D * EXPERTS
    experts = routed * D * H + routed * H * D
    assert report.totals.macs == router + experts == 31_680
    # every expert's weights count once, routed or not
    assert report.totals.params == numel(model) == D * EXPERTS + 2 * EXPERTS * D * H
    with torch.no_grad():
        out = model(x)
    assert report.rows[-1].output_shape in (tuple(out.shape), tuple(out.shape[1:]))
    grouped = [row for row in report.rows if row.op == "grouped_mm"]
    assert [row.macs for row in grouped] == [routed * D * H, routed * H * D]
    assert all(row.attrs["experts_counted"] == "activated only" for row in grouped)
    from archcalc.render.exports import to_json

    assert '"experts_counted": "activated only"' in to_json(report)
    # torch's counter prices the router's mm (2 per MAC) and has no formula for _grouped_mm
    assert torch_total(model, x) == 2 * router
    assert analyze_module(model, (T, D), batch=BATCH, convention="torch").totals.flops == torch_total(model, x)


def test_routing_arithmetic():
    model = GroupedMoE().to(torch.bfloat16)
    report = analyze_module(model, (T, D), batch=BATCH)
    by_fn = {row.attrs.get("fn"): row for row in report.rows if "fn" in row.attrs}
    tokens, routed = BATCH * T, BATCH * T * K
    # topk of K among E per token: K passes of a max over what is left
    assert by_fn["topk"].ops.cmps == tokens * (K * EXPERTS - K * (K + 1) // 2)
    # sort of the routed rows' experts: n ceil(log2 n)
    assert by_fn["sort"].ops.cmps == routed * ceil(log2(routed))
    # histc: 2 range checks, 2 adds, 1 mul per element; cumsum over E bins: E - 1 adds
    assert (by_fn["histc"].ops.cmps, by_fn["histc"].ops.adds, by_fn["histc"].ops.muls) == (2 * routed, 2 * routed, routed)
    assert by_fn["cumsum"].ops.adds == EXPERTS - 1
    for row in report.rows:
        for step in explain_row(row, report):
            check_step(step, report_value(row, step.key))


class BatchedExperts(nn.Module):
    """Every expert on its own rows: ``_grouped_mm(A (E, M, K), B (E, K, N))``, M the batch."""

    def __init__(self):
        super().__init__()
        self.w = nn.Parameter(torch.randn(EXPERTS, D, H) * 0.1)

    def forward(self, x):
        return torch._grouped_mm(x.transpose(0, 1), self.w).transpose(0, 1)


def test_batched_grouped_mm():
    model = BatchedExperts().to(torch.bfloat16)
    x = torch.randn(BATCH, EXPERTS, D, dtype=torch.bfloat16)
    report = analyze_module(model, (EXPERTS, D), batch=BATCH)
    assert report.counts_status == "complete"
    # each sample's row for each expert through that expert's D x H
    assert report.totals.macs == BATCH * EXPERTS * D * H
    assert report.totals.params == numel(model)
    with torch.no_grad():
        assert report.rows[-1].output_shape == tuple(model(x).shape[1:])
