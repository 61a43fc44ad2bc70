"""Live ``nn.Module`` -> Graph -> Report, without allocating weights or activations.

Design: why function mode + dispatch mode, not ``torch.fx``
-----------------------------------------------------------
``torch.fx`` traces symbolically and breaks on data-dependent control flow,
on ``x.shape``-driven Python, and on many real models; it also sees no
shapes without a separate propagation pass. A ``TorchDispatchMode`` alone sees
every op but after decomposition: ``F.linear`` on a 3-D input arrives as
``view + t + addmm + view``, ``x @ y`` as ``expand + view + bmm +
_unsafe_view``, ``F.scaled_dot_product_attention`` as a backend-specific
kernel, so names would not match the user's code. archcalc therefore listens
at three levels during one real ``forward`` on meta tensors
(:mod:`archcalc.frontends.torch_capture`):

1. known leaf modules (``nn.Conv2d``, ``nn.Linear``, ``nn.BatchNorm2d``,
   ``nn.LayerNorm``, pools, activations, ``nn.Upsample``, ``nn.Flatten``,
   ``nn.Dropout``, ``nn.Identity``, ...) are mapped whole from their own
   hyper-parameters (exact names and parameter counts);
2. a ``TorchFunctionMode`` maps each outermost torch-level call the user
   wrote (``torch.tanh(x)``, ``F.max_pool2d``, ``x.reshape``, ``out +=
   identity``, ``torch.cat``, ``a @ b``, ``F.scaled_dot_product_attention``);
3. a ``TorchDispatchMode`` sees every aten op underneath and maps what the
   upper levels left (inside ``F.multi_head_attention_forward`` and other
   Python functions without a mapping: ``mm``, ``bmm``, ``_softmax``,
   point-wise ops, views); an aten op archcalc cannot price becomes an
   ``uncounted`` layer and is counted in ``Report.not_counted``.

Each op is named after the module call it runs in: a known leaf takes the
module's path (``layer3.1.conv2``; a second call of the same module
``layer1.0.relu#2``); other ops ``<module path>.<op><k>`` (``layer3.1.add1``);
the single op of a module that calls no submodule takes the module's path.

No weights, no activations
--------------------------
The forward runs on meta tensors (shapes, no storage). A module already on
the meta device runs as it is; a module with real weights runs through
``torch.func.functional_call`` with meta stand-ins of its parameters and
buffers (``torch.empty_like(p, device="meta")``: nothing is allocated, the
module is not moved or copied). Tensor factories inside ``forward`` land on
meta too (``with torch.device("meta")``). The user's module is left as
found: training flags are restored (analysis runs in eval mode), the global
hooks are removed, no buffers are added.

Data-dependent control flow
---------------------------
Meta tensors have no values: ``if x.sum() > 0``, ``x.item()``,
``torch.nonzero`` fail on them (fake tensors fail the same way). Then:

* if the module holds real weights, archcalc runs one real forward pass
  (batch 2, a random input, ``torch.no_grad``, buffers cloned so running
  statistics stay untouched) with the same listeners, and says so in the
  report's warnings: this allocates activations, and the branch taken
  follows the random input;
* if it is on the meta device, a :class:`ModuleError` names the file and line
  of the ``forward`` that reads a value.

Inputs
------
``forward`` gets what the user describes (:mod:`archcalc.frontends.module_inputs`):
several positional inputs, tuples, lists and dicts of them, keyword inputs,
integer token ids; meta tensors of those shapes and dtypes are made (on a real
fallback, token ids are zeros, valid for any embedding). An image written as
three numbers is read as H x W x C, or as C x H x W when the model refuses the
first reading (and the report says so). The first tensor is the graph's
``input``; the others are ``input:<path>`` (``input:1``, ``input:attention_mask``).

Parameters
----------
The graph carries every parameter and buffer of the module once
(``Graph.tensors``): the totals count those, so a tied weight counts once, a
frozen bias is frozen on its own, and a module that ``forward`` never calls
still counts (listed as not called). A layer using a tensor an earlier layer
used says so (``shares_params_with``).

Batch
-----
Shapes are per sample. The capture runs at a prime batch that divides no size the model
produces for one sample (a batch-1 forward on meta collects them first:
:func:`~archcalc.frontends.capture_guards.first_free_prime`), so the batch axis of every
tensor is the axis whose size is a multiple of that prime, and no model dimension can
imitate it. A batch folded into the first axis (``(B * heads, T, d)``, ``torch.cat([a, b],
0)``) is the op applied k times per sample (``Node.times``). A forward that mixes samples
across the batch (``x @ x.t()``, a mean over the batch) cannot be reported per sample: it is
captured again as a whole at the real batch size, and the report says so.

Guarantees (docs/capture.md)
----------------------------
The model is left as found: :class:`~archcalc.frontends.capture_guards.ModuleState` puts back
every module's attributes, tensors, submodules and class under every name, and the RNG
state, on success, error or Ctrl-C. What forward returns is the report's outputs, named.
Work on parameters and buffers alone is counted once per forward; a learned tensor expanded
over the batch is an input; an in-place write through a view reaches its base.

Limits: the module hooks are torch's global ones, so other threads running modules during
an analysis would be seen too.
"""

from __future__ import annotations

import contextlib
from dataclasses import replace
from typing import Any

import torch
from torch import nn
from torch.nn.modules.module import register_module_forward_hook, register_module_forward_pre_hook

from archcalc.analysis import analyze_graph
from archcalc.conventions import Convention
from archcalc.errors import AnalysisWarning
from archcalc.frontends import ModuleError
from archcalc.frontends.capture_graph import MixesSamples
from archcalc.frontends.capture_guards import (
    META_CANDIDATES,
    REAL_CANDIDATES,
    ModuleState,
    SizeProbe,
    first_free_prime,
    isolated_forward,
)
from archcalc.frontends.stand_ins import light_torch_imports
from archcalc.frontends.module_inputs import InputSpec, ModuleInputs, module_inputs
from archcalc.frontends.module_loading import load_module_target, parse_arg, reads_values
from archcalc.frontends.records import CaptureResult, ParamInfo
from archcalc.frontends.torch_capture import AtenListener, Capture, FunctionListener, user_location
from archcalc.ir import INPUT, GraphInput
from archcalc.report import Report

__all__ = ["CaptureResult", "ModuleError", "analyze_module", "capture_module", "load_module_target", "parse_arg"]



def analyze_module(
    module: nn.Module,
    inputs: Any = None,
    batch: int = 1,
    dtype: str = "float32",
    convention: Convention | str = "macs",
    name: str | None = None,
    *,
    kwargs: dict[str, Any] | None = None,
    layout: str | None = None,
    real_fallback: bool = True,
) -> Report:
    """The per-layer Report of a live module, as for a spec.

    ``inputs``: one sample's shape in PyTorch order (``(3, 224, 224)``), the text a
    user types (``"224x224x3"``, ``"128:int64"``), an example tensor, or a list of
    these for several arguments; ``kwargs``: keyword inputs, the same way (see
    :mod:`archcalc.frontends.module_inputs`).
    """
    result = capture_module(module, inputs, kwargs=kwargs, name=name, layout=layout, real_fallback=real_fallback,
                            batch=batch)
    whole = bool(result.graph.warnings) and any(w.kind == "whole batch" for w in result.graph.warnings)
    return analyze_graph(
        result.graph,
        batch=1 if whole else batch,
        dtype=dtype,
        convention=convention,
        not_counted=result.not_counted,
        trainable=result.trainable,
    )


def capture_module(
    module: nn.Module,
    inputs: Any = None,
    *,
    kwargs: dict[str, Any] | None = None,
    name: str | None = None,
    layout: str | None = None,
    real_fallback: bool = True,
    batch: int = 1,
) -> CaptureResult:
    """Trace one forward pass of ``module`` into a Graph (plus not-counted ops and trainable flags)."""
    if not isinstance(module, nn.Module):
        raise ModuleError(f"expected a torch.nn.Module, got {type(module).__name__}")
    if isinstance(module, torch.jit.ScriptModule):
        raise ModuleError(
            f"{type(module).__name__} is a TorchScript module: its forward runs in the TorchScript interpreter, "
            "where archcalc cannot see modules or swap in meta weights",
            hint="analyse the nn.Module before torch.jit.script / torch.jit.trace",
        )
    lazy = sorted({type(sub).__name__ for sub in module.modules()
                   if any(nn.parameter.is_lazy(t) for t in list(sub._parameters.values()) + list(sub._buffers.values())
                          if t is not None)})
    if lazy:
        raise ModuleError(
            f"{type(module).__name__} has lazy modules ({', '.join(lazy)}) whose parameters exist only after a first "
            "real forward; archcalc does not run that forward for you, since it would change the model",
            hint="call the model once on a real batch (model(torch.zeros(1, ...))) before analysing it")
    name = name or type(module).__name__
    paths: dict[int, str] = {}
    for path, sub in module.named_modules(remove_duplicate=False):
        paths.setdefault(id(sub), path)
    reserved = {p for p in paths.values() if p}
    readings = _readings(module, module_inputs(inputs, kwargs, layout))
    state = ModuleState(module)
    try:
        for sub in module.modules():
            sub.training = False
        first_error: ModuleError | None = None
        for index, (described, note, always) in enumerate(readings):
            try:
                result = _capture_any(module, described, name, paths, reserved, real_fallback, batch)
            except _ForwardFailed as failed:
                first_error = first_error or failed.error
                continue
            if note and (index or always):
                result = _with_warning(result, note, "note")
            return result
        assert first_error is not None
        raise first_error
    finally:
        state.restore()


def _with_warning(result: CaptureResult, message: str, kind: str) -> CaptureResult:
    note = AnalysisWarning(message, kind=kind)
    return replace(result, graph=replace(result.graph, warnings=result.graph.warnings + (note,)))


def _capture_any(module, described, name, paths, reserved, real_fallback, batch) -> CaptureResult:
    """Meta first; then, if forward reads tensor values, one real pass; a forward that mixes
    samples is captured again as a whole at the real batch size."""
    try:
        try:
            return _capture(module, described, name, paths, reserved, meta=True)
        except MixesSamples as mixing:
            result = _capture(module, described, name, paths, reserved, meta=True, whole_batch=batch)
            return _with_warning(result, _whole_batch_note(mixing, batch), "whole batch")
    except _ReadsValues as reads:
        if not (real_fallback and _has_real_weights(module)):
            raise _values_error(module, reads.error, meta_only=not _has_real_weights(module)) from None
        location, code = user_location(reads.error)
        try:
            result = _capture(module, described, name, paths, reserved, meta=False, whole_under=batch)
        except MixesSamples as mixing:
            result = _capture(module, described, name, paths, reserved, meta=False, whole_batch=batch)
            result = _with_warning(result, _whole_batch_note(mixing, batch), "whole batch")
        except _PrimeTooCostly as costly:
            result = _capture(module, described, name, paths, reserved, meta=False, whole_batch=batch)
            result = _with_warning(result, costly.note(batch), "whole batch")
        where = f" at {location}" + (f" ({code})" if code else "") if location else ""
        return _with_warning(
            result,
            f"forward reads tensor values{where}, which meta tensors cannot give; analysed with one real "
            f"forward pass (a small prime batch, random input, activations allocated, on copies of the weights): data-dependent branches "
            "follow that input",
            "capture",
        )


def _whole_batch_note(mixing: MixesSamples, batch: int) -> str:
    return (
        f"forward mixes samples across the batch ({mixing.what}): shapes and counts are per sample nowhere, so "
        f"the model is analysed as a whole at batch {batch} (the batch is the first axis of every shape)"
    )


#: the real work (torch's FLOP formulas) past which a real capture at the batch prime is not run:
#: about a second or more of CPU compute, spent only to find the batch axis
REAL_PRIME_FLOPS = 20 * 10**9


class _PrimeTooCostly(Exception):
    """A real capture at the batch prime would cost ``prime`` times the batch-1 forward's FLOPs, past
    :data:`REAL_PRIME_FLOPS`: the whole batch is captured as it is instead."""

    def __init__(self, prime: int, flops: int) -> None:
        super().__init__(f"batch {prime}, {flops} FLOPs at batch 1")
        self.prime, self.flops = prime, flops

    def note(self, batch: int) -> str:
        from archcalc.render.units import count_short

        return (f"a per-sample capture runs the real forward at a batch of {self.prime} (the first prime that divides "
                f"no size of the model), {self.prime} x {count_short(self.flops)} FLOPs of real work at batch 1: the "
                f"model is analysed as a whole at batch {batch} instead (the batch is the first axis of every shape)")


class _ReadsValues(Exception):
    """The forward needs tensor values (data-dependent control flow or output shapes)."""

    def __init__(self, error: BaseException) -> None:
        super().__init__(str(error))
        self.error = error


class _ForwardFailed(Exception):
    """The forward failed on this reading of the inputs (another reading may work)."""

    def __init__(self, error: ModuleError) -> None:
        super().__init__(str(error))
        self.error = error


def _has_real_weights(module: nn.Module) -> bool:
    return any(t.device.type != "meta" for t in _tensors(module).values())


def _tensors(module: nn.Module) -> dict[str, torch.Tensor]:
    """Parameters and buffers under their first (canonical) names; tied tensors once."""
    tensors: dict[str, torch.Tensor] = {}
    seen: set[int] = set()
    for name, tensor in list(module.named_parameters()) + list(module.named_buffers()):
        if id(tensor) not in seen:
            seen.add(id(tensor))
            tensors[name] = tensor
    return tensors


# -- the inputs ---------------------------------------------------------------------------


def _readings(module: nn.Module, described: ModuleInputs) -> list[tuple[ModuleInputs, str, bool]]:
    """The ways to read the inputs, best first: (inputs, the note to give, whether to give it
    even when the first reading runs).

    Three numbers written without ``--layout`` (``224x224x3`` or ``3x224x224``) may be
    H x W x C or C x H x W: the first ``nn.Conv2d``'s channels say which to try first, and
    the forward itself decides (a reading the model refuses is dropped). Two numbers are
    PyTorch's (C, L), or, for a model whose first layer is a ``Conv2d``, H x W with that
    layer's channels: a guess, always stated.
    """
    ambiguous = [spec for spec in described.specs() if spec.written is not None]
    if len(ambiguous) != 1:
        return [(described, "", False)]
    spec = ambiguous[0]
    written = "x".join(str(n) for n in spec.written)
    conv = next((m for m in module.modules() if isinstance(m, (nn.Conv1d, nn.Conv2d, nn.Conv3d))), None)
    if len(spec.written) == 2:
        options = [(described, "", False)]
        if isinstance(conv, nn.Conv2d):
            h, w = spec.written
            image = InputSpec((conv.in_channels, h, w), spec.dtype)
            guess = (f"read --input {written} as an image of {h}x{w}x{conv.in_channels} (H x W x C): the first "
                     f"Conv2d takes {conv.in_channels} channels (give all three numbers to say otherwise)")
            options.insert(0, (_replace_spec(described, spec, image), guess, True))
        return options
    chw = InputSpec(tuple(spec.written), spec.dtype)
    hwc = InputSpec(spec.shape, spec.dtype)
    options = [
        (_replace_spec(described, spec, hwc), f"read --input {written} as H x W x C (the model refused C x H x W)",
         False),
        (_replace_spec(described, spec, chw), f"read --input {written} as C x H x W (the model refused H x W x C)",
         False),
    ]
    if isinstance(conv, nn.Conv2d) and spec.written[0] == conv.in_channels and spec.written[2] != conv.in_channels:
        chw_first = (options[1][0], f"read --input {written} as C x H x W: the first Conv2d takes "
                     f"{conv.in_channels} channels (--layout hwc reads it as H x W x C)", True)
        options = [chw_first, options[0]]
    return options


def _replace_spec(described: ModuleInputs, old: InputSpec, new: InputSpec) -> ModuleInputs:
    def swap(value):
        if value is old:
            return new
        if isinstance(value, dict):
            return {k: swap(v) for k, v in value.items()}
        if isinstance(value, (list, tuple)):
            return type(value)(swap(v) for v in value)
        return value

    return ModuleInputs(swap(described.args), swap(described.kwargs))


def _materialise(described: ModuleInputs, batch: int, float_dtype, device, meta: bool, whole: bool):
    """The args and kwargs of forward, and (name, tensor, spec) of every tensor input in order."""
    made: list[tuple[str, torch.Tensor, InputSpec]] = []

    def tensor_of(spec: InputSpec, path: str) -> torch.Tensor:
        dtype = getattr(torch, spec.dtype) if spec.dtype else float_dtype
        shape = (batch, *spec.shape)
        if meta:
            tensor = torch.empty(shape, dtype=dtype, device="meta")
        elif spec.is_integer:
            tensor = torch.zeros(shape, dtype=dtype, device=device)  # token ids 0: valid for any embedding
        else:
            tensor = torch.randn(shape, dtype=dtype, device=device)
        made.append((INPUT if not made else f"{INPUT}:{path}", tensor, spec))
        return tensor

    def build(value, path: str):
        if isinstance(value, InputSpec):
            return tensor_of(value, path)
        if isinstance(value, dict):
            return {k: build(v, f"{path}.{k}" if path else str(k)) for k, v in value.items()}
        if isinstance(value, (list, tuple)):
            return type(value)(build(v, f"{path}.{i}" if path else str(i)) for i, v in enumerate(value))
        return value

    args = tuple(build(value, str(i)) for i, value in enumerate(described.args))
    kwargs = {key: build(value, key) for key, value in described.kwargs.items()}
    return args, kwargs, made


# -- one capture ----------------------------------------------------------------------------


def _capture(module, described: ModuleInputs, name, paths, reserved, meta: bool, whole_batch: int | None = None,
             chosen_batch: int | None = None, whole_under: int | None = None):
    """One capture. ``whole_under`` (a real capture, the batch asked for): raise :class:`_PrimeTooCostly`
    rather than run a real forward at a batch prime that costs more than :data:`REAL_PRIME_FLOPS` and
    more than the whole batch ``whole_under`` would."""
    originals = _tensors(module)
    buffers = {id(b) for b in module.buffers()}
    infos = {
        key: ParamInfo(key, t.numel(), id(t) in buffers, bool(t.requires_grad) and id(t) not in buffers)
        for key, t in originals.items()
    }
    floating = [t.dtype for t in originals.values() if t.is_floating_point()]
    float_dtype = floating[0] if floating else torch.float32
    device = next((t.device for t in originals.values()), torch.device("cpu"))
    if meta:
        if all(t.device.type == "meta" for t in originals.values()):
            replacements: dict[str, torch.Tensor] | None = None
            used = originals
        else:
            replacements = {
                key: (
                    nn.Parameter(torch.empty_like(t, device="meta"), requires_grad=t.requires_grad)
                    if isinstance(t, nn.Parameter)
                    else torch.empty_like(t, device="meta")
                )
                for key, t in originals.items()
            }
            used = replacements
    else:
        # a real pass runs on copies of every tensor: a forward that updates a weight or a
        # running statistic in place changes the copy, never the user's model
        replacements = {key: t.detach().clone() for key, t in originals.items()}
        used = replacements
    # the batch prime: 97 straight away when no parameter, buffer or input size is a multiple of it;
    # if the capture then meets one that is (Capture.suspect), a batch-1 probe picks the prime
    batch = whole_batch or chosen_batch
    settled = batch is not None  # a batch given, or chosen by a probe: no second look
    if batch is None and meta and not _may_collide(list(used.values()), described, META_CANDIDATES[0]):
        batch = META_CANDIDATES[0]
    elif batch is None:
        batch, probe_flops = _probe_batch(module, described, replacements, float_dtype, device, meta)
        settled = True
        if whole_under is not None and batch > whole_under and batch * probe_flops > REAL_PRIME_FLOPS:
            raise _PrimeTooCostly(batch, probe_flops)
    args, kwargs, made = _materialise(described, batch, float_dtype, device, meta, whole_batch is not None)
    capture = Capture(None if whole_batch else batch, {id(t): (t, infos[key]) for key, t in used.items()}, paths)
    capture.meta = meta
    for input_name, tensor, _ in made:
        capture.set_input(tensor, input_name)
    pre = register_module_forward_pre_hook(capture.pre_hook)
    post = register_module_forward_hook(capture.post_hook)
    try:
        with _context(meta), AtenListener(capture), FunctionListener(capture):
            out = _call(module, replacements, args, kwargs)
            capture.set_outputs(out)
    except ModuleError:
        raise
    except SystemExit as error:
        location, code = user_location(error)
        raise ModuleError(
            f"{type(module).__name__}.forward called sys.exit({error.code!r})" + (f" [in: {code}]" if code else ""),
            location=location,
        ) from None
    except Exception as error:  # noqa: BLE001  (the user's forward failed: explain it in their terms)
        if meta and reads_values(error):
            raise _ReadsValues(error) from None
        raise _ForwardFailed(_forward_error(module, made, error, batch)) from None
    finally:
        pre.remove()
        post.remove()
    if not settled and capture.suspect:
        prime, _ = _probe_batch(module, described, replacements, float_dtype, device, meta)
        if prime != batch:
            return _capture(module, described, name, paths, reserved, meta, chosen_batch=prime)
    shapes = [(input_name, tuple(tensor.shape) if whole_batch else spec.shape, spec.dtype)
              for input_name, tensor, spec in made]
    (first_name, first_shape, first_dtype), *others = shapes
    return capture.build(
        name,
        first_shape,
        reserved,
        input_dtype=first_dtype,
        extra_inputs=tuple(GraphInput(n, s, d) for n, s, d in others),
    )


def _call(module, replacements, args, kwargs):
    if replacements is None:
        return module(*args, **kwargs)
    return torch.func.functional_call(module, replacements, args, kwargs, tie_weights=True, strict=False)


def _may_collide(tensors, described: ModuleInputs, prime: int) -> bool:
    """Whether a parameter's, a buffer's or an input's size is a multiple of ``prime`` (then the
    probe must choose the batch before the capture)."""
    sizes = [int(size) for tensor in tensors for size in tensor.shape]
    sizes += [int(size) for spec in described.specs() for size in spec.shape]
    return any(size > 1 and size % prime == 0 for size in sizes)


def _probe_batch(module, described: ModuleInputs, replacements, float_dtype, device, meta: bool) -> tuple[int, int]:
    """The capture's batch: a prime that divides no size forward produces for one sample
    (:func:`archcalc.frontends.capture_guards.first_free_prime`), from one forward at batch 1; and
    that forward's FLOPs (torch's formulas)."""
    candidates = META_CANDIDATES if meta else REAL_CANDIDATES
    probe = SizeProbe()
    try:
        args, kwargs, made = _materialise(described, 1, float_dtype, device, meta, False)
        probe.add(tensor for _, tensor, _ in made)
        with _context(meta), probe:
            _call(module, replacements, args, kwargs)
    except (Exception, SystemExit):  # noqa: BLE001  (the capture itself reports what fails; sizes seen stand)
        pass
    return first_free_prime(probe.sizes, candidates), probe.flops


def _context(meta: bool):
    stack = contextlib.ExitStack()
    if meta:
        stack.enter_context(light_torch_imports())
    else:
        stack.enter_context(torch.no_grad())
    stack.enter_context(isolated_forward(meta))
    return stack


def _forward_error(module: nn.Module, made, error: BaseException, batch: int) -> ModuleError:
    location, code = user_location(error)
    message = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
    message = message.replace(f"[{batch}, ", "[batch, ").replace(f"({batch}, ", "(batch, ")
    shapes = ", ".join(
        "(batch, " + ", ".join(str(s) for s in spec.shape) + ")" + (f" {spec.dtype}" if spec.dtype else "")
        for _, _, spec in made
    )
    what = "an input of shape" if len(made) == 1 else "inputs of shapes"
    return ModuleError(
        f"{type(module).__name__}.forward fails on {what} {shapes}: {type(error).__name__}: {message}"
        + (f" [in: {code}]" if code else ""),
        location=location,
        hint="check --input (H x W x C, or C x H x W with --layout chw; 128:int64 for token ids) and the --arg values",
    )


def _values_error(module: nn.Module, error: BaseException, meta_only: bool) -> ModuleError:
    location, code = user_location(error)
    said = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
    return ModuleError(
        f"{type(module).__name__}.forward reads tensor values"
        + (f" ({code})" if code else "")
        + "; archcalc runs the model on meta tensors, which have shapes but no values"
        + f" (torch: {said})",
        location=location,
        hint=(
            "build the model with real weights (not on the meta device) to let archcalc fall back to one real "
            "forward pass, or make the branch depend on shapes only"
            if meta_only
            else "pass real_fallback=True to allow one real forward pass"
        ),
    )
