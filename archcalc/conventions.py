"""Counting conventions: how operation counts become the number called "FLOPs".

Rules count primitive operations once (:class:`archcalc.layers.OpCounts`). A
:class:`Convention` is data that maps those counts to one number. For one
output of a dot product of length ``n`` (conv: ``n = Cin/g * kh * kw``;
linear: ``n = N_in``):

==========  ==========================  =============================================
preset      per dot-product output      other layers
==========  ==========================  =============================================
macs        n                           not counted
flops       2n                          not counted
exact       n mul + (n - 1) add (+1)    every primitive op (cmp, add, mul, div, exp)
textbook    2n (+1 with bias)           not counted
fvcore      what fvcore counts          fvcore's per-op handles (batch norm, adaptive
                                        avg pool, upsample, layer norm), nothing else
torch       what torch.utils.flop_       nothing
            counter counts (2n, no bias)
==========  ==========================  =============================================

Switches (``bias``, ``pool``, ``activation``, ``norm``, ``elementwise``) turn
counting on or off for a category on top of any preset except the peer ones.
Counts of non-dot layers are the rules' primitive operations (see each rule's
docstring).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from archcalc.errors import InputError
from archcalc.layers.base import OpCounts

CATEGORIES = ("pool", "activation", "norm", "elementwise")
SWITCHES = ("bias",) + CATEGORIES


@dataclass(frozen=True)
class Convention:
    """A named way of counting. ``peer`` set means: use that tool's per-op counts."""

    name: str
    label: str
    description: str
    flops_per_mac: int = 2
    exact_adds: bool = False
    bias: bool = False
    pool: bool = False
    activation: bool = False
    norm: bool = False
    elementwise: bool = False
    peer: str | None = None

    def counts(self, category: str, ops: OpCounts) -> int:
        """The "FLOPs" of one layer's operation counts under this convention.

        ``flops = macs * flops_per_mac - (dot_outputs if exact_adds) + (bias_adds if bias)
        + elementary ops if the layer's category is switched on``.
        """
        if self.peer == "fvcore":
            return ops.fvcore
        if self.peer == "torch":
            return ops.torch
        total = ops.macs * self.flops_per_mac
        if self.exact_adds:
            total -= ops.dot_outputs
        if self.bias:
            total += ops.bias_adds
        if category in CATEGORIES and getattr(self, category):
            total += ops.elementary
        return total

    def with_switches(self, include: tuple[str, ...] = (), exclude: tuple[str, ...] = ()) -> "Convention":
        """This convention with categories switched on or off; the name records the change."""
        if not include and not exclude:
            return self
        if self.peer:
            raise InputError(
                f"the '{self.name}' preset reproduces {self.peer} exactly and takes no --include/--exclude"
            )
        changes: dict[str, bool] = {}
        for value, words in ((True, include), (False, exclude)):
            for word in words:
                if word not in SWITCHES:
                    raise InputError(f"unknown category '{word}' (choose from {', '.join(SWITCHES)})")
                changes[word] = value
        changed = replace(self, **changes)
        on = [s for s in SWITCHES if getattr(changed, s) and not getattr(self, s)]
        off = [s for s in SWITCHES if getattr(self, s) and not getattr(changed, s)]
        suffix = "".join(f"+{s}" for s in on) + "".join(f"-{s}" for s in off)
        return replace(changed, name=self.name + suffix, label=self.label + (f" ({suffix})" if suffix else ""))

    @property
    def unit(self) -> str:
        """What the number is called in tables: MACs or FLOPs."""
        return "MACs" if self.flops_per_mac == 1 and not self.peer else "FLOPs"


PRESETS: dict[str, Convention] = {
    c.name: c
    for c in (
        Convention(
            "macs",
            "MACs (1 per multiply-accumulate)",
            "multiply-accumulates of conv and linear layers; what fvcore, thop and torchvision call FLOPs",
            flops_per_mac=1,
        ),
        Convention(
            "flops",
            "FLOPs = 2 x MACs",
            "a multiply and an add per MAC, bias and other layers not counted",
        ),
        Convention(
            "exact",
            "exact: n mul + (n-1) add (+1 bias), all layers",
            "every primitive operation: n multiplies and n-1 adds per dot product, bias adds, "
            "pooling, activations, normalisation and merges",
            exact_adds=True,
            bias=True,
            pool=True,
            activation=True,
            norm=True,
            elementwise=True,
        ),
        Convention(
            "textbook",
            "FLOPs = 2 x MACs + bias adds",
            "1 MAC = 2 FLOPs and a bias add is 1 FLOP; other layers not counted",
            bias=True,
        ),
        Convention(
            "fvcore",
            "fvcore FlopCountAnalysis (MACs, plus norm/upsample/adaptive-pool handles)",
            "reproduces fvcore.nn.FlopCountAnalysis(...).total() in eval mode",
            flops_per_mac=1,
            peer="fvcore",
        ),
        Convention(
            "torch",
            "torch.utils.flop_counter (2 x MACs, no bias)",
            "reproduces torch.utils.flop_counter.FlopCounterMode's total",
            peer="torch",
        ),
    )
}


def get_convention(name: str, include: tuple[str, ...] = (), exclude: tuple[str, ...] = ()) -> Convention:
    try:
        preset = PRESETS[name.lower()]
    except KeyError:
        raise InputError(f"unknown convention '{name}' (choose from {', '.join(PRESETS)})") from None
    return preset.with_switches(include, exclude)
