"""The aten ops inside a torch-level call are recorded after it, and only when the call maps to no
rule (archcalc.frontends.torch_capture.Capture.on_function): what they record is what recording
them as they ran gives."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")

from archcalc.frontends.records import CallScope  # noqa: E402
from archcalc.frontends.torch_capture import AtenListener, Capture  # noqa: E402


def _capture_of(run_inside, func=torch.exp):
    """The records of one call of ``func`` whose work is ``run_inside(x)`` on an input of 4 per sample."""
    capture = Capture(97, {}, {})
    capture.meta = True
    x = torch.empty(97, 4, device="meta")
    capture.set_input(x)
    capture.stack.append(CallScope(path="m", name="m", module=None, mark=0))
    with AtenListener(capture):
        out = capture.on_function(func, (x,), {}, lambda: run_inside(x))
    return capture.records, out


def test_a_call_that_maps_to_its_rule_keeps_only_its_own_record():
    records, _ = _capture_of(lambda x: torch.ops.aten.exp.default(torch.ops.aten.mul.Tensor(x, 1.0)))
    assert [(r.op, r.fn, r.shape) for r in records] == [("pointwise", "exp", (4,))]  # no record of mul


def test_ops_before_a_shape_changed_in_place_are_read_as_they_ran():
    """Inside a call that maps to no rule (``F.softmax`` without its ``dim``: its aten ops stand),
    ``mul`` ran on a tensor that ``unsqueeze_`` then reshaped in place: ``mul`` is recorded with the
    shape it gave."""

    def inside(x):
        y = torch.ops.aten.mul.Tensor(x, 2.0)
        y.unsqueeze_(1)
        return torch.ops.aten.exp.default(y)

    records, out = _capture_of(inside, torch.nn.functional.softmax)
    assert tuple(out.shape) == (97, 1, 4)
    by_fn = {r.fn: r.shape for r in records}
    assert by_fn["mul"] == (4,)  # as it ran, not the (1, 4) the tensor has after unsqueeze_
    assert by_fn["exp"] == (1, 4)
