"""The library entry points the CLI uses, reachable as ``import archcalc``.

* :func:`load_graph` -- a zoo name, a YAML path, a one-line spec in YAML flow
  style (``{input: 32x32x3, layers: [conv: {filters: 10, kernel: 5}]}``, what
  quiz sheets carry in their ``Model:`` line) or a module target
  (``file.py:Class``, ``torchvision:resnet50``) to a Graph;
* :func:`analyze` -- the same, or a live ``nn.Module``, to a Report.

torch is imported only for module targets.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from archcalc.analysis import analyze_graph
from archcalc.conventions import Convention, get_convention
from archcalc.errors import ArchcalcError, SourceLocation
from archcalc.ir import Graph
from archcalc.report import Report

#: the sequence length of an ``hf:`` token model when --tokens is not given (capped at its context):
#: the full context (131,072 tokens for Llama-3.1) would open on a KV cache and activations no
#: one asked about
DEFAULT_TOKENS = 2048


def is_inline_spec(model: str) -> bool:
    """A whole spec written on one line in YAML flow style: ``{name: q1, input: 32x32x3, layers: [...]}``."""
    return model.lstrip().startswith("{")


def reads_as_spec(model: Any) -> bool:
    """Whether :func:`load_graph` reads ``model`` as a YAML spec (inline, a file or a zoo name; the
    branches it takes, in its order): pure Python from the text to the report, no torch, no module
    of the user's, no model file."""
    if not isinstance(model, str) or model.startswith("hf:"):
        return False
    if is_inline_spec(model):
        return True
    from archcalc.frontends.model_files import model_file_kind

    return model_file_kind(model) is None and not is_module_target(model)


def is_module_target(model: str) -> bool:
    """``file.py:Class``, ``torchvision:NAME`` or ``timm:NAME``."""
    from archcalc.frontends import is_module_target as check

    return check(model)


def load_graph(
    model: str,
    input: Any = None,
    layout: str | None = None,
    strict: bool = False,
    args: dict[str, str] | None = None,
    kwargs: dict[str, Any] | None = None,
    batch: int = 1,
    tokens: int | None = None,
    dtype: str = "float32",
) -> tuple[Graph, dict[str, Any]]:
    """The Graph of a zoo name, a YAML spec or a module target, and extras for the analysis
    (``not_counted`` and ``trainable`` of live modules; ``batch`` 1 when a live module had
    to be analysed as a whole batch).

    ``input``: a spec's input (``"224x224x3"``); a module's one input, or a list of
    inputs for several arguments (``["3x32x32", "10:int64"]``); ``kwargs``: a module's
    keyword inputs (``{"attention_mask": "128:int64"}``); ``tokens``: the sequence length of a
    token model (``--tokens``): a module's input becomes that many int64 token ids, a spec's
    token axis that length; ``hf:NAME`` builds a Hugging Face model from its config
    (:mod:`archcalc.llm.hf`).
    """
    from archcalc.errors import InputError
    from archcalc.inputs import check_layout

    layout = check_layout(layout, input)
    if tokens is not None and tokens < 1:
        raise InputError(f"--tokens must be at least 1, got {tokens}")
    if model.startswith("hf:"):
        return _load_hf(model, input, tokens, args, kwargs, layout, batch, dtype)
    if is_inline_spec(model):
        from archcalc.spec import load_spec_text

        if tokens is not None:
            from archcalc.spec.tokens import with_tokens

            return with_tokens(model, tokens, input, strict), {}
        return load_spec_text(model, "<inline spec>", input=input, layout=layout, strict=strict), {}
    from archcalc.frontends.model_files import CHECKPOINT_KINDS, model_file_kind

    kind = model_file_kind(model)
    if kind in CHECKPOINT_KINDS:
        raise InputError(f"{model} is a checkpoint: it holds tensors, no graph; `archcalc {model}` lists them "
                         "(archcalc.frontends.checkpoints.read_checkpoint)")
    if kind is not None:
        from archcalc.frontends.model_files import file_graph

        return file_graph(model, kind, input=input, batch=batch, layout=layout, strict=strict)
    if is_module_target(model):
        from archcalc.frontends import capture_module, load_module_target

        if tokens is not None:
            if input is not None:
                raise InputError("give the input either as --tokens N (token ids) or as --input, not both")
            input = f"{tokens}:int64"
        if input is None and not kwargs:
            raise InputError(f"{model} is a module: give its input size with --input (e.g. 224x224x3), "
                             "or --tokens N for a model that takes token ids")
        module = load_module_target(model, args or {})
        try:
            result = capture_module(module, input, kwargs=kwargs, name=model, layout=layout, batch=batch)
        except ArchcalcError as error:  # name the user's file when the message does not
            file = model.rpartition(":")[0]
            raise error.with_context(location=SourceLocation(file) if file.endswith(".py") else None) from None
        return result.graph, _capture_extras(result, module, input, kwargs)
    from archcalc.spec import load_spec
    from archcalc.zoo import resolve_model, shown_path

    if tokens is not None:
        from archcalc.spec.tokens import with_tokens

        return with_tokens(resolve_model(model), tokens, input, strict), {}

    if kwargs:
        raise InputError(f"{model} is a spec: keyword inputs (--kwarg) are for live modules")
    if isinstance(input, (list, tuple)) and not all(isinstance(v, int) for v in input):
        if len(input) != 1:
            raise InputError(f"{model} is a spec with one input; got {len(input)} --input values")
        input = input[0]
    path = resolve_model(model)
    return load_spec(path, input=input, layout=layout, strict=strict, shown_as=shown_path(path)), {}


def _capture_extras(result, module, inputs: Any = None, kwargs: Any = None) -> dict[str, Any]:
    """What analyze_graph needs besides the graph of a live module (and the module and its inputs,
    for the training memory that measures it again)."""
    extras: dict[str, Any] = {"not_counted": result.not_counted, "trainable": result.trainable, "module": module,
                              "inputs": (inputs, kwargs), "captured_at": result.batch}
    if any(w.kind == "whole batch" for w in result.graph.warnings):
        extras["batch"] = 1
    return extras


def _load_hf(model: str, input: Any, tokens: int | None, args, kwargs, layout, batch,
             dtype: str = "float32") -> tuple[Graph, dict[str, Any]]:
    """``hf:NAME``: the transformers model from its config (meta, no weights), captured at
    ``--tokens`` token ids (default: :data:`DEFAULT_TOKENS`, capped at its context length) or at
    its image size."""
    from dataclasses import replace

    from archcalc.errors import AnalysisWarning, InputError
    from archcalc.frontends import capture_module
    from archcalc.llm.hf import build_hf_model

    built = build_hf_model(model, args, dtype)
    if built.kind == "tokens":
        if input is not None and tokens is not None:
            raise InputError("give the input either as --tokens N (token ids) or as --input, not both")
        if input is None:
            default = min(DEFAULT_TOKENS, built.default_input)
            note = "" if tokens is not None or kwargs else (
                f"; --tokens not given: {default:,} tokens (archcalc's default of {DEFAULT_TOKENS:,}, capped at the "
                f"context of {built.default_input:,} its config names)")
            input = f"{tokens or default}:int64"
        else:
            note = ""
    else:
        if tokens is not None:
            raise InputError(f"{model} takes an image (pixel values), not token ids: use --input "
                             f"{built.default_input[1]}x{built.default_input[2]}x{built.default_input[0]}")
        note = ""
        input = input if input is not None else built.default_input
    if built.kind == "tokens" and tokens is not None and tokens > built.default_input:
        note += (f"; {tokens:,} tokens exceed the context of {built.default_input:,} its config names "
                 "(a learned position table has no rows for them)")
    given = kwargs
    if built.kind == "tokens" and getattr(built.config, "is_encoder_decoder", False) and not any(
            key.startswith("decoder_") for key in (kwargs or {})):
        # an encoder-decoder needs a decoder input: as many decoder tokens as encoder tokens
        length = str(input).split(":")[0]
        kwargs = {**(kwargs or {}), "decoder_input_ids": f"{length}:int64"}
        note += (f"; decoder input not given: {int(length):,} decoder token ids, as many as the encoder's "
                 "(--kwarg decoder_input_ids=N:int64 to change)")
    try:
        result = capture_module(built.module, input, kwargs=kwargs, name=built.name, layout=layout, batch=batch)
    except ArchcalcError as error:
        if built.kind != "tokens" or given:
            raise
        # the input is archcalc's own token ids: what failed is the model or its config, not --input
        error.hint = (f"the input was {input} token ids made by archcalc; the config (or an --arg value) is what "
                      f"{type(built.module).__name__} could not run")
        raise error from None
    graph = result.graph
    warning = AnalysisWarning(built.note + note, kind="note")
    result = replace(result, graph=replace(graph, warnings=(warning, *graph.warnings),
                                           source=built.note.split(";")[0]))
    return result.graph, _capture_extras(result, built.module, input, kwargs)


def analyze(
    model: Any,
    input: Any = None,
    *,
    batch: int = 1,
    dtype: str = "float32",
    convention: str | Convention = "macs",
    include: tuple[str, ...] = (),
    exclude: tuple[str, ...] = (),
    layout: str | None = None,
    strict: bool = False,
    args: dict[str, str] | None = None,
    kwargs: dict[str, Any] | None = None,
    tokens: int | None = None,
    llm: Any = None,
) -> Report:
    """Analyse a model: a zoo name, a path to a YAML spec, a module target string (``hf:gpt2``
    too), or a live ``torch.nn.Module`` (then ``input`` is its per-sample input shape, or a
    list of inputs, and ``kwargs`` its keyword inputs).

    A live module's training totals use the activations autograd saves for backward,
    measured (:mod:`archcalc.llm.saved_tensors`). A network with attention layers gets its
    LLM sizing in ``Report.llm`` (:func:`archcalc.llm.sizing.llm_sizing`), under ``llm``
    (an :class:`~archcalc.llm.sizing.LLMOptions`: training plan, attention convention, GPUs).

    >>> archcalc.analyze("vgg16", "224x224x3").totals.params
    138357544
    """
    if isinstance(convention, str):
        convention = get_convention(convention, include, exclude)
    from archcalc.frontends.meta_memo import session

    with session():  # every meta forward of this analysis shares one memo of meta kernels
        if not isinstance(model, (str, Path)):
            from archcalc.frontends.torch_files import is_script_module, script_module_graph

            if is_script_module(model):  # the live capture cannot see inside: its graph, through ONNX
                graph, extras = script_module_graph(model, input, batch)
                return analyze_graph(graph, batch=extras.pop("batch", batch), dtype=dtype, convention=convention,
                                     **extras)
            from archcalc.frontends.torch_module import capture_module

            if tokens is not None:
                input = f"{tokens}:int64"
            result = capture_module(model, input, kwargs=kwargs, layout=layout, batch=batch)
            graph, extras = result.graph, _capture_extras(result, model, input, kwargs)
        else:
            graph, extras = load_graph(str(model), input=input, layout=layout, strict=strict, args=args, kwargs=kwargs,
                                       batch=batch, tokens=tokens, dtype=_canonical_dtype(dtype))
        requested = batch
        batch = extras.pop("batch", batch)  # 1 when the module was captured as a whole batch
        module = extras.pop("module", None)
        inputs, keywords = extras.pop("inputs", (None, None))
        at = extras.pop("captured_at", None)
        saved = None
        if module is not None:
            saved, note = _saved_activations(module, inputs, keywords, layout, graph, requested, dtype, at=at)
            if note is not None:
                from dataclasses import replace

                graph = replace(graph, warnings=graph.warnings + (note,))
            extras["saved_activation_bytes"] = saved.total_bytes if saved is not None else None
        report = analyze_graph(graph, batch=batch, dtype=dtype, convention=convention, **extras)
        return _with_llm(report, llm, module, inputs, keywords, layout, graph, saved, requested, at)


def _canonical_dtype(dtype: str) -> str:
    from archcalc.analysis import dtype_bytes

    return dtype_bytes(dtype)[0]


def _saved_activations(module, inputs, kwargs, layout, graph, batch, dtype, attention: str = "math",
                       at: int | None = None):
    """(measured SavedActivations or None, a warning or None): a training-mode forward on meta (at
    the capture's prime batch ``at`` when given, scaled to ``batch``)."""
    from archcalc.analysis import dtype_bytes
    from archcalc.errors import AnalysisWarning
    from archcalc.llm.saved_tensors import measure_for_graph

    name, _ = dtype_bytes(dtype)
    try:
        return measure_for_graph(module, inputs, kwargs, layout, graph, batch, name, attention, at=at), None
    except Exception as error:  # noqa: BLE001  (a forward that only runs in eval mode, or needs values)
        said = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        return None, AnalysisWarning(
            "training activations not measured (a training-mode forward on meta tensors failed: "
            f"{type(error).__name__}: {said[:160]}); the training totals estimate them as every layer output",
            kind="training")


def _with_llm(report: Report, options: Any, module, inputs, kwargs, layout, graph, saved, batch: int,
              at: int | None = None) -> Report:
    """The report with its LLM sizing (networks with attention layers)."""
    from dataclasses import replace

    from archcalc.llm.kv_cache import attention_layers
    from archcalc.llm.saved_tensors import FUSED
    from archcalc.llm.sizing import LLMOptions, llm_sizing

    modules = None
    if module is not None:
        from archcalc.llm.attention_reading import read_attention_modules

        modules = read_attention_modules(module)
    if not attention_layers(report, modules):
        return report
    options = options or LLMOptions()
    measured = None
    moe = None
    parameters = None
    if module is not None:
        from archcalc.llm.moe import read_experts

        moe = read_experts(module, getattr(module, "config", None), report.totals.params)
        from archcalc.llm.parameter_layout import read_layout

        parameters = read_layout(module)
        plan = options.plan(report.dtype)
        dtype = plan.precision_info.activation_dtype
        math = saved if saved is not None and saved.dtype == dtype else \
            _saved_activations(module, inputs, kwargs, layout, graph, batch, dtype, at=at)[0]
        if math is not None and not math.sdpa_calls:
            # no SDPA call: the fused run would differ from the math run in nothing but its label
            fused = replace(math, attention=FUSED)
        else:
            fused = _saved_activations(module, inputs, kwargs, layout, graph, batch, dtype, FUSED, at=at)[0]
        measured = (math, fused)
    return replace(report, llm=llm_sizing(report, options, measured, moe, modules, parameters))
