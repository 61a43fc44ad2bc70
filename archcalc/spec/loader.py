"""YAML spec -> Graph. The format is described in docs/spec-format.md.

A spec is a mapping with ``name``, ``description``, ``source``, ``input``,
``vars``, ``blocks`` and ``layers``. Each entry of a layer list is one of:

* ``relu`` -- an op (or a block) without arguments;
* ``conv: {filters: 64, kernel: 3, pad: 1}`` -- an op with arguments, or
  ``linear: 4096`` with its main argument alone;
* ``bottleneck: {planes: 64, stride: 2}`` -- a call of a block from ``blocks``;
* ``{name: features, layers: [...]}`` -- a named group; add ``repeat: N`` to
  repeat it (the copies are named 0, 1, ... and see ``$i``);
* ``concat: [[...], [...]]``, ``add: [...]``, ``mul: [...]`` -- parallel
  paths merged (an empty path ``[]`` is the identity);
* ``residual: {body: [...], shortcut: auto|identity|projection|[...]}``.

``floors: [conv1, "layer*.0.conv2"]`` (or ``floors: all``) names the layers
whose non-integer ``(W - F + 2P)/S + 1`` the network rounds on purpose.

Loading uses PyYAML's safe loader (with line numbers kept for messages); the
arithmetic in ``$expressions`` goes through :mod:`archcalc.spec.expr`. A zoo
spec is read from its precompiled form when that is up to date
(:mod:`archcalc.spec.compiled`), so the main job never imports yaml.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from fnmatch import fnmatchcase
from functools import lru_cache
from pathlib import Path
from typing import Any

from archcalc.errors import ArchcalcError, SourceLocation, SpecError
from archcalc.inputs import input_dtype, parse_numbers, read_input, to_chw
from archcalc.ir import INPUT, MAX_NODES, Graph, GraphBuilder
from archcalc.layers import get_rule, lookup, role
from archcalc.spec.expr import substitute

#: the most layer entries and repeat rounds a spec may expand to (a repeat of empty groups makes no
#: layer, yet takes time); the layers themselves are bounded by ir.MAX_NODES
MAX_ENTRIES = 1_000_000

#: the largest spec file read (a spec written out layer by layer takes some 40 bytes a layer; past
#: this, use repeat:); checked before parsing, so a 50 MB file costs nothing
MAX_SPEC_BYTES = 2 * 1024 * 1024
#: the most values (scalars, lists, mappings) a YAML document may expand to, each alias counted as
#: the whole value it stands for: a 1 KB "billion laughs" is refused before it is used
MAX_YAML_VALUES = 1_000_000

TOP_LEVEL_KEYS = ("name", "description", "source", "input", "input_notes", "vars", "blocks", "floors", "layers")


class LineDict(dict):
    line: int | None = None


class LineList(list):
    line: int | None = None
    #: the line of each item (scalars such as ``- 5`` carry none of their own)
    item_lines: list[int] = []


class LineStr(str):
    line: int | None = None


def _construct_mapping(loader, node):
    loader.flatten_mapping(node)
    mapping = LineDict()
    mapping.line = node.start_mark.line + 1
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=True)
        if key in mapping:
            raise SpecError(
                f"the key '{key}' appears twice in one mapping",
                location=SourceLocation(None, key_node.start_mark.line + 1),
            )
        mapping[key] = loader.construct_object(value_node, deep=True)
    return mapping


def _construct_sequence(loader, node):
    sequence = LineList(loader.construct_object(child, deep=True) for child in node.value)
    sequence.line = node.start_mark.line + 1
    sequence.item_lines = [child.start_mark.line + 1 for child in node.value]
    return sequence


def _construct_str(loader, node):
    text = LineStr(loader.construct_scalar(node))
    text.line = node.start_mark.line + 1
    return text


@lru_cache(maxsize=1)
def _line_loader():
    """PyYAML's safe loader, remembering the line of every mapping, list and string (built on
    first use: yaml is imported only when a spec is parsed)."""
    import yaml

    safe = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

    class LineLoader(safe):  # type: ignore[misc,valid-type]
        pass

    LineLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)
    LineLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_SEQUENCE_TAG, _construct_sequence)
    LineLoader.add_constructor("tag:yaml.org,2002:str", _construct_str)
    return LineLoader


def _line(value: Any) -> int | None:
    return getattr(value, "line", None)


@dataclass
class _Scope:
    path: str
    counters: dict[str, int] = field(default_factory=dict)

    def child(self, local: str) -> "_Scope":
        return _Scope(f"{self.path}.{local}" if self.path else str(local))

    def full(self, local: str) -> str:
        return f"{self.path}.{local}" if self.path else str(local)


@dataclass
class _Block:
    name: str
    params: dict[str, Any]
    layers: list
    line: int | None


_REQUIRED = object()
#: types of values that hold no expression (``$width * 2``) for substitute to evaluate
_PLAIN_SCALARS = {int, float, bool, type(None)}


class SpecReader:
    """Reads one parsed spec document into a Graph."""

    def __init__(self, doc: Any, file: str | None, input_override=None, layout=None, strict=False):
        self.file = file
        if not isinstance(doc, dict):
            raise SpecError("a spec must be a mapping with at least 'layers:'", location=self._at(doc))
        for key in doc:
            if key not in TOP_LEVEL_KEYS:
                raise SpecError(
                    f"unknown top-level key '{key}' (a spec has: {', '.join(TOP_LEVEL_KEYS)})",
                    location=self._at(doc, key),
                )
        if "layers" not in doc or not isinstance(doc["layers"], list) or not doc["layers"]:
            raise SpecError("the spec needs a non-empty list 'layers:'", location=self._at(doc))
        self.doc = doc
        if not isinstance(doc.get("vars") or {}, dict):
            raise SpecError("'vars:' must be a mapping of names to values ({width: 64})", location=self._at(doc, "vars"))
        self.variables = dict(doc.get("vars") or {})
        self.blocks = self._read_blocks(doc.get("blocks") or {})
        self.used: set[str] = {INPUT}
        self.input_dtype: str | None = None
        try:
            default_shape, default_layout = self._spec_input(doc.get("input"))
        except SpecError as error:  # a value without a line of its own (input: true): the key's line
            raise error.with_context(location=self._at(doc, "input")) from None
        input_note = None
        if input_override is not None:
            expected = default_shape[0] if default_shape and len(default_shape) == 3 else None
            reading = read_input(input_override, expected, layout)
            shape, self.layout, input_note = reading.shape, reading.layout, reading.note
        elif default_shape is not None:
            shape, self.layout = default_shape, default_layout
        else:
            raise SpecError(
                "the spec gives no 'input:' and none was passed; use --input HxWxC", location=self._at(doc)
            )
        self._calling: list[str] = []  # the blocks being expanded, outermost first
        self._entries = 0  # layer entries read so far (bounded: MAX_ENTRIES)
        self._entry_locations: dict[int, tuple[list, list[SourceLocation]]] = {}  # see _locations
        #: id(an entry's argument mapping) -> (the mapping, the entry's key, its rule's op, its arguments with
        #: plain names), for mappings of plain numbers alone, without name or shares: read once however many
        #: rounds of a repeat read them
        self._plain_calls: dict[int, tuple[Any, str, str, dict]] = {}
        self._rules: dict[str, Any] = {}  # entry key -> its rule
        self._rounds = 1  # the product of the enclosing repeat counts
        self.floors = self._floors(doc.get("floors"))
        self.builder = GraphBuilder(
            name=str(doc.get("name") or (Path(file).stem if file else "model")),
            input_shape=shape,
            description=str(doc.get("description") or ""),
            source=str(doc.get("source") or ""),
            file=file,
            strict=strict,
            input_dtype=self.input_dtype,
            intended_floors=self.floors,
            image_channels=default_shape[0] if default_shape and len(default_shape) == 3 else None,
        )
        if input_note:
            self.builder.warn(input_note, kind="input")
        note = self._input_notes(doc.get("input_notes")).get(tuple(shape))
        if note:
            self.builder.warn(note, kind="note")

    # -- helpers ------------------------------------------------------------
    def _at(self, value: Any, key: str | None = None) -> SourceLocation:
        line = None
        if key is not None and isinstance(value, dict):
            for k in value:
                if k == key:
                    line = _line(k)
        return SourceLocation(self.file, line or _line(value))

    def _spec_input(self, value: Any) -> tuple[tuple[int, ...] | None, str]:
        if value is None:
            return None, "hwc"
        layout = "hwc"
        shape_value = value
        if isinstance(value, dict):
            unknown = set(value) - {"shape", "layout", "dtype"}
            if unknown:
                raise SpecError(
                    f"input takes 'shape', 'layout' and 'dtype', not {sorted(unknown)}", location=self._at(value)
                )
            shape_value = value.get("shape")
            layout = str(value.get("layout", "hwc")).lower()
            if layout not in ("hwc", "chw"):
                raise SpecError(f"input layout must be hwc or chw, got {layout!r}", location=self._at(value))
            if "dtype" in value:
                try:
                    self.input_dtype = input_dtype(str(value["dtype"]))
                except ArchcalcError as error:
                    raise SpecError(error.message, location=self._at(value)) from None
        try:
            numbers = parse_numbers(shape_value, what="input")
        except ArchcalcError as error:
            raise SpecError(error.message, location=self._at(value)) from None
        return to_chw(numbers, layout), layout

    def _input_notes(self, value: Any) -> dict[tuple[int, ...], str]:
        """``input_notes: {227x227x3: "..."}``: a note for the user when the model runs at that
        input (written H x W x C), e.g. a pointer to the variant a course means."""
        if value is None:
            return {}
        if not isinstance(value, dict):
            raise SpecError("'input_notes:' must be a mapping of inputs (227x227x3) to notes",
                            location=self._at(value))
        notes = {}
        for key, note in value.items():
            try:
                shape = to_chw(parse_numbers(key, what="input_notes key"), "hwc")
            except ArchcalcError as error:
                raise SpecError(error.message, location=self._at(value, key)) from None
            if not isinstance(note, str):
                raise SpecError(f"the note for {key} must be text, got {note!r}", location=self._at(value, key))
            notes[tuple(shape)] = " ".join(note.split())
        return notes

    def _floors(self, value: Any) -> tuple[str, ...]:
        """``floors:``: layer names or patterns (fnmatch) whose non-integer output size is
        intended, or ``all``."""
        if value is None:
            return ()
        if value == "all":
            return ("*",)
        if isinstance(value, str):
            value = [value]
        if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
            raise SpecError("floors: takes a list of layer names or patterns (conv1, layer*.0.conv2) or 'all'",
                            location=self._at(self.doc, "floors"))
        return tuple(str(v) for v in value)

    def _read_blocks(self, blocks: Any) -> dict[str, _Block]:
        if not isinstance(blocks, dict):
            raise SpecError("'blocks:' must be a mapping of block names", location=self._at(blocks))
        out = {}
        for name, body in blocks.items():
            if lookup(name) is not None or name == "residual":
                raise SpecError(f"block name '{name}' is already a layer type; choose another", location=self._at(blocks, name))
            if isinstance(body, list):
                body = {"layers": body}
            if not isinstance(body, dict) or not isinstance(body.get("layers"), list):
                raise SpecError(f"block '{name}' needs 'layers:' (a list)", location=self._at(blocks, name))
            unknown = set(body) - {"args", "layers", "description"}
            if unknown:
                raise SpecError(
                    f"block '{name}' has unknown keys {sorted(unknown)} (a block has: args, layers, description)",
                    location=self._at(body),
                )
            params: dict[str, Any] = {}
            raw = body.get("args") or {}
            if isinstance(raw, list):
                params = {str(p): _REQUIRED for p in raw}
            elif isinstance(raw, dict):
                params = {str(k): (_REQUIRED if v is None else v) for k, v in raw.items()}
            else:
                raise SpecError(f"block '{name}' args must be a list or a mapping", location=self._at(body))
            out[name] = _Block(name, params, body["layers"], _line(body))
        return out

    def _auto_name(self, scope: _Scope, base: str, numbered: bool = True) -> str:
        while True:
            count = scope.counters.get(base, 0) + 1
            scope.counters[base] = count
            local = f"{base}{count}" if numbered or count > 1 else base
            if scope.full(local) not in self.used:
                return local

    def _claim(self, full: str, location: SourceLocation) -> str:
        if full in self.used:
            raise SpecError(f"the name '{full}' is used twice; give one of them another name", location=location)
        self.used.add(full)
        return full

    # -- building -----------------------------------------------------------
    def build(self) -> Graph:
        self._sequence(self.doc["layers"], _Scope(""), self.variables, INPUT)
        graph = self.builder.build()
        for pattern in self.floors:
            if not any(fnmatchcase(node.name, pattern) for node in graph.nodes):
                raise SpecError(f"floors: '{pattern}' names no layer (layers are named like "
                                f"'{graph.nodes[-1].name}')", location=self._at(self.doc, "floors"))
        return graph

    def _sequence(self, entries: Any, scope: _Scope, env: dict, tensor: str) -> str:
        if not isinstance(entries, list):
            raise SpecError("expected a list of layers here", location=self._at(entries))
        for entry, location in zip(entries, self._locations(entries)):
            self._count_entry(location)
            tensor = self._entry(entry, scope, env, tensor, location)
        return tensor

    def _locations(self, entries: list) -> list[SourceLocation]:
        """Where each entry of ``entries`` (a list of the spec) is written; found once per list, however
        many rounds of a ``repeat:`` read it (the list is kept with them, so that its id stays its own)."""
        known = self._entry_locations.get(id(entries))
        if known is not None and known[0] is entries and len(known[1]) == len(entries):
            return known[1]
        lines = getattr(entries, "item_lines", [])
        locations = []
        for index, entry in enumerate(entries):
            location = self._at(entry)
            if location.line is None and index < len(lines):
                location = SourceLocation(self.file, lines[index])
            locations.append(location)
        self._entry_locations[id(entries)] = (entries, locations)
        return locations

    def _count_entry(self, location: SourceLocation) -> None:
        """One more layer entry or repeat round; more than MAX_ENTRIES is an error (bounded work)."""
        self._entries += 1
        if self._entries > MAX_ENTRIES:
            raise SpecError(f"the spec expands to more than {MAX_ENTRIES:,} layer entries; archcalc stops here",
                            location=location, hint="check the repeat counts")

    def _entry(self, entry: Any, scope: _Scope, env: dict, tensor: str, location: SourceLocation) -> str:
        if isinstance(entry, str):
            return self._call(str(entry), None, scope, env, tensor, location)
        if isinstance(entry, dict):
            if "layers" in entry:
                return self._group(entry, scope, env, tensor, location)
            if len(entry) == 1:
                (key, value), = entry.items()
                return self._call(str(key), value, scope, env, tensor, location)
            keys = ", ".join(str(k) for k in entry)
            raise SpecError(
                f"a layer entry has one key (its type), got {keys}",
                location=location,
                hint="write `- conv: {filters: 64, kernel: 3}` (arguments inside the braces)",
            )
        raise SpecError(f"cannot read the layer entry {entry!r}", location=location)

    def _with_shape_vars(self, env: dict, tensor: str) -> dict:
        shape = self.builder.shape_of(tensor)
        extra = {"in_channels": shape[0], "in_features": shape[-1]}
        if len(shape) == 3:
            extra.update(in_height=shape[1], in_width=shape[2])
        return {**env, **extra}

    def _evaluate(self, value: Any, env: dict, tensor: str, location: SourceLocation) -> Any:
        if type(value) is dict and set(map(type, value.values())) <= _PLAIN_SCALARS:
            return dict(value)  # what substitute gives: no text to evaluate, so no variables to gather
        try:
            return substitute(value, self._with_shape_vars(env, tensor))
        except ArchcalcError as error:
            raise error.with_context(location=location) from None

    def _call(self, key: str, value: Any, scope: _Scope, env: dict, tensor: str, location) -> str:
        if key == "residual":
            return self._residual(value, scope, env, tensor, location)
        if (isinstance(value, list) or (isinstance(value, dict) and "paths" in value)) and _is_merge(key):
            return self._merge(key, value, scope, env, tensor, location)
        if key in self.blocks:
            return self._block(self.blocks[key], value, scope, env, tensor, location)
        plain = self._plain_calls.get(id(value))
        if plain is not None and plain[0] is value and plain[1] == key:
            # a mapping of plain numbers read before (a repeat's round): nothing to evaluate or to name
            _, _, op, plain_args = plain
            full = self._claim(scope.full(self._auto_name(scope, op)), location)
            return self.builder.add(full, op, dict(plain_args), (tensor,), location)
        rule = self._rules.get(key)
        if rule is None:
            rule = self._rules[key] = get_rule_at(key, location)
        args: dict[str, Any]
        if value is None:
            args = {}
        elif isinstance(value, dict):
            args = dict(value)
        elif getattr(rule, "primary", None):
            args = {rule.primary: value}
        else:
            raise SpecError(
                f"{key} takes its arguments as a mapping, e.g. `{key}: {{...}}`, got {value!r}", location=location
            )
        if type(value) is dict or isinstance(value, LineDict):
            if "name" not in value and "shares" not in value and set(map(type, value.values())) <= _PLAIN_SCALARS:
                self._plain_calls[id(value)] = (value, key, rule.op, {str(k): v for k, v in value.items()})
        name = args.pop("name", None)
        shares = args.pop("shares", None)
        args = self._evaluate(args, env, tensor, location)
        local = str(self._evaluate(name, env, tensor, location)) if name is not None else self._auto_name(scope, rule.op)
        full = self._claim(scope.full(local), location)
        owner = self._owner(shares, full, location)
        return self.builder.add(full, rule.op, args, (tensor,), location, shares_params_with=owner)

    def _owner(self, shares: Any, full: str, location) -> str | None:
        """``shares: wte``: the layer whose parameters this one uses (tied weights, counted once)."""
        if shares is None:
            return None
        try:
            self.builder.shape_of(str(shares))
        except KeyError:
            raise SpecError(f"layer '{full}' shares the parameters of '{shares}', which is no earlier layer",
                            location=location, hint="give the full name of an earlier layer, e.g. shares: wte") \
                from None
        return str(shares)

    def _group(self, entry: dict, scope: _Scope, env: dict, tensor: str, location) -> str:
        unknown = set(entry) - {"layers", "name", "repeat", "as", "if"}
        if unknown:
            raise SpecError(
                f"a group has keys layers, name, repeat, as and if; not {sorted(map(str, unknown))}",
                location=location,
            )
        if "if" in entry and not self._evaluate(entry["if"], env, tensor, location):
            return tensor
        name = entry.get("name")
        if "repeat" not in entry:
            if name is None:  # an unnamed group adds no level to the names
                return self._sequence(entry["layers"], scope, env, tensor)
            inner = scope.child(str(name))
            self._claim(inner.path, location)
            return self._sequence(entry["layers"], inner, env, tensor)
        times = self._evaluate(entry["repeat"], env, tensor, location)
        if not isinstance(times, int) or isinstance(times, bool) or times < 0:
            raise SpecError(f"repeat needs a whole number >= 0, got {times!r}", location=location)
        if times > MAX_NODES:
            raise SpecError(f"repeat: {times:,} is more than the {MAX_NODES:,} layers archcalc analyses",
                            location=location)
        body_layers = self._sure_layers(entry.get("layers"))
        if self._rounds * times * body_layers > MAX_NODES:  # nested repeats: refused before building any
            raise SpecError(f"repeat: {times:,} rounds of {body_layers} layer{'s' if body_layers != 1 else ''}"
                            + (f", inside {self._rounds:,} rounds of the repeats around it," if self._rounds > 1 else "")
                            + f" make more than the {MAX_NODES:,} layers archcalc analyses", location=location)
        index_name = str(entry.get("as", "i"))
        outer = scope
        if name is not None:
            outer = scope.child(str(name))
            self._claim(outer.path, location)
        body = entry["layers"]
        single_block = (
            len(body) == 1
            and isinstance(body[0], dict)
            and len(body[0]) == 1
            and next(iter(body[0])) in self.blocks
            and not (isinstance(next(iter(body[0].values())), dict) and "name" in next(iter(body[0].values())))
        )
        enclosing = self._rounds
        self._rounds = enclosing * times
        try:
            for i in range(times):
                self._count_entry(location)
                iteration = outer.child(str(i)) if name is not None else outer
                inner_env = {**env, index_name: i}
                if name is not None:
                    self._claim(iteration.path, location)
                if single_block and name is not None:
                    (key, value), = body[0].items()
                    tensor = self._block(self.blocks[key], value, iteration, inner_env, tensor, location,
                                         own_scope=False)
                else:
                    tensor = self._sequence(body, iteration, inner_env, tensor)
        finally:
            self._rounds = enclosing
        return tensor

    @staticmethod
    def _sure_layers(body: Any) -> int:
        """How many entries of a group's ``layers`` make a layer whatever the values: a layer type
        (not a block, a group or a merge) without an ``if``. A lower bound, for refusing nested
        repeats before building them."""
        if not isinstance(body, list):
            return 0
        count = 0
        for item in body:
            if isinstance(item, dict) and len(item) == 1:
                (key, value), = item.items()
                if isinstance(key, str) and lookup(key) is not None and not (isinstance(value, dict) and "if" in value):
                    count += 1
        return count

    def _block(self, block: _Block, value: Any, scope: _Scope, env: dict, tensor: str, location, own_scope=True) -> str:
        if value is None:
            value = {}
        if not isinstance(value, dict):
            raise SpecError(
                f"block '{block.name}' takes its arguments as a mapping, got {value!r}", location=location
            )
        value = dict(value)
        name = value.pop("name", None)
        args = self._evaluate(value, env, tensor, location)
        for key in args:
            if key not in block.params:
                accepted = ", ".join(block.params) or "none"
                raise SpecError(f"block '{block.name}' has no argument '{key}' (it takes: {accepted})", location=location)
        bound = {}
        for key, default in block.params.items():
            if key in args:
                bound[key] = args[key]
            elif default is _REQUIRED:
                raise SpecError(f"block '{block.name}' needs the argument '{key}'", location=location)
            else:
                bound[key] = default
        block_env = {**self.variables, **bound}
        if block.name in self._calling:
            chain = " -> ".join([*self._calling[self._calling.index(block.name):], block.name])
            raise SpecError(f"block '{block.name}' includes itself ({chain}): it would never end",
                            location=location)
        if own_scope:
            local = str(name) if name is not None else self._auto_name(scope, block.name)
            inner = scope.child(local)
            self._claim(inner.path, location)
        else:
            inner = scope
        self._calling.append(block.name)
        try:
            return self._sequence(block.layers, inner, block_env, tensor)
        finally:
            self._calling.pop()

    def _paths(self, paths: Any, scope: _Scope, env: dict, tensor: str, location) -> list[str]:
        if not isinstance(paths, list) or len(paths) < 2:
            raise SpecError("a merge needs a list of two or more paths (lists of layers)", location=location)
        ends = []
        for path in paths:
            if not isinstance(path, list):
                raise SpecError("each path of a merge is a list of layers ([] for the identity)", location=self._at(path) if _line(path) else location)
            if not path:
                ends.append(tensor)
                continue
            local = self._auto_name(scope, "branch")
            self._claim(scope.full(local), location)
            ends.append(self._sequence(path, scope.child(local), env, tensor))
        return ends

    def _merge(self, op: str, value: Any, scope: _Scope, env: dict, tensor: str, location) -> str:
        args: dict[str, Any] = {}
        name = None
        paths = value
        if isinstance(value, dict):
            args = dict(value)
            paths = args.pop("paths")
            name = args.pop("name", None)
            args = self._evaluate(args, env, tensor, location)
        inner = scope
        if name is not None:
            inner = scope.child(str(name))
            self._claim(inner.path, location)
        ends = self._paths(paths, inner, env, tensor, location)
        local = self._auto_name(inner, op)
        full = self._claim(inner.full(local), location)
        return self.builder.add(full, op, args, tuple(ends), location)

    def _residual(self, value: Any, scope: _Scope, env: dict, tensor: str, location) -> str:
        if not isinstance(value, dict) or "body" not in value:
            raise SpecError("residual needs 'body:' (a list of layers)", location=location)
        unknown = set(value) - {"body", "shortcut", "name"}
        if unknown:
            raise SpecError(f"residual takes body, shortcut and name; not {sorted(map(str, unknown))}", location=location)
        inner = scope
        if value.get("name") is not None:
            inner = scope.child(str(value["name"]))
            self._claim(inner.path, location)
        body_end = self._sequence(value["body"], inner, env, tensor)
        shortcut = self._evaluate(value.get("shortcut", "auto"), env, tensor, location)
        if shortcut == "none":
            return body_end
        in_shape = self.builder.shape_of(tensor)
        out_shape = self.builder.shape_of(body_end)
        if isinstance(shortcut, list):
            local = self._auto_name(inner, "shortcut", numbered=False)
            self._claim(inner.full(local), location)
            short_end = self._sequence(shortcut, inner.child(local), env, tensor) if shortcut else tensor
        elif shortcut == "identity" or (shortcut == "auto" and in_shape == out_shape):
            short_end = tensor
        elif shortcut in ("projection", "auto"):
            short_end = self._projection(inner, tensor, in_shape, out_shape, location)
        else:
            raise SpecError(
                f"shortcut must be auto, identity, projection, none or a list of layers, got {shortcut!r}",
                location=location,
            )
        merge = role("residual")
        local = self._auto_name(inner, merge)
        full = self._claim(inner.full(local), location)
        return self.builder.add(full, merge, {}, (body_end, short_end), location)

    def _projection(self, scope: _Scope, tensor: str, in_shape, out_shape, location) -> str:
        """1x1 convolution (no bias; the stride that maps the input size to the body's output size,
        ``(size - 1)//S + 1 = out``) and batch norm."""
        if len(in_shape) != 3 or len(out_shape) != 3:
            raise SpecError("a projection shortcut needs image shapes C x H x W", location=location)
        stride = []
        for size, out in zip(in_shape[1:], out_shape[1:]):
            # a 1x1 convolution with stride s gives (size - 1)//s + 1 outputs
            fits = [s for s in range(1, size + 1) if (size - 1) // s + 1 == out]
            if not fits:
                raise SpecError(
                    f"projection shortcut: no 1x1 stride takes input {in_shape[1]}x{in_shape[2]} to the body's "
                    f"output {out_shape[1]}x{out_shape[2]}",
                    location=location,
                )
            stride.append(fits[0])
        local = self._auto_name(scope, "downsample", numbered=False)
        branch = scope.child(self._claim(scope.full(local), location).split(".")[-1])
        conv = self._claim(branch.full("0"), location)
        self.builder.add(conv, role("projection"), {"filters": out_shape[0], "kernel": 1, "stride": stride, "bias": False},
                         (tensor,), location)
        bn = self._claim(branch.full("1"), location)
        return self.builder.add(bn, role("projection_norm"), {}, (conv,), location)


def _is_merge(key: str) -> bool:
    """A key that joins branches (``add: [[...], [...]]``): a merge rule, by its own name."""
    rule = lookup(key)
    return rule is not None and rule.joins_branches and key == rule.op


def get_rule_at(key: str, location: SourceLocation):
    try:
        return get_rule(key)
    except ArchcalcError as error:
        raise error.with_context(location=location) from None


def expanded_size(root: Any, limit: int = MAX_YAML_VALUES) -> int:
    """How many values the YAML node ``root`` stands for once its aliases are expanded (an alias
    counts as the whole subtree it names), computed on the node graph in linear time; a SpecError
    past ``limit`` or for a value that contains itself (``&a [*a]``)."""
    sizes: dict[int, int] = {}
    open_nodes: set[int] = set()
    stack: list[tuple[Any, bool]] = [(root, False)]
    while stack:
        node, done = stack.pop()
        key = id(node)
        if key in sizes and not done:
            continue
        children = node.value if isinstance(node.value, list) else []
        if isinstance(node.value, list) and children and isinstance(children[0], tuple):
            children = [child for pair in children for child in pair]  # a mapping: keys and values
        if not done:
            if key in open_nodes:
                raise SpecError("the YAML refers to itself (an anchor used inside its own value)")
            open_nodes.add(key)
            stack.append((node, True))
            for child in children:
                if id(child) in open_nodes:
                    raise SpecError("the YAML refers to itself (an anchor used inside its own value)")
                if id(child) not in sizes:
                    stack.append((child, False))
            continue
        open_nodes.discard(key)
        sizes[key] = min(1 + sum(sizes[id(child)] for child in children), limit + 1)
        if sizes[key] > limit:
            raise SpecError(f"the YAML expands to more than {limit:,} values (anchors and aliases "
                            "repeat what they name); archcalc stops here")
    return sizes[id(root)]


def parse_yaml(text: str, file: str | None = None) -> Any:
    """The YAML document in ``text``, every mapping, list and string knowing its line; bounded:
    at most :data:`MAX_YAML_VALUES` values once aliases are expanded (:func:`expanded_size`)."""
    import yaml

    try:
        loader = _line_loader()(text)
        try:
            node = loader.get_single_node()
            if node is None:
                return None
            expanded_size(node)
            return loader.construct_document(node)
        finally:
            loader.dispose()
    except SpecError as error:  # raised while constructing (a key twice): it knows the line, not the file
        line = error.location.line if error.location is not None else None
        error.location = SourceLocation(file, line)
        raise error from None
    except (RecursionError, MemoryError):
        raise SpecError("the YAML is nested too deeply", location=SourceLocation(file, None)) from None
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        line = mark.line + 1 if mark is not None else None
        problem = getattr(error, "problem", None) or str(error).splitlines()[0]
        raise SpecError(f"YAML syntax error: {problem}", location=SourceLocation(file, line)) from None


def load_spec_text(text: str, file: str | None = None, *, input=None, layout=None, strict=False) -> Graph:
    """Parse spec text into a Graph (``input`` overrides the spec's ``input:``)."""
    doc = parse_yaml(text, file)
    return SpecReader(doc, file, input_override=input, layout=layout, strict=strict).build()


def read_text_file(path: Path, what: str) -> str:
    """The text of a UTF-8 file (a BOM is dropped); a SpecError naming the file and the line of
    the first byte that is not UTF-8 (a Latin-1 ``café``, a binary file) or why it cannot be read."""
    try:
        with open(path, "rb") as handle:
            data = handle.read(MAX_SPEC_BYTES + 1)
    except OSError as error:
        raise SpecError(f"cannot read the {what}: {error.strerror or error}", location=SourceLocation(str(path))) \
            from None
    if len(data) > MAX_SPEC_BYTES:
        raise SpecError(f"the {what} is larger than {MAX_SPEC_BYTES // (1024 * 1024)} MiB; archcalc reads "
                        f"files up to that size", location=SourceLocation(str(path)),
                        hint="repeat: writes many layers in a few lines (docs/spec-format.md)")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        line = data.count(b"\n", 0, error.start) + 1
        kind = "a binary file" if b"\0" in data[:4096] else "not UTF-8 text"
        raise SpecError(
            f"the {what} is {kind} (byte 0x{data[error.start]:02x} at line {line} is not UTF-8)",
            location=SourceLocation(str(path), line),
            hint="save it as UTF-8" if kind == "not UTF-8 text" else None,
        ) from None


def load_spec(path: str | Path, *, input=None, layout=None, strict=False, shown_as: str | None = None) -> Graph:
    """Load a spec file; messages name it ``shown_as`` (default: the path)."""
    path = Path(path)
    text = read_text_file(path, "spec")
    from archcalc.spec.compiled import compiled_doc

    doc = compiled_doc(path, text)
    if doc is None:
        return load_spec_text(text, shown_as or str(path), input=input, layout=layout, strict=strict)
    return SpecReader(doc, shown_as or str(path), input_override=input, layout=layout, strict=strict).build()
