"""Tensor contractions: ``torch.einsum``, and matrix products with a constant or learned operand.

An einsum names every axis with a letter: ``"bhnd,hde->bhne"``. Its cost, for
two operands, is one multiply-accumulate for every combination of all the
letters (the output's and the summed ones)::

    MACs = prod(size of every letter)            (two operands; per sample)

    "hnd,hde->hne" on (2, 6, 8) and (2, 8, 4): h*n*d*e = 2*6*8*4 = 384 MACs

With more operands torch contracts them pairwise, left to right; each step
costs the product of the letters of the two operands it joins. fvcore counts
the MACs (``einsum_flop_jit``: numpy's optimised path, halved; for a
contraction with a summed letter that is the product above); torch's flop
counter sees the ``bmm`` einsum becomes, 2 x MACs, and nothing for a product
without a summed letter (an outer product is a ``mul``).

Shapes are per sample: the batch letter (the axis the capture finds the batch
on) is removed from the equation. Operands that are not activations (a
parameter ``self.w``, a fixed tensor) are given by their shape in
``constants`` (``[[position, shape], ...]``); ``learned`` counts the
parameters among them (weights of the layer, counted once in the totals).

Torch: ``torch.einsum`` with at least one activation; ``a @ W``,
``torch.matmul`` / ``mm`` / ``bmm`` and ``aten.mm`` / ``bmm`` where one operand
is an activation and the other is constant (a learned 2-D ``W`` on the right
is a linear layer instead, see linear.py).
"""

from __future__ import annotations

import string
from typing import Any

from archcalc.errors import LayerError, SpecError
from archcalc.layers.base import (
    REQUIRED,
    Absent,
    Family,
    Rule,
    ShapeResult,
    format_shape,
    keeps_field,
    prod,
    register_family,
)
from archcalc.layers.terms import Term, hidden, shape_step


def parse_equation(equation: str, ranks: list[int]) -> tuple[list[str], str]:
    """Terms and output of an equation, ``...`` expanded to letters by the operands' ranks."""
    if "->" not in equation:
        raise SpecError(f"einsum equation {equation!r} needs an explicit output (->)")
    inputs, output = equation.replace(" ", "").split("->")
    terms = inputs.split(",")
    if len(terms) != len(ranks):
        raise LayerError(f"einsum {equation!r} has {len(terms)} operands, got {len(ranks)}")
    used = set(equation) - {".", ",", "-", ">"}
    spare = [c for c in string.ascii_letters if c not in used]
    ellipsis = ""
    expanded = []
    for term, rank in zip(terms, ranks):
        if "..." in term:
            width = rank - (len(term) - 3)
            if width < 0:
                raise LayerError(f"einsum term {term!r} has more letters than its operand has axes ({rank})")
            if len(ellipsis) < width:
                ellipsis = "".join(spare[:width])
            term = term.replace("...", ellipsis[len(ellipsis) - width:])
        expanded.append(term)
    return expanded, output.replace("...", ellipsis)


def letter_sizes(terms: list[str], shapes: list[tuple[int, ...]]) -> dict[str, int]:
    sizes: dict[str, int] = {}
    for term, shape in zip(terms, shapes):
        if len(term) != len(shape):
            raise LayerError(f"einsum term {term!r} names {len(term)} axes of an operand of shape {format_shape(shape)}")
        for letter, size in zip(term, shape):
            if sizes.get(letter, size) != size and 1 not in (size, sizes[letter]):
                raise LayerError(f"einsum letter {letter!r} is {sizes[letter]} in one operand and {size} in another")
            sizes[letter] = max(size, sizes.get(letter, 1))
    return sizes


def contraction_steps(terms: list[str], output: str, sizes: dict[str, int]) -> list[tuple[str, int]]:
    """Pairwise, left to right: (the letters joined, their product) for each step."""
    steps = []
    current = terms[0]
    for index, term in enumerate(terms[1:], start=1):
        joined = "".join(dict.fromkeys(current + term))
        later = set(output).union(*terms[index + 1:])
        steps.append((joined, prod([sizes[c] for c in joined])))
        current = "".join(c for c in joined if c in later)
    return steps


class EinsumRule(Rule):
    op = "einsum"
    mixes_positions = True
    aliases = ("contraction",)
    category = "dot"
    arity = None
    primary = "equation"
    keys = {"equation": REQUIRED, "constants": (), "learned": 0}
    summary = "tensor contraction torch.einsum (activations and constant or learned operands)"
    rf_step = staticmethod(keeps_field)

    def check_arity(self, in_shapes):
        if not in_shapes:
            raise LayerError("einsum needs at least one input")

    def normalize(self, args, in_shapes):
        attrs = super().normalize(args, in_shapes)
        constants = []
        for entry in attrs["constants"] or ():
            position, shape = entry
            constants.append((int(position), tuple(int(s) for s in shape)))
        attrs["constants"] = tuple(constants)
        attrs["learned"] = int(attrs["learned"])
        shapes = _operand_shapes(in_shapes, attrs["constants"])
        terms, output = parse_equation(str(attrs["equation"]), [len(s) for s in shapes])
        sizes = letter_sizes(terms, shapes)
        if not set(output) <= set(sizes):
            raise LayerError(f"einsum output {output!r} names letters no operand has")
        attrs["equation"] = f"{','.join(terms)}->{output}"
        return attrs

    def _parsed(self, attrs, in_shapes):
        shapes = _operand_shapes(in_shapes, attrs["constants"])
        terms, output = parse_equation(attrs["equation"], [len(s) for s in shapes])
        return terms, output, letter_sizes(terms, shapes)

    def output_shape(self, attrs, in_shapes):
        _, output, sizes = self._parsed(attrs, in_shapes)
        return ShapeResult(tuple(sizes[c] for c in output))

    def derive(self, attrs, in_shapes, out_shape):
        """MACs = the product of every letter's size (two operands); pairwise steps for more."""
        terms, output, sizes = self._parsed(attrs, in_shapes)
        steps = [shape_step(out_shape, f"the output letters {output!r}")]
        learned = attrs["learned"]
        if learned:
            steps.append(Term(learned, "elements of the learned operands", str(learned)).step("weights", "weights"))
        steps.append(Term(learned, "learned operands", str(learned)).step("params", "params"))
        pairs = contraction_steps(terms, output, sizes)
        pieces = [Term(cost, "*".join(joined), "*".join(str(sizes[c]) for c in joined)) for joined, cost in pairs]
        macs = pieces[0] if len(pieces) == 1 else Term(
            sum(p.value for p in pieces), " + ".join(f"({p.formula})" for p in pieces),
            " + ".join(f"({p.text})" for p in pieces),
        )
        macs = Term(macs.value, f"{macs.formula} (every letter of {attrs['equation']})" if len(pieces) == 1
                    else f"{macs.formula} (pairwise, left to right)", macs.text)
        summed = set("".join(terms)) - set(output)
        steps += [
            macs.step("macs", "MACs", "one multiply-accumulate per combination of the letters"),
            hidden("dot_outputs", prod(out_shape) if summed else 0),
            hidden("fvcore", macs.value if summed or len(terms) > 2 else macs.value // 2),
            hidden("torch", 2 * macs.value if summed else 0),
        ]
        return steps

    def to_torch(self, node, factory):
        import torch
        from torch import nn

        attrs = node.attrs
        learned = attrs["learned"] > 0

        class Einsum(nn.Module):
            """``torch.einsum`` of the inputs and the constant operands (parameters when learned)."""

            def __init__(self) -> None:
                super().__init__()
                self.equation = batched_equation(attrs["equation"], [p for p, _ in attrs["constants"]])
                self.positions = [position for position, _ in attrs["constants"]]
                for index, (_, shape) in enumerate(attrs["constants"]):
                    tensor = torch.randn(shape, **factory)
                    if learned:
                        self.register_parameter(f"operand{index}", nn.Parameter(tensor))
                    else:
                        self.register_buffer(f"operand{index}", tensor)

            def forward(self, *inputs):
                operands = list(inputs)
                for index, position in enumerate(self.positions):
                    operands.insert(position, getattr(self, f"operand{index}"))
                return torch.einsum(self.equation, *operands)

        return Einsum()


def batched_equation(equation: str, constant_positions: list[int]) -> str:
    """The per-sample equation with a batch letter in front of the activations' terms and of the
    output (the torch builder's tensors carry the batch): ``hnd,hde->hne`` -> ``Ahnd,hde->Ahne``."""
    inputs, output = equation.split("->")
    letter = next(c for c in string.ascii_uppercase + string.ascii_lowercase if c not in equation)
    terms = [term if index in constant_positions else letter + term for index, term in enumerate(inputs.split(","))]
    return f"{','.join(terms)}->{letter}{output}"


def _operand_shapes(in_shapes, constants) -> list[tuple[int, ...]]:
    shapes = list(in_shapes)
    for position, shape in constants:
        if not 0 <= position <= len(shapes):
            raise LayerError(f"einsum constant operand at position {position} of {len(shapes) + 1}")
        shapes.insert(position, tuple(shape))
    return shapes


# -- from torch ------------------------------------------------------------------------


def _per_sample_spec(call, equation: str, operands: list, base: str):
    """An einsum spec over the activations among ``operands`` (full shapes), the batch letter removed."""
    active = [t for t in operands if call.is_active(t)]
    if not active or not all(call.is_tensor(t) for t in operands):
        return None
    terms, output = parse_equation(equation, [t.dim() for t in operands])
    batch_letters = set()
    for term, tensor in zip(terms, operands):
        if call.is_active(tensor):
            index = call.batch_axis(tensor)
            if index is None:
                if call.capture.batch is None:
                    continue  # a model analysed as a whole batch: no batch letter to remove
                return None
            if call.batch_removed(tensor):
                batch_letters.add(term[index])
    if len(batch_letters) > 1:
        return None
    letter = batch_letters.pop() if batch_letters else ""
    constants, learned_from = [], []
    kept_terms = []
    for position, (term, tensor) in enumerate(zip(terms, operands)):
        if call.is_active(tensor):
            kept_terms.append(term.replace(letter, "") if letter else term)
            continue
        shape, axis, removed = call.capture.per_sample(tensor.shape)
        if axis is not None and not call.params(tensor) and (removed == bool(letter)) \
                and (not letter or term[axis] == letter):
            # a tensor the forward made per sample (a recurrent state from torch.zeros(B, ...)):
            # its one-sample slice, as for the activations
            constants.append([position, list(shape)])
            learned_from.append(tensor)
            kept_terms.append(term.replace(letter, "") if letter else term)
            continue
        if letter and letter in term:
            return None  # the batch letter on a constant: a product across samples
        constants.append([position, list(tensor.shape)])
        learned_from.append(tensor)
        kept_terms.append(term)
    out_term = output.replace(letter, "") if letter else output
    learned = sum(t.numel() for t in learned_from if call.params(t))
    args: dict[str, Any] = {"equation": f"{','.join(kept_terms)}->{out_term}", "constants": constants,
                            "learned": learned}
    return [call.spec("einsum", args, active, base=base, params=call.params(*learned_from))]


def _einsum_fn(call):
    equation = call.arg(0, "equation")
    operands = list(call.args[1:])
    if len(operands) == 1 and isinstance(operands[0], (list, tuple)):
        operands = list(operands[0])
    if not isinstance(equation, str):
        return None
    return _per_sample_spec(call, equation, operands, "einsum")


def _matmul_equation(rank_a: int, rank_b: int) -> str | None:
    """``torch.matmul`` of operands of ranks >= 2 as an einsum (leading axes broadcast)."""
    if rank_a < 2 or rank_b < 2:
        return None
    lead = max(rank_a, rank_b) - 2
    letters = "abcdefgh"[:lead]
    a = letters[lead - (rank_a - 2):] + "mk"
    b = letters[lead - (rank_b - 2):] + "kn"
    return f"{a},{b}->{letters}mn"


def _constant_matmul_fn(call):
    """``x @ C`` or ``C @ x`` with one constant operand (not a learned 2-D matrix on the right)."""
    a, b = call.arg(0, "input"), call.arg(1, "other")
    if call.name == "rmatmul":
        a, b = b, a
    if not (call.is_tensor(a) and call.is_tensor(b)) or call.is_active(a) == call.is_active(b):
        return None
    if call.is_active(a) and b.dim() == 2 and call.params(b):
        return None  # a linear layer without bias (linear.py)
    equation = _matmul_equation(a.dim(), b.dim())
    return None if equation is None else _per_sample_spec(call, equation, [a, b], "matmul")


def _aten_constant_mm(call):
    a, b = call.args[:2] if call.name in ("mm", "bmm") else call.args[1:3]  # baddbmm: (C, A, B)
    if not (call.is_tensor(a) and call.is_tensor(b)) or call.is_active(a) == call.is_active(b):
        return None
    if call.is_active(a) and call.params(b) and call.name == "mm":
        return None  # linear.py
    equation = _matmul_equation(a.dim(), b.dim())
    return None if equation is None else _per_sample_spec(call, equation, [a, b], call.name)


FAMILY = register_family(
    Family(
        name="einsum",
        rules=(EinsumRule,),
        torch_modules=Absent("an einsum is written with torch.einsum or @, not with a torch.nn module"),
        torch_functions={
            "einsum": _einsum_fn,
            **dict.fromkeys(("matmul", "rmatmul", "mm", "bmm"), _constant_matmul_fn),
        },
        aten_ops=dict.fromkeys(("mm", "bmm", "baddbmm"), _aten_constant_mm),
        names=Absent("pasted summaries list modules; an einsum is none"),
        examples={
            "einsum_learned": ("5x4", '- einsum: {equation: "tc,cd->td", constants: [[1, [4, 6]]], learned: 24}'),
            "einsum_heads": ("6x8", '- reshape: [2, 3, 8]\n'
                                    '- einsum: {equation: "hnd,hde->hne", constants: [[1, [2, 8, 4]]], learned: 64}'),
        },
    )
)
