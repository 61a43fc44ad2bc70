"""Mixture-of-experts: total and active parameters per token, and the experts a decode step reads.

A mixture-of-experts (MoE) layer holds ``E`` expert MLPs and a router that sends each token
to ``k`` of them (Shazeer et al. 2017, "Outrageously Large Neural Networks"; Fedus et al.
2021, "Switch Transformers"; Jiang et al. 2024, "Mixtral of Experts"). Every expert's
weights are stored, but one token runs through ``k`` of them, so::

    active parameters per token = total - sum over MoE layers of (E - k) x parameters of one expert

The input embedding table counts whole, as Mistral AI counts Mixtral's 12.9B; DeepSeek's
"2.4B activated" for DeepSeek-V2-Lite leaves it out (2.66B with it, 2.45B without), so
both are given.

Shared experts (DeepSeek-MoE, Dai et al. 2024; Qwen-MoE's ``shared_expert``) run on every
token: they are ordinary dense modules here and count as active. For Mixtral-8x7B
(32 layers, E = 8, k = 2, one expert = 3 x 4096 x 14336) this gives Mistral AI's published
46,702,792,704 total and 12,879,925,248 active parameters.

**Experts read by a step.** A decode step of ``b`` sequences routes ``b`` tokens; each picks
``k`` distinct experts. With routing uniform and independent across tokens, one expert is
missed by one token with probability ``1 - k/E``, so the expected number of distinct experts
a layer reads is::

    touched(b) = E x (1 - (1 - k/E)^b)

``k`` at ``b = 1``, growing towards ``E`` as the batch grows. Real routers are not uniform
(load-balancing losses push them towards it), so this is the figure for balanced routing.
Decode reads the weights of the touched experts only; prefill of ``b x T`` tokens touches
``touched(b x T)``, all of them in practice.

The experts are read off the live module: a module whose own parameters are stacked over
``E`` experts (transformers' fused ``...Experts``, a leading dimension of ``E``), or a
``ModuleList`` of ``E`` expert MLPs; ``E`` and ``k`` come from the config
(``num_local_experts`` / ``num_experts`` / ``n_routed_experts``,
``num_experts_per_tok`` / ``moe_top_k``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

#: config fields naming the routed experts per layer and the experts each token uses, in the
#: spellings of transformers' configs (Mixtral, Qwen-MoE, DeepSeek-V2/V3, OLMoE, gpt-oss, ...)
EXPERT_FIELDS = ("num_local_experts", "num_experts", "n_routed_experts", "moe_num_experts")
TOP_K_FIELDS = ("num_experts_per_tok", "moe_top_k", "top_k", "num_selected_experts")
SHARED_FIELDS = ("n_shared_experts", "num_shared_experts")


def expected_experts_touched(experts: int, top_k: int, tokens: int) -> float:
    """``E x (1 - (1 - k/E)^tokens)``: distinct experts one layer reads for ``tokens`` tokens
    routed uniformly and independently (see the module docstring)."""
    if tokens <= 0 or experts <= 0:
        return 0.0
    return experts * (1 - (1 - top_k / experts) ** tokens)


@dataclass(frozen=True)
class ExpertGroup:
    """The routed experts of one MoE layer: where they live and how large one is."""

    name: str
    experts: int
    top_k: int
    params_per_expert: int

    @property
    def params(self) -> int:
        return self.experts * self.params_per_expert

    @property
    def idle_params(self) -> int:
        """``(E - k) x one expert``: the parameters one token does not use."""
        return (self.experts - self.top_k) * self.params_per_expert


@dataclass(frozen=True)
class MixtureOfExperts:
    """A model's experts: per-layer groups, total and active parameters per token."""

    groups: tuple[ExpertGroup, ...]
    total_params: int
    shared_experts: int = 0
    #: the input embedding table's parameters (a token reads one row of it)
    embedding_params: int = 0

    @property
    def experts(self) -> int:
        return self.groups[0].experts

    @property
    def top_k(self) -> int:
        return self.groups[0].top_k

    @property
    def expert_params(self) -> int:
        return sum(group.params for group in self.groups)

    @property
    def active_params(self) -> int:
        """``total - sum (E - k) x one expert``."""
        return self.total_params - sum(group.idle_params for group in self.groups)

    def touched(self, tokens: int) -> float:
        return expected_experts_touched(self.experts, self.top_k, tokens)

    def read_fraction(self, tokens: int) -> float:
        """The share of a layer's expert weights that ``tokens`` routed tokens read."""
        return self.touched(tokens) / self.experts

    def group_of(self, row_name: str) -> ExpertGroup | None:
        """The expert group a report row belongs to (its name lies under the group's module)."""
        for group in self.groups:
            if row_name == group.name or row_name.startswith(group.name + "."):
                return group
        return None

    def to_dict(self, batch: int = 1) -> dict[str, Any]:
        return {
            "moe_layers": len(self.groups),
            "experts_per_layer": self.experts,
            "experts_per_token": self.top_k,
            "shared_experts": self.shared_experts,
            "params_per_expert": self.groups[0].params_per_expert,
            "total_params": self.total_params,
            "active_params_per_token": self.active_params,
            "active_params_without_input_embedding": self.active_params - self.embedding_params,
            "expert_params": self.expert_params,
            "decode_batch": batch,
            "decode_experts_read_per_layer": self.touched(batch),
            "decode_experts_read_formula": "E x (1 - (1 - k/E)^batch), routing uniform",
        }


def _config_int(config, fields: tuple[str, ...]) -> int | None:
    for key in fields:
        value = getattr(config, key, None)
        if isinstance(value, int) and not isinstance(value, bool) and value > 0:
            return value
    return None


def read_experts(module, config, total_params: int | None = None) -> MixtureOfExperts | None:
    """The experts of a live module (None for a dense model). ``total_params``: the report's
    total (tied weights once); else the module's unique parameters are counted."""
    from torch import nn

    experts = _config_int(config, EXPERT_FIELDS) if config is not None else None
    if experts is None or experts < 2:
        return None
    top_k = _config_int(config, TOP_K_FIELDS) or 1
    groups = []
    for name, sub in module.named_modules():
        last = name.rsplit(".", 1)[-1].lower()
        if "shared" in last:
            continue
        if isinstance(sub, nn.ModuleList):
            if len(sub) == experts and "expert" in last:
                per = sum(p.numel() for p in sub[0].parameters())
                groups.append(ExpertGroup(name, experts, top_k, per))
            continue
        stacked = [p for p in sub.parameters(recurse=False) if p.dim() >= 2 and p.shape[0] == experts]
        if stacked and "expert" in last:
            groups.append(ExpertGroup(name, experts, top_k, sum(p.numel() for p in stacked) // experts))
    if not groups:
        return None
    if total_params is None:
        seen = {id(p): p.numel() for p in module.parameters()}
        total_params = sum(seen.values())
    shared = _config_int(config, SHARED_FIELDS) or 0
    embedding = 0
    get = getattr(module, "get_input_embeddings", None)
    table = get() if callable(get) else None
    if table is not None:
        embedding = sum(p.numel() for p in table.parameters())
    return MixtureOfExperts(tuple(groups), total_params, shared, embedding)
