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

Limits: one input tensor (the model's ``forward(x)``); shapes are per sample
with the batch axis found by size (see ``torch_capture.META_BATCH``); ops on
constants only (``w.t()``, mask construction) are weight preprocessing and not
counted; in-place writes into a view do not update the view's producer; the
module hooks are torch's global ones, so other threads running modules during
an analysis would be seen too.
"""

from __future__ import annotations

import ast
import difflib
import hashlib
import importlib.util
import sys
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

import torch
from torch import nn
from torch.nn.modules.module import register_module_forward_hook, register_module_forward_pre_hook

from archcalc.analysis import analyze_graph
from archcalc.conventions import Convention
from archcalc.errors import AnalysisWarning, SourceLocation
from archcalc.frontends import ModuleError
from archcalc.frontends.torch_capture import (
    META_BATCH,
    AtenListener,
    Capture,
    CaptureResult,
    FunctionListener,
    ParamInfo,
    user_location,
)
from archcalc.inputs import resolve_input
from archcalc.report import Report

__all__ = ["CaptureResult", "ModuleError", "analyze_module", "capture_module", "load_module_target", "parse_arg"]

#: batch of the real forward pass used when a model reads tensor values
REAL_BATCH = 2


def analyze_module(
    module: nn.Module,
    input_shape: tuple[int, ...] | list[int] | str,
    batch: int = 1,
    dtype: str = "float32",
    convention: Convention | str = "macs",
    name: str | None = None,
    *,
    layout: str | None = None,
    real_fallback: bool = True,
) -> Report:
    """The per-layer Report of a live module, as for a spec.

    ``input_shape`` is one sample's shape in PyTorch order (``(3, 224, 224)``)
    or the text a user types (``"224x224x3"``, read as by ``--input``, with
    the channel count of the first ``nn.Conv2d`` to disambiguate).
    """
    result = capture_module(module, input_shape, name=name, layout=layout, real_fallback=real_fallback)
    return analyze_graph(
        result.graph,
        batch=batch,
        dtype=dtype,
        convention=convention,
        not_counted=result.not_counted,
        trainable=result.trainable,
    )


def capture_module(
    module: nn.Module,
    input_shape: tuple[int, ...] | list[int] | str,
    *,
    name: str | None = None,
    layout: str | None = None,
    real_fallback: bool = True,
) -> CaptureResult:
    """Trace one forward pass of ``module`` into a Graph (plus not-counted ops and trainable flags)."""
    if not isinstance(module, nn.Module):
        raise ModuleError(f"expected a torch.nn.Module, got {type(module).__name__}")
    shape = _input_shape(module, input_shape, layout)
    name = name or type(module).__name__
    paths: dict[int, str] = {}
    for path, sub in module.named_modules(remove_duplicate=False):
        paths.setdefault(id(sub), path)
    reserved = {p for p in paths.values() if p}
    flags = [(sub, sub.training) for sub in module.modules()]
    try:
        for sub, _ in flags:
            sub.training = False
        try:
            return _capture(module, shape, name, paths, reserved, meta=True)
        except _ReadsValues as reads:
            if not (real_fallback and _has_real_weights(module)):
                raise _values_error(module, reads.error, meta_only=not _has_real_weights(module)) from None
            location, code = user_location(reads.error)
            result = _capture(module, shape, name, paths, reserved, meta=False)
            where = f" at {location}" + (f" ({code})" if code else "") if location else ""
            note = AnalysisWarning(
                f"forward reads tensor values{where}, which meta tensors cannot give; analysed with one real "
                f"forward pass (batch {REAL_BATCH}, random input, activations allocated): data-dependent branches "
                "follow that input",
                kind="capture",
            )
            return replace(result, graph=replace(result.graph, warnings=result.graph.warnings + (note,)))
    finally:
        for sub, training in flags:
            sub.training = training


class _ReadsValues(Exception):
    """The forward needs tensor values (data-dependent control flow or output shapes)."""

    def __init__(self, error: BaseException) -> None:
        super().__init__(str(error))
        self.error = error


def _reads_values(error: BaseException) -> bool:
    text = str(error).lower()
    return "meta" in text or "data-dependent" in text or "data dependent" in text


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


def _capture(module, shape, name, paths, reserved, meta: bool) -> CaptureResult:
    originals = _tensors(module)
    buffers = {id(b) for b in module.buffers()}
    infos = {
        key: ParamInfo(key, t.numel(), id(t) in buffers, bool(t.requires_grad) and id(t) not in buffers)
        for key, t in originals.items()
    }
    floating = [t.dtype for t in originals.values() if t.is_floating_point()]
    in_dtype = floating[0] if floating else torch.float32
    if meta:
        batch = META_BATCH
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
        x = torch.empty((batch, *shape), device="meta", dtype=in_dtype)
    else:
        batch = REAL_BATCH
        replacements = {key: t.clone() for key, t in originals.items() if infos[key].is_buffer}
        used = {**originals, **replacements}
        device = next((t.device for t in originals.values()), torch.device("cpu"))
        x = torch.randn((batch, *shape), device=device, dtype=in_dtype)
    capture = Capture(batch, {id(t): (t, infos[key]) for key, t in used.items()}, paths)
    capture.set_input(x)
    pre = register_module_forward_pre_hook(capture.pre_hook)
    post = register_module_forward_hook(capture.post_hook)
    try:
        with _context(meta), AtenListener(capture), FunctionListener(capture):
            if replacements is None:
                out = module(x)
            else:
                out = torch.func.functional_call(module, replacements, (x,), tie_weights=True, strict=False)
            capture.set_outputs(out)
    except ModuleError:
        raise
    except Exception as error:  # noqa: BLE001  (the user's forward failed: explain it in their terms)
        if meta and _reads_values(error):
            raise _ReadsValues(error) from None
        raise _forward_error(module, shape, error) from None
    finally:
        pre.remove()
        post.remove()
    return capture.build(name, shape, reserved)


def _context(meta: bool):
    import contextlib

    stack = contextlib.ExitStack()
    if meta:
        stack.enter_context(torch.device("meta"))
    else:
        stack.enter_context(torch.no_grad())
    return stack


def _forward_error(module: nn.Module, shape, error: BaseException) -> ModuleError:
    location, code = user_location(error)
    message = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
    message = message.replace(f"[{META_BATCH}, ", "[batch, ").replace(f"({META_BATCH}, ", "(batch, ")
    return ModuleError(
        f"{type(module).__name__}.forward fails on an input of shape (batch, "
        f"{', '.join(str(s) for s in shape)}): {type(error).__name__}: {message}" + (f" [in: {code}]" if code else ""),
        location=location,
        hint="check --input (H x W x C, or C x H x W with --layout chw) and the --arg values",
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


def _input_shape(module: nn.Module, input_shape, layout: str | None) -> tuple[int, ...]:
    if isinstance(input_shape, str):
        first_conv = next((m for m in module.modules() if isinstance(m, nn.Conv2d)), None)
        expected = first_conv.in_channels if first_conv is not None else None
        shape, _ = resolve_input(input_shape, expected_channels=expected, layout=layout)
        return tuple(shape)
    if isinstance(input_shape, int) and not isinstance(input_shape, bool):
        return (input_shape,)
    try:
        shape = tuple(int(s) for s in input_shape)
    except (TypeError, ValueError):
        raise ModuleError(f"input shape must be whole numbers such as (3, 224, 224), got {input_shape!r}") from None
    if not shape or any(s < 1 for s in shape):
        raise ModuleError(f"input shape must be positive whole numbers, got {input_shape!r}")
    return shape


# -- loading a module from a target string -------------------------------------------------


def parse_arg(value: Any) -> Any:
    """A ``--arg`` value: a Python literal when it reads as one (``3``, ``[1, 2]``, ``True``), else the string."""
    if not isinstance(value, str):
        return value
    try:
        return ast.literal_eval(value.strip())
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        return value


def load_module_target(target: str, args: Mapping[str, Any] | None = None, *, device: str = "meta") -> nn.Module:
    """Build the module a user names on the command line, on the meta device (no weights allocated).

    * ``path/to/file.py:ClassOrFactory`` -- a class (or a function returning a
      module) in a Python file, called with ``args`` (``--arg key=value``;
      values read as Python literals where possible);
    * ``torchvision:NAME`` -- ``torchvision.models.get_model(NAME, weights=None, **args)``;
    * ``timm:NAME`` -- ``timm.create_model(NAME, pretrained=False, **args)``.

    Pretrained weights are never downloaded. A constructor that cannot run on
    the meta device (it reads tensor values) is run again on the CPU.
    """
    kwargs = {str(key): parse_arg(value) for key, value in (args or {}).items()}
    if not isinstance(target, str) or not target.strip():
        raise ModuleError(f"expected a model such as path/to/file.py:ClassName, got {target!r}")
    prefix, _, rest = target.partition(":")
    if prefix in ("torchvision", "timm"):
        if not rest:
            raise ModuleError(f"name the model after '{prefix}:', e.g. {prefix}:resnet50")
        return _build(lambda: _package_builder(prefix, rest)(kwargs), f"{prefix}:{rest}", device)
    file, sep, attribute = target.rpartition(":")
    if not sep or not file or not attribute:
        raise ModuleError(
            f"cannot read the model {target!r}: write path/to/file.py:ClassOrFactory, torchvision:NAME or timm:NAME"
        )
    path = Path(file)
    if path.suffix != ".py":
        raise ModuleError(f"{file} is not a Python file (.py); write path/to/file.py:ClassOrFactory")
    if not path.is_file():
        raise ModuleError(f"no such file: {file}", location=SourceLocation(file))
    namespace = _import_file(path)
    if not hasattr(namespace, attribute):
        candidates = sorted(
            key
            for key, value in vars(namespace).items()
            if not key.startswith("_")
            and (
                isinstance(value, type)
                and issubclass(value, nn.Module)
                or callable(value)
                and getattr(value, "__module__", None) == namespace.__name__
            )
        )
        close = difflib.get_close_matches(attribute, candidates, n=1)
        raise ModuleError(
            f"{file} defines no '{attribute}'" + (f"; it defines: {', '.join(candidates)}" if candidates else ""),
            location=SourceLocation(str(path)),
            hint=f"did you mean '{close[0]}'?" if close else None,
        )
    factory = getattr(namespace, attribute)
    if not callable(factory):
        raise ModuleError(
            f"{file}:{attribute} is a {type(factory).__name__}, not a class or a function",
            location=SourceLocation(str(path)),
        )
    return _build(lambda: factory(**kwargs), f"{file}:{attribute}", device, kwargs=kwargs, path=path)


def _build(make, what: str, device: str, kwargs=None, path: Path | None = None) -> nn.Module:
    def attempt(context):
        with context:
            return make()

    try:
        try:
            built = attempt(torch.device(device))
        except (RuntimeError, NotImplementedError) as error:
            if device != "meta" or not _reads_values(error):
                raise
            import contextlib

            built = attempt(contextlib.nullcontext())  # the constructor needs values: build on the CPU
    except ModuleError:
        raise
    except TypeError as error:
        location, _ = user_location(error)
        given = ", ".join(f"{k}={v!r}" for k, v in (kwargs or {}).items()) or "no arguments"
        raise ModuleError(
            f"cannot build {what} with {given}: {error}",
            location=location or (SourceLocation(str(path)) if path else None),
            hint="pass constructor arguments as --arg key=value",
        ) from None
    except Exception as error:  # noqa: BLE001  (any failure of the user's constructor)
        location, code = user_location(error)
        raise ModuleError(
            f"building {what} failed: {type(error).__name__}: {error}" + (f" [in: {code}]" if code else ""),
            location=location,
        ) from None
    if not isinstance(built, nn.Module):
        raise ModuleError(f"{what} returned a {type(built).__name__}, not a torch.nn.Module")
    return built


def _import_file(path: Path):
    resolved = path.resolve()
    digest = hashlib.sha1(str(resolved).encode()).hexdigest()[:10]
    name = f"archcalc_user_{resolved.stem}_{digest}"
    spec = importlib.util.spec_from_file_location(name, resolved)
    if spec is None or spec.loader is None:
        raise ModuleError(f"cannot import {path}", location=SourceLocation(str(path)))
    namespace = importlib.util.module_from_spec(spec)
    sys.modules[name] = namespace
    folder = str(resolved.parent)
    added = folder not in sys.path
    if added:
        sys.path.insert(0, folder)
    try:
        spec.loader.exec_module(namespace)
    except SyntaxError as error:
        sys.modules.pop(name, None)
        raise ModuleError(f"syntax error: {error.msg}", location=SourceLocation(str(path), error.lineno)) from None
    except SystemExit as error:  # sys.exit() or argparse at import: a script, not a module file
        sys.modules.pop(name, None)
        location, _ = user_location(error)
        raise ModuleError(
            f"importing {path} exits (SystemExit({error.code!r})): it runs as a script",
            location=location or SourceLocation(str(path)),
            hint="put the script part under `if __name__ == \"__main__\":`",
        ) from None
    except Exception as error:  # noqa: BLE001  (any failure while importing the user's file)
        sys.modules.pop(name, None)
        location, code = user_location(error)
        raise ModuleError(
            f"importing {path} failed: {type(error).__name__}: {error}" + (f" [in: {code}]" if code else ""),
            location=location or SourceLocation(str(path)),
        ) from None
    finally:
        if added:
            try:
                sys.path.remove(folder)
            except ValueError:
                pass
    return namespace


def _package_builder(package: str, model: str):
    try:
        library = importlib.import_module(package)
    except ImportError:
        raise ModuleError(
            f"{package} is not installed, so {package}:{model} cannot be built",
            hint=f"pip install {package}, or give path/to/file.py:ClassName",
        ) from None
    if package == "torchvision":
        known = list(library.models.list_models())

        def make(kwargs):
            if model not in known:
                raise _unknown(package, model, known)
            return library.models.get_model(model, weights=None, **kwargs)

        return make
    known = list(library.list_models())

    def make(kwargs):
        if model not in known:
            raise _unknown(package, model, known)
        return library.create_model(model, pretrained=False, **kwargs)

    return make


def _unknown(package: str, model: str, known: list[str]) -> ModuleError:
    close = difflib.get_close_matches(model, known, n=3)
    return ModuleError(
        f"{package} has no model '{model}'",
        hint=(f"did you mean {', '.join(close)}? " if close else "") + f"({len(known)} models known)",
    )
