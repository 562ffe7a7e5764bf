"""RoPE frequencies and their scaling rules, written once for the eager modules, the ONNX
rotary caches and the cost/summary lines.

With r rotated dims (r = int(head_dim·rope_fraction)) and base b, the frequencies are
θ_j = b^(−2j/r), j = 0 … r/2 − 1; position p rotates pair j by θ_j·p. The rules:

- linear (factor s): positions are divided by s (kept in PositionalIR.rope_scaling).
- llama3 (factor s, low_freq_factor l, high_freq_factor h, original context L): with the
  wavelength λ_j = 2π/θ_j, θ_j is kept where λ_j < L/h, divided by s where λ_j > L/l,
  and in between blended: θ'_j = (1 − m)·θ_j/s + m·θ_j with m = (L/λ_j − l)/(h − l).
- yarn (factor s, original context L, β_fast, β_slow, attention factor a): the dims
  d(β) = r·ln(L/(2π·β)) / (2·ln b) bound a ramp from lo = max(⌊d(β_fast)⌋, 0) to
  hi = min(⌈d(β_slow)⌉, r − 1) (without truncate: max(d(β_fast), 0) and
  min(d(β_slow), r − 1), unrounded); with ramp_j = clamp((j − lo)/(hi − lo), 0, 1),
  θ'_j = θ_j/s · ramp_j + θ_j · (1 − ramp_j), and cos and sin are multiplied by a
  (default 0.1·ln s + 1), which scales every attention score by a².

These are the rules of transformers' modeling_rope_utils.py (`rope_type` llama3, yarn).
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

from light_llm.models.transformer.ir import RopeScalingIR

if TYPE_CHECKING:
    import torch

YARN_BETA_FAST = 32.0
YARN_BETA_SLOW = 1.0


def yarn_mscale(factor: float, mscale: float = 1.0) -> float:
    """0.1·mscale·ln(factor) + 1 (1 for factor ≤ 1), as transformers' get_mscale."""
    return 1.0 if factor <= 1 else 0.1 * mscale * math.log(factor) + 1.0


def yarn_attention_factor(factor: float) -> float:
    """YaRN's default scale of cos and sin: 0.1·ln(factor) + 1."""
    return yarn_mscale(factor)


def linear_rope_factor(rope_scaling: Any) -> float:
    """The linear factor of `model.positional.rope_scaling` (a number or an object): 1.0
    unless the scaling is linear."""
    if rope_scaling is None:
        return 1.0
    if isinstance(rope_scaling, (int, float)):
        return float(rope_scaling)
    return float(rope_scaling.factor) if rope_scaling.type == "linear" else 1.0


def lower_rope_scaling(rope_scaling: Any) -> RopeScalingIR | None:
    """The per-frequency rule of an llama3 or yarn `rope_scaling` object, defaults resolved."""
    if rope_scaling is None or isinstance(rope_scaling, (int, float)) or rope_scaling.type == "linear":
        return None
    if rope_scaling.type == "llama3":
        return RopeScalingIR(
            "llama3", rope_scaling.factor, rope_scaling.original_max_position_embeddings,
            low_freq_factor=rope_scaling.low_freq_factor,
            high_freq_factor=rope_scaling.high_freq_factor,
        )
    attention = rope_scaling.attention_factor
    return RopeScalingIR(
        "yarn", rope_scaling.factor, rope_scaling.original_max_position_embeddings,
        beta_fast=rope_scaling.beta_fast or YARN_BETA_FAST,
        beta_slow=rope_scaling.beta_slow or YARN_BETA_SLOW,
        attention_factor=attention if attention is not None else yarn_attention_factor(rope_scaling.factor),
        truncate=rope_scaling.truncate is not False,
    )


def inverse_frequencies(base: float, rotary_dim: int, rule: RopeScalingIR | None) -> "torch.Tensor":
    """θ_j `[rotary_dim/2]` float32, scaled by `rule` (None: plain RoPE)."""
    import torch

    exponents = torch.arange(0, rotary_dim, 2, dtype=torch.float64) / rotary_dim
    if rule is None:
        return (1.0 / (base**exponents)).float()
    plain = 1.0 / (base**exponents)
    if rule.type == "llama3":
        return _llama3(plain, rule).float()
    return _yarn(plain, base, rotary_dim, rule).float()


def attention_factor(rule: RopeScalingIR | None) -> float:
    """What cos and sin are multiplied by (1.0 except for yarn)."""
    return rule.attention_factor if rule is not None else 1.0


def _llama3(inv_freq: "torch.Tensor", rule: RopeScalingIR) -> "torch.Tensor":
    import torch

    low, high = rule.low_freq_factor, rule.high_freq_factor
    context = rule.original_max_position_embeddings
    wavelength = 2 * math.pi / inv_freq
    smooth = (context / wavelength - low) / (high - low)
    blended = (1 - smooth) * inv_freq / rule.factor + smooth * inv_freq
    scaled = torch.where(wavelength > context / low, inv_freq / rule.factor, blended)
    return torch.where(wavelength < context / high, inv_freq, scaled)


def _yarn(inv_freq: "torch.Tensor", base: float, rotary_dim: int, rule: RopeScalingIR) -> "torch.Tensor":
    import torch

    def correction_dim(rotations: float) -> float:
        context = rule.original_max_position_embeddings
        return rotary_dim * math.log(context / (rotations * 2 * math.pi)) / (2 * math.log(base))

    lo, hi = correction_dim(rule.beta_fast), correction_dim(rule.beta_slow)
    if rule.truncate:
        lo, hi = math.floor(lo), math.ceil(hi)
    lo, hi = max(lo, 0), min(hi, rotary_dim - 1)
    if lo == hi:
        hi += 0.001  # as transformers: no zero-width ramp
    ramp = ((torch.arange(rotary_dim // 2, dtype=torch.float64) - lo) / (hi - lo)).clamp(0, 1)
    return inv_freq / rule.factor * ramp + inv_freq * (1 - ramp)


def describe(positional) -> str:
    """One line for `lightllm compile`: the rotation of a rope PositionalIR."""
    parts = []
    if positional.rope_fraction != 1.0:
        parts.append(f"rotary fraction {positional.rope_fraction:g}")
    if positional.rope_pairing != "half":
        parts.append(f"{positional.rope_pairing} pairs")
    if positional.rope_scaling != 1.0:
        parts.append(f"linear scaling ×{positional.rope_scaling:g}")
    rule = positional.rope_scaling_rule
    if rule is not None:
        line = f"{rule.type} scaling ×{rule.factor:g} from {rule.original_max_position_embeddings}"
        if rule.type == "yarn":
            line += f", attention factor {rule.attention_factor:.4g}" + ("" if rule.truncate else ", untruncated")
        parts.append(line)
    return ", ".join(parts)
