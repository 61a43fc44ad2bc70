"""A memo of meta kernels: an aten op on meta tensors is run once per signature.

Why: on the meta device most aten ops run a *Python* meta kernel (``torch._meta_registrations``
and the ``torch._refs`` decompositions behind them): ``add`` and ``mul`` take about 200 us,
``gelu`` and ``_safe_softmax`` over 1 ms, where the same op on a small real CPU tensor takes
2 us. A model repeats its ops: every block of a transformer runs the same ops on tensors of the
same sizes, and archcalc runs a module's forward more than once (the capture, the training-mode
measurement of saved activations, the fused-attention measurement). So the result of a meta
kernel is remembered by what it can depend on, and the next call with the same signature
makes its outputs directly (``torch.empty_strided``, a C++ call of about 3 us).

What a meta kernel's output depends on: the op, and each argument's metadata (a tensor's
shape, strides, storage offset, dtype, device and layout; any other argument's type and value).
The kernel reads no values (there are none). So the memo is exact by construction for every
op it admits:

* every tensor argument is a plain strided tensor on meta (a real tensor would really compute:
  its values matter);
* the op does not write into an argument (the schema's alias annotations: in-place and ``out=``
  ops return their argument, with its identity) and returns no view (a view shares its base's
  storage; ``view``, ``transpose``, ``expand`` are C++ and fast anyway);
* every output is a fresh tensor: checked on the first call of each signature, which records
  nothing when an output shares storage with an argument or another output, or is not a tensor
  (and the op is then never memoised: :data:`_ALIASING`);
* a call that raises is not recorded (the next one raises again, from the kernel itself).

The memo lives for one analysis (:func:`session`): ``archcalc.analyze`` opens one, and
every meta forward inside it (:mod:`~archcalc.frontends.torch_module`'s capture and probe,
:mod:`~archcalc.llm.saved_tensors`' measurements) shares it. Outside a session,
:func:`run` simply runs the op. (Opening a session imports nothing: the YAML path never
imports torch.)
"""

from __future__ import annotations

import contextlib
import contextvars
import functools
from collections.abc import Callable, Iterator
from typing import Any

#: the memo of the current analysis: (op, signature) -> (output tree spec, output metadata)
_MEMO: contextvars.ContextVar[dict | None] = contextvars.ContextVar("archcalc_meta_memo", default=None)

#: ops (by id: aten's op objects live as long as the process) seen returning an output that
#: aliases an argument: never memoised
_ALIASING: set[int] = set()
#: whether an op's schema lets it write into or return an argument, by op id
_SCHEMA_SAFE: dict[int, bool] = {}


@contextlib.contextmanager
def session() -> Iterator[None]:
    """One analysis's memo (nested sessions share the outer one)."""
    if _MEMO.get() is not None:
        yield
        return
    token = _MEMO.set({})
    try:
        yield
    finally:
        _MEMO.reset(token)


def run(func: Any, args: tuple, kwargs: dict, call: Callable[[], Any] | None = None) -> Any:
    """``func(*args, **kwargs)``, from the memo when this signature ran before in this session.

    ``call``: how to run the op for real (by default ``func(*args, **kwargs)``)."""
    memo = _MEMO.get()
    call = call or (lambda: func(*args, **kwargs))
    if memo is None or not _admitted(func):
        return call()
    import torch

    try:
        key = (id(func), _signature(args, torch.Tensor), _signature(tuple(kwargs.items()), torch.Tensor))
        known = memo.get(key)
    except _NotMemoised:
        return call()
    if known is not None:
        single, metadata = known
        outputs = [torch.empty_strided(shape, stride, dtype=dtype, device="meta") for shape, stride, dtype in metadata]
        return outputs[0] if single else tuple(outputs)
    out = call()
    recorded = _record(func, args, kwargs, out)
    if recorded is not None:
        memo[key] = recorded
    return out


def memo_mode() -> Any:
    """A dispatch mode that runs every aten op through the memo (for a meta forward that has no
    dispatch mode of its own: the measurement of saved activations)."""
    return _memo_mode_class()()


@functools.cache
def _memo_mode_class() -> type:
    from torch.utils._python_dispatch import TorchDispatchMode

    class MemoMode(TorchDispatchMode):
        @classmethod
        def _should_skip_dynamo(cls) -> bool:  # archcalc never compiles (see torch_capture.AtenListener)
            return False

        def __torch_dispatch__(self, func, types, args=(), kwargs=None):
            return run(func, args, kwargs or {})

    return MemoMode


def _admitted(func: Any) -> bool:
    """An aten op whose schema neither writes into an argument nor returns one (no alias
    annotation on any argument or return), and not yet seen aliasing."""
    safe = _SCHEMA_SAFE.get(id(func))
    if safe is None:
        schema = getattr(func, "_schema", None)
        safe = schema is not None and not any(
            a.alias_info is not None for a in (*schema.arguments, *schema.returns))
        _SCHEMA_SAFE[id(func)] = safe
    return safe and id(func) not in _ALIASING


class _NotMemoised(Exception):
    """An argument the memo cannot key (a real or subclassed tensor, an object without a value)."""


#: argument types keyed by their value
_PLAIN = (bool, int, float, str, type(None))


def _signature(values: tuple, tensor_type: type) -> tuple:
    """What a meta kernel's output can depend on, hashable: a tensor by its shape, strides,
    storage offset and dtype (plain strided meta tensors only), a list by its items (aten takes
    lists of tensors and of sizes), anything else by its type and value. Raises
    :class:`_NotMemoised` for what must not be keyed."""
    import torch

    key = []
    for value in values:
        kind = type(value)
        if kind is tensor_type or kind is torch.nn.Parameter:
            if not value.is_meta or value.layout is not torch.strided or value.is_complex():
                raise _NotMemoised
            key.append((tuple(value.shape), value.stride(), value.storage_offset(), value.dtype))
        elif kind in (list, tuple):
            key.append((kind, _signature(tuple(value), tensor_type)))
        elif kind in _PLAIN or isinstance(value, (torch.dtype, torch.device, torch.layout, torch.memory_format)):
            key.append((kind, value))
        else:
            raise _NotMemoised
    return tuple(key)


def _record(func: Any, args: tuple, kwargs: dict, out: Any) -> tuple | None:
    """(whether the op returns one tensor, [(shape, stride, dtype)] of its outputs) when every
    output is a fresh meta tensor; None otherwise (and an op that returned an argument's storage
    is never memoised)."""
    import torch

    single = type(out) is torch.Tensor
    outputs = [out] if single else list(out) if type(out) is tuple else None
    if not outputs:
        return None
    from archcalc.frontends.leaves import leaves

    inputs = {t.untyped_storage()._cdata for t in leaves((args, kwargs)) if isinstance(t, torch.Tensor)}
    metadata = []
    storages = set()
    for tensor in outputs:
        if type(tensor) is not torch.Tensor or not tensor.is_meta or tensor.layout is not torch.strided:
            return None
        storage = tensor.untyped_storage()
        if storage._cdata in inputs:
            _ALIASING.add(id(func))
            return None
        if storage._cdata in storages or tensor.storage_offset() != 0 or storage.nbytes() != _nbytes(tensor):
            return None
        storages.add(storage._cdata)
        metadata.append((tuple(tensor.shape), tensor.stride(), tensor.dtype))
    return single, metadata


def _nbytes(tensor: Any) -> int:
    """The bytes ``torch.empty_strided`` allocates for the tensor's shape and strides (a kernel
    that allocated more, then narrowed, is not memoised: saved-activation bytes read storages)."""
    if tensor.numel() == 0:
        return 0
    return (1 + sum((size - 1) * stride for size, stride in zip(tensor.shape, tensor.stride()))) * tensor.element_size()
