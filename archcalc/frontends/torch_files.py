"""``archcalc model.pt2`` (``torch.export.save``) and ``archcalc model.pt`` (``torch.jit.save``).

* ``.pt2``: ``torch.export.load`` gives the ExportedProgram; its user inputs carry their shapes,
  so no ``--input`` is needed. Its ``.module()`` goes through the live-module analysis (module
  names, every op of the capture). The live capture runs the model at a symbolic batch, which a
  program exported with a static batch refuses (its guards, and views with the batch written
  in): such a program's graph is translated to ONNX (``torch.onnx.export(program,
  optimize=False)``: BatchNorm stays a layer) and read by :mod:`archcalc.frontends.onnx_model`.
* TorchScript ``.pt``: the TorchScript interpreter hides modules from the live capture, so
  the scripted graph is translated by the TorchScript-based ONNX exporter (``dynamo=False``) at
  the input ``--input`` gives, batch included (``--input 1x3x224x224``; a TorchScript file
  records no input shapes), and read as an ONNX graph.

A ``.pt`` that is no TorchScript (a state dict or a pickled module from ``torch.save``) is
refused: unpickling runs code, and a state dict has no graph (save the weights as
``.safetensors`` to list them).
"""

from __future__ import annotations

import contextlib
import io
import tempfile
import warnings
from pathlib import Path
from typing import Any

from archcalc.errors import AnalysisWarning, ArchcalcError, InputError


def _first_line(error: BaseException) -> str:
    text = str(error).strip()
    return text.splitlines()[0][:160] if text else type(error).__name__


def load_exported_program(path: str | Path):
    import torch

    if not Path(path).is_file():
        raise InputError(f"{path}: no such file")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return torch.export.load(str(path))
    except Exception as error:  # noqa: BLE001  (zip, pickle and schema errors alike: one line)
        raise InputError(f"{path}: not a torch.export program ({type(error).__name__}: {_first_line(error)})",
                         hint="save one with torch.export.save(torch.export.export(model, args), 'model.pt2')") from None


def program_inputs(program) -> list[Any]:
    """The user inputs' example values (fake tensors with shapes and dtypes), in order."""
    from torch.export.graph_signature import InputKind

    users = {spec.arg.name for spec in program.graph_signature.input_specs if spec.kind == InputKind.USER_INPUT}
    return [node.meta.get("val") for node in program.graph.nodes if node.op == "placeholder" and node.name in users]


def pt2_graph(path: str, input: Any = None, batch: int = 1) -> tuple[Any, dict[str, Any]]:
    """(Graph, analysis extras) of a ``.pt2`` file (see the module docstring)."""
    from archcalc.frontends import capture_module

    program = load_exported_program(path)
    values = program_inputs(program)
    if input is None:
        if not values or any(v is None or not hasattr(v, "shape") for v in values):
            raise InputError(f"{path}: the program's inputs carry no shapes", hint="give them with --input")
        shapes = [tuple(int(d) for d in v.shape) for v in values]
        input = [f"{'x'.join(map(str, s[1:]))}" + (":int64" if not v.dtype.is_floating_point else "")
                 for s, v in zip(shapes, values)]
        layout = "chw"
        program_batch = shapes[0][0] if shapes and shapes[0] else 1
    else:
        layout, program_batch = None, batch
    try:
        result = capture_module(program.module(), input if len(input) != 1 else input[0], name=Path(path).stem,
                                layout=layout, batch=batch)
    except ArchcalcError as live_error:
        graph, extras = _through_onnx(program, path, dynamo=True, batch=program_batch)
        note = AnalysisWarning(f"the live capture refuses this program ({_first_line(live_error)}); its graph was "
                               "read through torch.onnx.export (ONNX operator names)", kind="note")
        from dataclasses import replace

        return replace(graph, warnings=(note, *graph.warnings)), extras
    from dataclasses import replace

    graph = replace(result.graph, source=f"torch.export program {Path(path).name}", file=str(path))
    extras: dict[str, Any] = {"not_counted": result.not_counted, "trainable": result.trainable}
    if any(w.kind == "whole batch" for w in graph.warnings):
        extras["batch"] = 1
    return graph, extras


def torchscript_graph(path: str, input: Any = None, batch: int = 1) -> tuple[Any, dict[str, Any]]:
    """(Graph, analysis extras) of a TorchScript file, through the TorchScript ONNX exporter."""
    import torch

    if not Path(path).is_file():
        raise InputError(f"{path}: no such file")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # torch 2.13 deprecates TorchScript
            module = torch.jit.load(str(path), map_location="cpu")
    except Exception as error:  # noqa: BLE001
        raise InputError(f"{path}: not a TorchScript file ({_first_line(error)[:100]})",
                         hint="archcalc reads .pt files of torch.jit.save; weights from torch.save have no graph "
                              "(save them as .safetensors to list them)") from None
    if input is None:
        raise InputError(f"{path}: a TorchScript file records no input shapes: give the whole input, batch "
                         "included, with --input (e.g. --input 1x3x224x224)")
    from archcalc.frontends.onnx_model import parse_onnx_inputs

    _, named, positional = parse_onnx_inputs(input)
    if named or not positional:
        raise InputError("a TorchScript input is given whole, batch first: --input 1x3x224x224 (repeat --input "
                         "for several inputs)")
    args = tuple(torch.zeros(shape) for shape in positional)
    return _through_onnx(module, path, dynamo=False, batch=positional[0][0], args=args)


def _through_onnx(model, path: str, *, dynamo: bool, batch: int, args: tuple = ()) -> tuple[Any, dict[str, Any]]:
    import torch

    from archcalc.frontends.onnx_model import onnx_graph

    with tempfile.TemporaryDirectory() as folder:
        target = Path(folder) / (Path(path).stem + ".onnx")
        try:
            with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
                warnings.simplefilter("ignore")
                options: dict[str, Any] = {"optimize": False, "external_data": False} if dynamo else {"opset_version": 18, "do_constant_folding": False}
                torch.onnx.export(model, args, str(target), dynamo=dynamo, **options)
        except ImportError as error:
            raise InputError(f"{path}: reading it needs torch's ONNX exporter ({_first_line(error)})",
                             hint='pip install -e ".[files]" (onnx, onnxscript)') from None
        except Exception as error:  # noqa: BLE001  (an op the exporter cannot translate, a bad input)
            raise InputError(f"{path}: torch.onnx.export cannot translate its graph ({type(error).__name__}: "
                             f"{_first_line(error)})") from None
        graph, extras = onnx_graph(target, None, batch=batch)
    from dataclasses import replace

    kind = "torch.export program" if dynamo else "TorchScript module"
    return replace(graph, name=Path(path).stem, file=str(path), source=f"{kind} {Path(path).name}"), extras


def is_script_module(model: Any) -> bool:
    """A TorchScript module (``torch.jit.script`` / ``trace``, or loaded by ``torch.jit.load``)."""
    import torch

    return isinstance(model, (torch.jit.ScriptModule, torch.jit.ScriptFunction))


def script_module_graph(module, inputs: Any, batch: int = 1) -> tuple[Any, dict[str, Any]]:
    """A TorchScript module passed live: per-sample input shapes in PyTorch's order
    (``(3, 224, 224)``, ``"3x224x224"`` or a list of them), the batch in front, read through the
    TorchScript ONNX exporter like a ``.pt`` file."""
    import torch

    from archcalc.inputs import parse_numbers

    if inputs is None:
        raise InputError("a TorchScript module needs its input shape, in PyTorch's order (e.g. (3, 224, 224))")
    if isinstance(inputs, (tuple, list)) and inputs and all(isinstance(v, int) for v in inputs):
        inputs = [tuple(inputs)]
    elif not isinstance(inputs, (tuple, list)):
        inputs = [inputs]
    shapes = [tuple(v) if isinstance(v, (tuple, list)) else parse_numbers(v, limit=None) for v in inputs]
    args = tuple(torch.zeros((batch, *shape)) for shape in shapes)
    name = getattr(module, "original_name", None) or type(module).__name__
    return _through_onnx(module, name, dynamo=False, batch=batch, args=args)
