"""Loading the module a user names on the command line: ``file.py:Class``, ``torchvision:NAME``, ``timm:NAME``.

The module is built on the meta device (no weights allocated); a constructor
that reads tensor values is run again on the CPU. Pretrained weights are never
downloaded.
"""

from __future__ import annotations

import ast
import difflib
import hashlib
import importlib
import importlib.util
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch
from torch import nn

from archcalc.errors import SourceLocation
from archcalc.frontends import ModuleError
from archcalc.frontends.torch_capture import user_location


def reads_values(error: BaseException) -> bool:
    """Whether torch failed because a meta tensor has no values (data-dependent code)."""
    text = str(error).lower()
    return "meta" in text or "data-dependent" in text or "data dependent" in text


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
            if device != "meta" or not reads_values(error):
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


def load_example(target: str) -> tuple[Any, dict[str, Any] | None]:
    """``file.py:make_inputs`` -> (inputs, kwargs) from the user's function: it returns a tensor
    (one input), a tuple or list (the positional inputs), a dict (keyword inputs), or a pair
    (tuple, dict). Tensors carry the batch as their first axis."""
    from archcalc.frontends.module_inputs import module_inputs

    file, sep, attribute = str(target).rpartition(":")
    if not sep or not file.endswith(".py") or not attribute:
        raise ModuleError(f"--example takes FILE.py:FUNCTION, got {target!r}")
    path = Path(file)
    if not path.is_file():
        raise ModuleError(f"no such file: {file}", location=SourceLocation(file))
    namespace = _import_file(path)
    make = getattr(namespace, attribute, None)
    if not callable(make):
        raise ModuleError(f"{file} defines no function '{attribute}'", location=SourceLocation(file))
    try:
        value = make()
    except Exception as error:  # noqa: BLE001  (the user's function failed)
        location, code = user_location(error)
        raise ModuleError(
            f"{file}:{attribute}() failed: {type(error).__name__}: {error}" + (f" [in: {code}]" if code else ""),
            location=location or SourceLocation(file),
        ) from None
    if isinstance(value, tuple) and len(value) == 2 and isinstance(value[1], dict) and isinstance(value[0], (tuple, list)):
        args, kwargs = list(value[0]), value[1]
    elif isinstance(value, dict):
        args, kwargs = [], value
    elif isinstance(value, (tuple, list)):
        args, kwargs = list(value), None
    else:
        args, kwargs = [value], None
    module_inputs(args or None, kwargs)  # reads them now, to report a bad example here
    return args, kwargs
