"""Where a live model's parameters sit: the shapes, the linear layers and the largest module.

Plans that depend on more than a parameter count read it from here: Adafactor's factored state
(matrix shapes), LoRA (the linear layers it adapts), weight quantisation (the linear layers
that are quantised; the output head is not), and DeepSpeed's ZeRO-3 estimate (the largest
module's own parameters). Built once per analysis from the module; no torch import.
"""

from __future__ import annotations

from dataclasses import dataclass

from archcalc.llm.memory_plans import factored_elements


@dataclass(frozen=True)
class LinearWeight:
    """One linear layer: its name, input and output widths, bias, and whether it is the output head."""

    name: str
    in_features: int
    out_features: int
    bias: bool
    head: bool = False
    #: matrices of this shape (a mixture-of-experts layer stacks one per expert: E x out x in)
    count: int = 1

    @property
    def params(self) -> int:
        return self.count * (self.in_features * self.out_features + (self.out_features if self.bias else 0))


@dataclass(frozen=True)
class ParameterLayout:
    """The shapes of the trainable parameters (tied ones once), the linear layers, and the most
    parameters one module holds itself (``largest_layer_params`` of DeepSpeed's estimator)."""

    shapes: tuple[tuple[int, ...], ...]
    linears: tuple[LinearWeight, ...]
    largest_module_params: int
    total_params: int

    @property
    def factored_elements(self) -> int:
        return factored_elements(self.shapes)

    @property
    def linear_params(self) -> int:
        """Parameters of the linear layers other than the output head (what GPTQ, AWQ and
        bitsandbytes quantise)."""
        return sum(linear.params for linear in self.linears if not linear.head)


def read_layout(module) -> ParameterLayout:
    """The layout of a live ``nn.Module`` (meta tensors are fine)."""
    seen: dict[int, tuple[int, ...]] = {}
    total = 0
    for parameter in module.parameters():
        if id(parameter) not in seen:
            seen[id(parameter)] = tuple(parameter.shape)
            total += parameter.numel()
    shapes = tuple(shape for shape in seen.values())
    head = None
    get = getattr(module, "get_output_embeddings", None)
    if callable(get):
        try:
            head = get()
        except Exception:  # noqa: BLE001  (a model without an output head)
            head = None
    linears = []
    largest = 0
    for name, sub in module.named_modules():
        largest = max(largest, sum(p.numel() for p in sub.parameters(recurse=False)))
        for key, stacked in sub.named_parameters(recurse=False):
            if stacked.dim() == 3 and "expert" in name.rsplit(".", 1)[-1].lower():  # E x out x in, one per expert
                count, out_features, in_features = stacked.shape
                linears.append(LinearWeight(f"{name}.{key}", int(in_features), int(out_features), False, False,
                                            int(count)))
        weight = getattr(sub, "weight", None)
        if weight is None or getattr(weight, "dim", lambda: 0)() != 2:
            continue
        kind = type(sub).__name__
        if kind == "Linear" or kind.endswith("Linear"):
            out_features, in_features = weight.shape
        elif kind == "Conv1D":  # GPT-2's transposed linear
            in_features, out_features = weight.shape
        else:
            continue
        bias = getattr(sub, "bias", None) is not None
        linears.append(LinearWeight(name, int(in_features), int(out_features), bias, sub is head))
    return ParameterLayout(shapes, tuple(linears), largest, total)
