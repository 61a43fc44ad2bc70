"""What a capture must guarantee around the user's forward: the model left as found, and a
batch size that no model dimension can imitate.

:class:`ModuleState` snapshots every module reachable from the root (each object once,
whatever number of names it has: ``s.b = s.a``) with its attribute dictionary, its
parameter, buffer and submodule tables and its class, and puts all of it back: on success,
on error and on ``KeyboardInterrupt``. A forward that caches a tensor on ``self``
(``self.aux_out = ...``, a rotary cache) leaves nothing behind; a swap that
``torch.func.functional_call`` made under one name of a module with two is undone under
both. The global random state (torch's CPU generator and Python's ``random``) is restored
too, so an analysis never changes what the user's next random draw gives.

:func:`choose_batch` picks the capture's batch size. Shapes are reported per sample: the
capture finds the batch axis of every tensor as the axis whose size is a multiple of the
batch. That is exact when the batch is a prime that divides no size the model produces
for one sample, so :func:`choose_batch` first runs forward at batch 1 (on meta tensors:
no memory, a few milliseconds per layer), collects every size of every tensor produced
(:class:`SizeProbe`), and takes the first candidate prime that divides none of them. A
"same" padding that takes 96 to 97, or a 97-token sequence, then never reads as the batch.

:func:`isolated_forward` keeps the user's forward from reaching outside the analysis: tensors it
creates land on meta even where it names a device (``torch.zeros(50000, 50000,
device="cpu")`` allocates nothing), and what it prints goes to stderr, so that ``-f json`` on
stdout stays JSON.
"""

from __future__ import annotations

import contextlib
import functools
import random
import sys
from collections.abc import Iterable, Iterator
from typing import Any

import torch
from torch import nn
from torch.utils._device import DeviceContext, _device_constructors
from torch.utils._python_dispatch import TorchDispatchMode
from archcalc.frontends.leaves import leaves

#: batch sizes tried for a meta capture (primes; the first that divides no per-sample size wins)
META_CANDIDATES = (97, 89, 83, 79, 73, 71, 101, 103, 107, 109, 113, 127, 131, 137, 139, 149, 151, 157)
#: batch sizes tried for a real (allocating) capture: small primes, to keep the activations small
REAL_CANDIDATES = (5, 7, 11, 13, 17, 19, 23, 29, 31, 37, 41, 43, 47, 53, 59, 61, 67)


class ModuleState:
    """Every module's attributes, tensors, submodules and class, and the global RNG state,
    as they were; :meth:`restore` puts them back."""

    def __init__(self, root: nn.Module) -> None:
        self.modules: list[tuple[nn.Module, type, dict, dict, dict, dict]] = []
        seen: set[int] = set()
        for _, sub in root.named_modules(remove_duplicate=False):
            if id(sub) in seen:
                continue
            seen.add(id(sub))
            self.modules.append((sub, type(sub), dict(sub.__dict__), dict(sub._parameters), dict(sub._buffers),
                                 dict(sub._modules)))
        self.torch_rng = torch.get_rng_state()
        self.python_rng = random.getstate()

    def restore(self) -> None:
        for sub, cls, attributes, parameters, buffers, modules in self.modules:
            if type(sub) is not cls:
                sub.__class__ = cls
            if _changed(sub.__dict__, attributes):
                sub.__dict__.clear()
                sub.__dict__.update(attributes)
            for table, saved in ((sub._parameters, parameters), (sub._buffers, buffers), (sub._modules, modules)):
                if _changed(table, saved):
                    table.clear()
                    table.update(saved)
        torch.set_rng_state(self.torch_rng)
        random.setstate(self.python_rng)


class MetaDevice(DeviceContext):
    """``torch.device("meta")`` as a context, which also puts on meta the factory calls that name
    another device (``torch.zeros(..., device="cpu")``, ``x.new_empty(..., device=...)``): a meta
    pass allocates nothing. One mode for both, so that each torch call of the forward passes one
    Python handler rather than two."""

    def __init__(self) -> None:
        super().__init__("meta")

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        device = kwargs.get("device")
        if device is None:
            if func in _device_constructors():
                kwargs["device"] = self.device
        elif str(device) != "meta":
            kwargs = {**kwargs, "device": "meta"}
            kwargs.pop("pin_memory", None)
        return func(*args, **kwargs)


@contextlib.contextmanager
def isolated_forward(meta: bool) -> Iterator[None]:
    """While the user's forward runs: its prints on stderr; on a meta pass, every tensor it makes on
    meta (:class:`MetaDevice`, the default device included)."""
    with contextlib.ExitStack() as stack:
        stack.enter_context(contextlib.redirect_stdout(sys.stderr))
        if meta:
            stack.enter_context(MetaDevice())
        yield


def _changed(now: dict, saved: dict) -> bool:
    """Whether a table gained or lost a key or holds another object under one (identity, never
    ``==``: tensors compare element-wise)."""
    return now.keys() != saved.keys() or any(now[key] is not value for key, value in saved.items())


class SizeProbe(TorchDispatchMode):
    """Collects every size of every tensor an aten op produces, and the FLOPs of the ops that ran
    (torch's own formulas, ``torch.utils.flop_counter``, as FlopCounterMode prices them): what a
    real forward at a larger batch would cost, in multiples of this one."""

    @classmethod
    def _should_skip_dynamo(cls) -> bool:  # archcalc never compiles (see torch_capture.AtenListener)
        return False

    def __init__(self) -> None:
        super().__init__()
        self.sizes: set[int] = set()
        self.flops = 0

    def add(self, tensors: Iterable[Any]) -> None:
        for tensor in tensors:
            if isinstance(tensor, torch.Tensor):
                self.sizes.update(int(size) for size in tensor.shape)

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        from archcalc.frontends import meta_memo

        kwargs = kwargs or {}
        out = meta_memo.run(func, args, kwargs)
        self.add(leaves(out))
        formula = flop_formulas().get(func.overloadpacket)
        if formula is not None:
            with contextlib.suppress(Exception):  # a formula that cannot read these arguments: not priced
                self.flops += int(formula(*args, **kwargs, out_val=out))
        return out


@functools.cache
def flop_formulas() -> dict:
    """torch's FLOP formulas by aten op (``torch.utils.flop_counter.flop_registry``: FlopCounterMode's own;
    the registry itself, which torch fills as it registers formulas)."""
    from torch.utils.flop_counter import flop_registry

    return flop_registry


def first_free_prime(sizes: Iterable[int], candidates: tuple[int, ...]) -> int:
    """The first candidate that divides none of ``sizes`` (zeros and ones aside)."""
    sizes = {size for size in sizes if size > 1}
    for prime in candidates:
        if all(size % prime for size in sizes):
            return prime
    return candidates[0]
