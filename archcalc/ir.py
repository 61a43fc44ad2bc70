"""The intermediate representation: a network as a list of nodes in execution order.

Plain frozen dataclasses, no torch. Both frontends (the YAML loader and the
``nn.Module`` importer) build a :class:`Graph` through :class:`GraphBuilder`,
which asks each layer's rule for its normalised hyper-parameters and its
output shape, so that every graph that exists has consistent shapes.

Shapes are per sample, without the batch axis, in PyTorch's order: ``(C, H, W)``
for images, ``(F,)`` for vectors, ``(T, F)`` for sequences.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from fnmatch import fnmatchcase
from typing import Any, Mapping

from archcalc.errors import AnalysisWarning, ArchcalcError, LayerError, NeedsImageError, SourceLocation
from archcalc.frozen_records import record_maker
from archcalc.layer_keys import layer_key
from archcalc.layers import get_rule

Shape = tuple[int, ...]

#: The name of the graph's input tensor in ``Node.inputs``.
INPUT = "input"
#: the most layers a graph may have: the work stays bounded whatever a spec repeats
MAX_NODES = 100_000


def format_dims(shape: Shape) -> str:
    """``(224,)`` -> ``224``; ``(3, 224, 224)`` -> ``3x224x224``."""
    return "x".join(str(s) for s in shape)


@dataclass(frozen=True, slots=True)
class Node:
    """One layer: its op, normalised hyper-parameters, inputs and output shape.

    ``name`` is the hierarchical path (``layer3.1.conv2``); ``inputs`` are the
    names of the producing nodes (or :data:`INPUT`).
    """

    name: str
    op: str
    attrs: Mapping[str, Any]
    inputs: tuple[str, ...]
    input_shapes: tuple[Shape, ...]
    output_shape: Shape
    location: SourceLocation | None = None
    #: The earlier node that owns some or all of this node's parameters (tied weights, a module
    #: called twice).
    shares_params_with: str | None = None
    #: Live modules: the names of the parameter and buffer tensors the node uses (Graph.tensors).
    tensors: tuple[str, ...] = ()
    #: Live modules: how many times per sample the rule applies (a batch folded into another axis,
    #: ``conv(x.reshape(B * 2, C // 2, H, W))``: 2). ``input_shapes`` are what one application
    #: sees; ``output_shape`` is per sample, ``(times, *one application's output)``. None: the
    #: rule applies once to the shapes as they are (every spec layer).
    times: int | None = None
    #: False: the node's work does not scale with the batch (input-independent work that runs once
    #: per forward, such as a position-bias MLP on a buffer); its shapes are whole tensors.
    batched: bool = True
    #: The node's layer key (:mod:`archcalc.layer_keys`: op, attrs, input shapes, one application's
    #: output shape), made once per distinct layer by the builder that derived it; None where no key
    #: can be made (a value of another type). Not part of the node's identity.
    key: bytes | None = field(default=None, compare=False, repr=False)

    @property
    def rule_output_shape(self) -> Shape:
        """The output of one application of the rule (``output_shape`` less the ``times`` axis)."""
        return self.output_shape[1:] if self.times is not None else self.output_shape

    @property
    def depth(self) -> int:
        """How deep the node sits in the block hierarchy (``a.b.c`` has depth 2)."""
        return self.name.count(".")


_make_node = record_maker(Node)
_UNSET = object()


@dataclass(frozen=True)
class GraphInput:
    """One input tensor of a graph: its name in ``Node.inputs``, its per-sample shape, and its
    dtype (None: the analysis dtype, as for an image; ``int64`` for token ids)."""

    name: str
    shape: Shape
    dtype: str | None = None


@dataclass(frozen=True)
class GraphOutput:
    """One tensor that ``forward`` returns (live modules): its name (``last_hidden_state``,
    ``0``, ``1.logits``), the node that produced it (or an input's name) and its per-sample
    shape. ``batch_axis``: where the batch sits in the real tensor (None: no batch axis);
    ``merged``: that axis holds the batch times ``shape[batch_axis]`` (``torch.cat(..., 0)``)."""

    name: str
    node: str
    shape: Shape
    batch_axis: int | None = 0
    merged: bool = False

    def batch_shape(self, batch: int) -> Shape:
        """The real tensor's shape at ``batch`` samples."""
        if self.batch_axis is None:
            return tuple(self.shape)
        axis = self.batch_axis
        if self.merged:
            return (*self.shape[:axis], self.shape[axis] * batch, *self.shape[axis + 1:])
        return (*self.shape[:axis], batch, *self.shape[axis:])


@dataclass(frozen=True)
class ParamTensor:
    """A parameter or buffer of a live module, counted once however many nodes use it."""

    name: str
    numel: int
    buffer: bool = False
    trainable: bool = True
    #: an op read this tensor during forward (None: judge by the nodes that name it)
    read: bool | None = None

    @property
    def is_bias(self) -> bool:
        return not self.buffer and self.name.rsplit(".", 1)[-1].endswith("bias")


@dataclass(frozen=True)
class Graph:
    """A network: its inputs and its nodes in execution order.

    ``input_shape`` is the first input's (:data:`INPUT`); ``extra_inputs`` are the
    others of a live module (``forward(x, mask)``, keyword and dict inputs).
    ``tensors`` (live modules) lists every parameter and buffer once, used or not:
    the totals count these, not the layers' rules, so a tied weight counts once and
    a module that ``forward`` never calls still counts.
    """

    name: str
    input_shape: Shape
    nodes: tuple[Node, ...]
    description: str = ""
    source: str = ""
    file: str | None = None
    warnings: tuple[AnalysisWarning, ...] = ()
    input_dtype: str | None = None
    extra_inputs: tuple[GraphInput, ...] = ()
    tensors: tuple[ParamTensor, ...] = ()
    #: what ``forward`` returned (live modules); empty: the last node's output
    outputs: tuple[GraphOutput, ...] = ()

    @property
    def inputs(self) -> tuple[GraphInput, ...]:
        return (GraphInput(INPUT, tuple(self.input_shape), self.input_dtype), *self.extra_inputs)

    def node(self, name: str) -> Node:
        for candidate in self.nodes:
            if candidate.name == name:
                return candidate
        raise KeyError(name)

    @property
    def output_shape(self) -> Shape:
        if self.outputs:
            return self.outputs[0].shape
        return self.nodes[-1].output_shape if self.nodes else self.input_shape


@dataclass
class GraphBuilder:
    """Builds a :class:`Graph` node by node, inferring and checking shapes on the way.

    ``strict`` turns a non-integer ``(W - F + 2P)/S + 1`` into an error instead
    of a warning (course material says such a layer "doesn't fit").
    ``intended_floors``: name patterns (``layer*.0.conv2``, fnmatch) of layers
    whose non-integer output size the network rounds on purpose; their
    warnings are marked ``intended``. ``image_channels``: the channels of the
    image the network was written for (its spec's default input), for hints.
    """

    name: str
    input_shape: Shape
    description: str = ""
    source: str = ""
    file: str | None = None
    strict: bool = False
    input_dtype: str | None = None
    extra_inputs: tuple[GraphInput, ...] = ()
    tensors: tuple[ParamTensor, ...] = ()
    intended_floors: tuple[str, ...] = ()
    image_channels: int | None = None
    #: a live module's graph: its fractional output sizes are intended (the model rounds as its
    #: authors wrote it). Design advice (a linear layer on the width of an image, no flatten) is
    #: still given while the tensor is the input image itself (a student's module); a model that
    #: moved its axes (channels-last, tokens) gets none.
    live: bool = False
    #: give design advice at all (not for a live module analysed as a whole batch, whose shapes
    #: carry the batch axis)
    advise: bool = True
    _nodes: list[Node] = field(default_factory=list)
    _shapes: dict[str, Shape] = field(default_factory=dict)
    _warnings: list[AnalysisWarning] = field(default_factory=list)
    _by_name: dict[str, Node] = field(default_factory=dict)
    _advised: set[str] = field(default_factory=set)
    _outputs: tuple[GraphOutput, ...] = ()
    #: layer key (archcalc.layer_keys) -> (normalised attrs, ShapeResult): each distinct layer derived once
    _derived: dict[Any, list] = field(default_factory=dict)
    _rules: dict[str, Any] = field(default_factory=dict)  # op -> its rule (looked up once per op)

    def __post_init__(self) -> None:
        self._shapes[INPUT] = tuple(self.input_shape)
        for extra in self.extra_inputs:
            self._shapes[extra.name] = tuple(extra.shape)

    def shape_of(self, tensor: str) -> Shape:
        return self._shapes[tensor]

    def add(
        self,
        name: str,
        op: str,
        args: Mapping[str, Any],
        inputs: tuple[str, ...] | list[str],
        location: SourceLocation | None = None,
        shares_params_with: str | None = None,
        tensors: tuple[str, ...] = (),
        times: int | None = None,
        batched: bool = True,
        input_shapes: tuple[Shape, ...] | None = None,
    ) -> str:
        """Add a layer; returns its name (the name of its output tensor).

        Live modules: ``times`` applies the rule that many times per sample (each input
        then carries a leading axis of that size, which the rule does not see);
        ``batched=False`` marks work done once per forward whatever the batch;
        ``input_shapes`` gives the shapes of inputs that are not graph tensors (constants
        computed from parameters: then ``inputs`` is empty).
        """
        if len(self._nodes) >= MAX_NODES:
            raise LayerError(f"the network has more than {MAX_NODES:,} layers; archcalc stops here",
                             location=location, layer=name, op=op, hint="check the repeat counts")
        if name in self._shapes:
            raise LayerError(
                f"the name '{name}' is used twice; give one of the layers another name",
                location=location,
                layer=name,
                op=op,
            )
        rule = self._rules.get(op)
        if rule is None:
            rule = self._rules[op] = get_rule(op)
        in_shapes = tuple([self._shapes[i] for i in inputs]) if input_shapes is None else tuple(input_shapes)
        if times is not None:
            in_shapes = tuple(shape[1:] if shape and shape[0] == times else shape for shape in in_shapes)
        key = layer_key(rule.op, args, in_shapes)
        derived = self._derived.get(key) if key is not None else None
        try:
            if derived is None:
                normalized = rule.normalize(dict(args), in_shapes)
                result = rule.output_shape(normalized, in_shapes)
                # the normalised attrs, the output, the key of the node and its image advice (made once)
                derived = [normalized, result, layer_key(rule.op, normalized, in_shapes, tuple(result.shape)), _UNSET]
                if key is not None:
                    self._derived[key] = derived
            attrs, result = dict(derived[0]), derived[1]  # each node its own attrs
        except NeedsImageError as error:
            if INPUT in inputs and len(self.input_shape) != 3:
                size = self.input_shape[0]
                channels = self.image_channels or "C"
                error.hint = (f"the network's input is {format_dims(self.input_shape)}, not an image: "
                              f"give --input H x W x C, e.g. {size}x{size}x{channels}")
            raise error.with_context(location=location, layer=name, op=rule.op) from None
        except ArchcalcError as error:
            raise error.with_context(location=location, layer=name, op=rule.op) from None
        for note in result.notes:
            if self.strict:
                raise LayerError(
                    note + " (--strict makes this an error)",
                    location=location,
                    layer=name,
                    op=rule.op,
                )
            # a live module rounds as its authors wrote it: intended, like a spec's floors:
            intended = self.live or any(fnmatchcase(name, pattern) for pattern in self.intended_floors)
            self._warnings.append(AnalysisWarning(note, layer=name, location=location, kind="fit", intended=intended))
        if self.advise and rule.op not in self._advised and inputs and len(in_shapes[0]) == 3:
            advice = derived[3]
            if advice is _UNSET:  # a function of the layer alone: asked once per distinct layer
                advice = derived[3] = rule.image_advice(attrs, in_shapes[0])
            if advice and self._image_layout(inputs[0]):
                self._advised.add(rule.op)
                self._warnings.append(AnalysisWarning(advice, layer=name, location=location, kind="advice"))
        node = _make_node(  # Node(...) without its per-field setattr lookups
            name=name,
            op=rule.op,
            attrs=attrs,
            inputs=tuple(inputs),
            input_shapes=in_shapes,
            output_shape=(times, *result.shape) if times is not None else tuple(result.shape),
            location=location,
            shares_params_with=shares_params_with,
            tensors=tuple(tensors),
            times=times,
            batched=batched,
            key=derived[2],
        )
        self._nodes.append(node)
        self._by_name[name] = node
        self._shapes[name] = node.output_shape
        return name

    def _image_layout(self, tensor: str) -> bool:
        """Whether ``tensor`` is an image ``C x H x W`` in the layout the network's input has:
        3-D, and no view on the way back from it (through first inputs) changed the shape
        (a permute to ``H x W x C``, a reshape)."""
        if len(self._shapes[tensor]) != 3:
            return False
        node = self._by_name.get(tensor)
        while node is not None:
            if get_rule(node.op).aliases_input and node.input_shapes and node.output_shape != node.input_shapes[0]:
                return False
            node = self._by_name.get(node.inputs[0]) if node.inputs else None
        return True

    def set_outputs(self, outputs: tuple[GraphOutput, ...]) -> None:
        """What ``forward`` returned (live modules), each producer a node, an input, or "" (a tensor
        made from no input: random noise, an index built from the shapes)."""
        for output in outputs:
            if output.node and output.node not in self._shapes:
                raise KeyError(output.node)
        self._outputs = tuple(outputs)

    def warn(self, message: str, layer: str | None = None, location: SourceLocation | None = None,
             kind: str = "warning") -> None:
        self._warnings.append(AnalysisWarning(message, layer=layer, location=location, kind=kind))

    def build(self) -> Graph:
        return Graph(
            name=self.name,
            input_shape=tuple(self.input_shape),
            nodes=tuple(self._nodes),
            description=self.description,
            source=self.source,
            file=self.file,
            warnings=tuple(self._warnings),
            input_dtype=self.input_dtype,
            extra_inputs=tuple(self.extra_inputs),
            tensors=tuple(self.tensors),
            outputs=self._outputs,
        )
