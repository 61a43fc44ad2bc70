"""``archcalc.frontends.leaves.leaves`` against torch's own ``tree_flatten`` (the truth): the same
leaves, the same objects, in the same order, for every container kind the capture meets."""

from __future__ import annotations

import collections

import pytest

torch = pytest.importorskip("torch")
from torch.utils._pytree import tree_flatten  # noqa: E402

from archcalc.frontends.leaves import leaves  # noqa: E402

Pair = collections.namedtuple("Pair", "first second")


def _cases():
    x, y = torch.zeros(2), torch.ones(3)
    yield None
    yield x
    yield (x, None, [y, {"a": 3, "b": (x,)}])
    yield torch.Size([2, 3])
    yield (torch.Size([2]), 4.0, "text")
    yield Pair(x, [y, None])
    yield collections.OrderedDict(b=x, a=y)
    yield torch.max(torch.randn(3, 4), dim=1)  # a torch.return_types structseq
    yield {"k": None, "z": [None, 5], "y": ((), [], {})}
    transformers = pytest.importorskip("transformers")
    yield transformers.modeling_outputs.BaseModelOutput(last_hidden_state=x, hidden_states=(x, y))


@pytest.mark.parametrize("index", range(10))
def test_leaves_are_tree_flattens(index):
    cases = list(_cases())
    if index >= len(cases):
        pytest.skip("transformers is not installed")
    tree = cases[index]
    ours, theirs = leaves(tree), tree_flatten(tree)[0]
    assert len(ours) == len(theirs)
    assert all(a is b for a, b in zip(ours, theirs))
