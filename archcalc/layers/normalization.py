"""Arithmetic the normalisation families share (batch, group, instance and layer norm).

Not a family: the steps each norm's ``derive`` is made of, so that one formula
is written once.

* :func:`channel_affine`: ``gamma`` and ``beta``, ``C`` each, or no weights;
* :func:`statistics_ops`: normalising by the input's own statistics, per element
  3 adds (mean sum, centring, variance sum) + 1 mul (square) + 1 div, + 1 mul
  (``* gamma``) and 1 add (``+ beta``) with the affine transform, and per group of
  elements 2 divs (mean, variance) and 1 sqrt;
* :func:`running_ops`: normalising by running statistics (inference), per
  element 1 add and 1 div, + 1 mul and 1 add with affine, 1 sqrt per channel;
* :func:`fvcore_norm`: fvcore's ``elements * k`` handles (``norm_flop_counter``);
* :func:`by_rank`: the torch module for a 1-, 2- or 3-D input.
"""

from __future__ import annotations

from typing import Any

from archcalc.errors import LayerError
from archcalc.layers.terms import Derived, Term, atom, hidden


def last_axes(attrs: dict[str, Any], in_shape: tuple[int, ...], what: str) -> None:
    """A norm over the last ``dims`` axes (layer and RMS norm): ``normalized_shape`` from the input,
    or a LayerError when the input has fewer axes."""
    from archcalc.layers.base import positive_int

    dims = positive_int(attrs["dims"], "dims")
    if dims > len(in_shape):
        raise LayerError(f"{what} over {dims} axes of a {len(in_shape)}-axis input")
    attrs["normalized_shape"] = tuple(in_shape[-dims:])
    attrs["affine"] = bool(attrs["affine"])


def channel_affine(c: int, affine: bool) -> list[Derived]:
    """``weights = C`` (gamma), ``biases = C`` (beta), ``params = 2 * C``; or no weights."""
    if not affine:
        return [Term(0, "no weights (affine off)", "0").step("params", "params")]
    return [
        atom(c, "C (gamma, one per channel)").step("weights", "weights"),
        atom(c, "C (beta, one per channel)").step("biases", "biases"),
        (2 * atom(c, "C")).step("params", "params"),
    ]


def running_buffers(c: int) -> Derived:
    """``2 * C + 1``: running mean, running variance, num_batches_tracked (as torch counts them)."""
    return (2 * atom(c, "C") + 1).step("buffers", "buffers", "running mean, running variance, num_batches_tracked")


def statistics_ops(elements: Term, groups: Term, shift: bool, scale: bool, per: str, sqrt_note: str = "") -> list[Derived]:
    """Normalising by the input's own mean and variance over ``groups`` groups (``per``: what a
    group is, for the notes); ``shift``: a ``+ beta``, ``scale``: a ``* gamma``."""
    divs = Term(elements.value + 2 * groups.value, f"elements + 2*{groups.formula}",
                f"{elements.text} + 2*{groups.value}")
    return [
        (elements * (4 if shift else 3)).step(
            "adds", "additions", "mean sum, centring, variance sum" + (", + beta" if shift else "")),
        (elements * (2 if scale else 1)).step("muls", "multiplications", "squares" + (", * gamma" if scale else "")),
        divs.step("divs", "divisions", f"normalise each element; mean and variance per {per}"),
        groups.step("exps", "square roots", sqrt_note),
    ]


def running_ops(elements: Term, c: int, affine: bool, batch_stats: bool = False) -> list[Derived]:
    """Normalising by running statistics (inference); ``batch_stats``: a batch norm without running
    statistics normalises with the batch's own (+ 2 adds and 1 mul per element)."""
    adds = (2 if affine else 1) + (2 if batch_stats else 0)
    muls = (1 if affine else 0) + (1 if batch_stats else 0)
    words = ("(x - mean) + beta" if affine else "(x - mean)") + (
        "; sums for the batch's mean and variance" if batch_stats else ""
    )
    steps = [(elements if adds == 1 else elements * adds).step("adds", "additions", words),
             elements.step("divs", "divisions", "/ sqrt(var + eps)")]
    if muls:
        product = elements if muls == 1 else elements * muls
        steps.append(product.step("muls", "multiplications",
                                  ("* gamma" if affine else "") + ("; squares" if batch_stats else "")))
    steps.append(atom(c, "C").step("exps", "square roots", "sqrt(var + eps), one per channel"))
    return steps


def fvcore_norm(elements: Term, per: int, handle: str) -> Derived:
    """fvcore's count: ``input elements * per`` (``jit_handles.py``: ``norm_flop_counter``,
    ``batchnorm_flop_jit``)."""
    fvcore = elements * per
    return hidden("fvcore", fvcore.value, f"input elements * {per}", fvcore.text, suffix=f" (fvcore's {handle} handle)")


def by_rank(node: Any, classes: dict[int, Any], what: str, *args: Any, **kwargs: Any) -> Any:
    """``classes[rank of the input](*args, **kwargs)``, or a LayerError naming the rank."""
    rank = len(node.input_shapes[0])
    if rank not in classes:
        raise LayerError(f"no torch {what} for a {rank}-axis input", layer=node.name, op=node.op)
    return classes[rank](*args, **kwargs)
