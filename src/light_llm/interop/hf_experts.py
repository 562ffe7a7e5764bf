"""What the Hugging Face mixture-of-experts families share (Qwen3-MoE, Qwen2-MoE, OLMoE,
Mixtral): `Experts`, a mixin placed before the family's dense base class, maps model.ffn.moe
onto their sparse blocks. Not an architecture file.

Tensors, per sparse layer i: the router `blocks.i.ffn.router` is `mlp.gate`; transformers'
module stacks the experts (`mlp.experts.gate_up_proj` [E, 2·hidden, d_model], gate rows
first, and `mlp.experts.down_proj` [E, d_model, hidden]) while checkpoint files keep each
expert apart (`<block>.experts.e.<gate|up|down>.weight`, `checkpoint_layout`); the shared
expert and its gate are `mlp.shared_expert` and `mlp.shared_expert_gate` (Qwen2-MoE).
Routing: softmax over every expert, the top k, rescaled to sum to 1 where the family's
`norm_topk_prob` says so (Mixtral always); light_llm's topk_softmax is that rescaled form."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import torch

from light_llm.interop.hf.base import HFConfigError, Need, expansion
from light_llm.models.transformer.ir import FFNIR, TransformerIR

OUR_PROJECTIONS = ("gate_proj", "up_proj", "down_proj")


@dataclass(frozen=True)
class ExpertFiles:
    """How a family's checkpoint names a sparse layer: its block and each expert's gate,
    up and down projections."""

    block: str = "mlp"
    projections: tuple[str, str, str] = OUR_PROJECTIONS


def sparse_ffn(ir: TransformerIR) -> FFNIR | None:
    return next((block.ffn for block in ir.blocks if block.ffn.moe is not None), None)


def sparse_layers(ir: TransformerIR) -> list[int]:
    return [block.index for block in ir.blocks if block.ffn.moe is not None]


def dense_layers(ir: TransformerIR) -> list[int]:
    return [block.index for block in ir.blocks if block.ffn.moe is None]


def _moe(field: str, dense: Any = None):
    return lambda ir: getattr(sparse_ffn(ir).moe, field) if sparse_ffn(ir) else dense


def router_bias_need(allowed: bool) -> Need:
    return Need("model.ffn.moe.router_bias", _moe("router_bias"), (allowed,))


IS_SPARSE = Need("model.ffn.moe", lambda ir: sparse_ffn(ir) is not None, (True,))
MOE_NEEDS = (IS_SPARSE, router_bias_need(False))
NO_SHARED_EXPERTS = Need("model.ffn.moe.shared_experts", _moe("shared_experts", 0), (0,))
EVERY_LAYER_SPARSE = Need("model.ffn.moe (dense layers)", lambda ir: len(dense_layers(ir)), (0,))
NORMALIZED = Need("model.ffn.moe.normalize_topk", _moe("normalized"), (True,))


class Experts:
    """Mixin for an HFArchitecture whose sparse layers are a mixture of experts."""

    files: ClassVar[ExpertFiles] = ExpertFiles()

    def expert_problems(self, ir: TransformerIR) -> list[str]:
        return []  # its needs say what it cannot express

    def renames(self, ir: TransformerIR) -> list[tuple[str, str]]:
        """The dense base's pairs, less the sparse layers' FFN, plus their router and shared expert."""
        sparse = set(sparse_layers(ir))
        pairs = [(ours, theirs) for ours, theirs in super().renames(ir)
                 if not any(ours.startswith(f"blocks.{i}.ffn.") for i in sparse)]
        for i in sparse:
            ours, theirs = f"blocks.{i}.ffn", f"model.layers.{i}.mlp"
            pairs.append((f"{ours}.router.weight", f"{theirs}.gate.weight"))
            ffn = ir.blocks[i].ffn
            if ffn.shared is not None:
                pairs += [(f"{ours}.shared.{name}.weight", f"{theirs}.shared_expert.{name}.weight")
                          for name in OUR_PROJECTIONS]
            if ffn.moe.shared_expert_gate:
                pairs.append((f"{ours}.shared_gate.weight", f"{theirs}.shared_expert_gate.weight"))
        return pairs

    def to_hf(self, ir: TransformerIR, state: dict) -> dict:
        hf_state = super().to_hf(ir, state)
        for i in sparse_layers(ir):
            experts = [f"blocks.{i}.ffn.experts.{e}" for e in range(ir.blocks[i].ffn.moe.experts)]
            hf_state[f"model.layers.{i}.mlp.experts.gate_up_proj"] = torch.stack(
                [torch.cat([state[f"{e}.gate_proj.weight"], state[f"{e}.up_proj.weight"]]) for e in experts])
            hf_state[f"model.layers.{i}.mlp.experts.down_proj"] = torch.stack(
                [state[f"{e}.down_proj.weight"] for e in experts])
        return hf_state

    def from_hf(self, ir: TransformerIR, hf_state: dict) -> dict:
        state = super().from_hf(ir, hf_state)
        for i in sparse_layers(ir):
            gate, up = hf_state[f"model.layers.{i}.mlp.experts.gate_up_proj"].chunk(2, dim=1)
            down = hf_state[f"model.layers.{i}.mlp.experts.down_proj"]
            for e in range(ir.blocks[i].ffn.moe.experts):
                for name, tensor in zip(OUR_PROJECTIONS, (gate, up, down)):
                    state[f"blocks.{i}.ffn.experts.{e}.{name}.weight"] = tensor[e]
        return state

    def file_renames(self, ir: TransformerIR) -> list[tuple[str, str]]:
        """(ours, the checkpoint file's name) of every tensor, each expert apart."""
        sparse = set(sparse_layers(ir))
        block = self.files.block
        pairs = [(ours, _in_block(theirs, sparse, block)) for ours, theirs in self.renames(ir)]
        for i in sorted(sparse):
            for e in range(ir.blocks[i].ffn.moe.experts):
                pairs += [(f"blocks.{i}.ffn.experts.{e}.{ours}.weight",
                           f"model.layers.{i}.{block}.experts.{e}.{theirs}.weight")
                          for ours, theirs in zip(OUR_PROJECTIONS, self.files.projections)]
        return pairs

    def checkpoint_layout(self, ir: TransformerIR, hf_state: dict) -> dict:
        state = self.from_hf(ir, hf_state)
        return {theirs: state[ours] for ours, theirs in self.file_renames(ir)}

    def module_layout(self, ir: TransformerIR, checkpoint: dict) -> dict:
        state = {ours: checkpoint[theirs] for ours, theirs in self.file_renames(ir) if theirs in checkpoint}
        if "lm_head.weight" not in state:  # tied: the embedding
            state["lm_head.weight"] = state["embed_tokens.weight"]
        return self.to_hf(ir, state)


def _in_block(name: str, sparse: set[int], block: str) -> str:
    """`model.layers.i.mlp.…` → `model.layers.i.<block>.…` for a sparse layer i."""
    parts = name.split(".")
    if len(parts) > 3 and parts[:2] == ["model", "layers"] and int(parts[2]) in sparse and parts[3] == "mlp":
        return ".".join(parts[:3] + [block] + parts[4:])
    return name


def moe_section(experts: int, per_token: int, hidden: int, d_model: int, normalize: bool,
                aux_loss_coef: float, sparse: list[bool], sparse_step: int = 1, shared: dict | None = None) -> dict:
    """The spec's model.ffn.moe for a family's config; `sparse`: per layer, whether it is."""
    first_dense = next((k for k in range(len(sparse) + 1)
                        if sparse == [i >= k and (i + 1) % sparse_step == 0 for i in range(len(sparse))]), None)
    if first_dense is None:
        dense = [i for i, is_sparse in enumerate(sparse) if not is_sparse]
        raise HFConfigError(f"dense layers {dense} are not the first k layers and every other layer "
                            f"of decoder_sparse_step={sparse_step}: light_llm's ffn.moe cannot place them")
    return {"experts": experts, "experts_per_token": per_token, "expansion_factor": expansion(hidden, d_model),
            "normalize_topk": normalize, "aux_loss_coef": aux_loss_coef, "sparse_every": sparse_step,
            "first_dense_layers": first_dense, **(shared or {})}
