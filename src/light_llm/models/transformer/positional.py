"""Positional encodings.

Two families: those that add a vector to the token embeddings (learned, sinusoidal,
none) and those that act inside attention (rotary on Q and K, ALiBi on the scores).
Positions are absolute token positions `[batch, seq]`, so decoding with a KV cache and
left padding needs no special case.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from light_llm.models.transformer.errors import ModelInputError
from light_llm.models.transformer.ir import AttentionIR, PositionalIR
from light_llm.models.transformer.options import POSITIONAL_ENCODINGS, resolve_path
from light_llm.models.transformer.rope_scaling import attention_factor, inverse_frequencies
from light_llm.models.tracing import is_tracing


def rotate_half(x: torch.Tensor) -> torch.Tensor:
    """(x1, x2) → (-x2, x1) on the two halves of the last dimension."""
    x1, x2 = x.chunk(2, dim=-1)
    return torch.cat((-x2, x1), dim=-1)


class RotaryAngles(nn.Module):
    """θ_j·p for each position p and frequency j: `[batch, 1, seq, rotary_dim/2]`, θ_j
    scaled by the IR's rule (rope_scaling.py); `magnitude` is what cos and sin are
    multiplied by (yarn's attention factor, else 1)."""

    def __init__(self, ir: PositionalIR, head_dim: int):
        super().__init__()
        rule = ir.rope_scaling_rule
        inv_freq = inverse_frequencies(ir.rope_base, ir.rotary_dim(head_dim), rule)
        self.register_buffer("inv_freq", inv_freq, persistent=False)
        self.scaling = ir.rope_scaling
        self.magnitude = attention_factor(rule)

    def forward(self, position_ids: torch.Tensor) -> torch.Tensor:
        positions = position_ids.float() / self.scaling
        return (positions[:, None, :, None] * self.inv_freq)


class HalfSplitPairs(nn.Module):
    """Pairs (x_j, x_{j + r/2}) (Llama, GPT-NeoX, Phi): angles repeated as two halves."""

    def expand(self, angles: torch.Tensor) -> torch.Tensor:
        return torch.cat((angles, angles), dim=-1)

    def rotate(self, x: torch.Tensor) -> torch.Tensor:
        return rotate_half(x)


class InterleavedPairs(nn.Module):
    """Pairs (x_2j, x_2j+1) (GPT-J): each angle repeated twice in place."""

    def expand(self, angles: torch.Tensor) -> torch.Tensor:
        return angles.repeat_interleave(2, dim=-1)

    def rotate(self, x: torch.Tensor) -> torch.Tensor:
        """(x_2j, x_2j+1) → (-x_2j+1, x_2j)."""
        return torch.stack((-x[..., 1::2], x[..., 0::2]), dim=-1).flatten(-2)


ROPE_PAIRINGS = {"half": HalfSplitPairs, "interleaved": InterleavedPairs}


class RotaryEmbedding(nn.Module):
    """RoPE on the whole head: x·cos + rotate(x)·sin, the pairs chosen by rope_pairing."""

    def __init__(self, ir: PositionalIR, head_dim: int):
        super().__init__()
        self.angles = RotaryAngles(ir, head_dim)
        self.pairs = ROPE_PAIRINGS[ir.rope_pairing]()

    def forward(
        self, q: torch.Tensor, k: torch.Tensor, position_ids: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        # q: [B, H, S, D], k: [B, Hkv, S, D], position_ids: [B, S]
        angles = self.pairs.expand(self.angles(position_ids))  # [B, 1, S, rotary_dim]
        cos = (angles.cos() * self.angles.magnitude).to(q.dtype)
        sin = (angles.sin() * self.angles.magnitude).to(q.dtype)
        return self._rotate(q, cos, sin), self._rotate(k, cos, sin)

    def _rotate(self, x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
        return x * cos + self.pairs.rotate(x) * sin


class PartialRotaryEmbedding(RotaryEmbedding):
    """RoPE on the first rotary_dim dims of each head; the rest pass through (Phi, NeoX)."""

    def __init__(self, ir: PositionalIR, head_dim: int):
        super().__init__(ir, head_dim)
        self.split = [ir.rotary_dim(head_dim), head_dim - ir.rotary_dim(head_dim)]

    def _rotate(self, x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
        rotated, passed = x.split(self.split, dim=-1)
        return torch.cat((super()._rotate(rotated, cos, sin), passed), dim=-1)


def rope_rotation(ir: PositionalIR, head_dim: int) -> RotaryEmbedding:
    """The rope entry's rotation: the whole head, or its first int(head_dim·rope_fraction) dims."""
    if ir.rotary_dim(head_dim) < head_dim:
        return PartialRotaryEmbedding(ir, head_dim)
    return RotaryEmbedding(ir, head_dim)


class ComplexPhase(nn.Module):
    """RoPE for complex attention: each complex number of Q and K is multiplied by e^{iθp}.

    A complex head of head_dim reals holds head_dim/2 complex numbers, real parts in the
    first half and imaginary parts in the second (the layout of `rotate_half`), so this
    is the complex-arithmetic twin of `RotaryEmbedding`.
    """

    def __init__(self, ir: PositionalIR, head_dim: int):
        super().__init__()
        self.angles = RotaryAngles(ir, head_dim)

    def forward(
        self, q: torch.Tensor, k: torch.Tensor, position_ids: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        angles = self.angles(position_ids)  # [B, 1, S, D/2]
        magnitude = torch.full_like(angles, self.angles.magnitude)
        phase = torch.polar(magnitude, angles)  # a·e^{iθp} (a: yarn's attention factor, else 1)
        return as_real_halves(as_complex(q) * phase), as_real_halves(as_complex(k) * phase)


def as_complex(x: torch.Tensor) -> torch.Tensor:
    """[..., D] reals laid out (re | im) → [..., D/2] complex64."""
    real, imag = x.float().chunk(2, dim=-1)
    return torch.complex(real, imag)


def as_real_halves(z: torch.Tensor) -> torch.Tensor:
    return torch.cat((z.real, z.imag), dim=-1)


class NoRotation(nn.Module):
    def forward(
        self, q: torch.Tensor, k: torch.Tensor, position_ids: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        return q, k


def alibi_slopes(num_heads: int) -> torch.Tensor:
    """Head slopes of ALiBi (Press et al., 2022): a geometric sequence starting at
    2^(-8/n) for n a power of two; otherwise the closest smaller power of two, then every
    other slope of the next power of two."""

    def power_of_two_slopes(n: int) -> list[float]:
        start = 2.0 ** (-8.0 / n)
        return [start ** (i + 1) for i in range(n)]

    closest = 2 ** math.floor(math.log2(num_heads))
    slopes = power_of_two_slopes(closest)
    if closest < num_heads:
        slopes += power_of_two_slopes(2 * closest)[0::2][: num_heads - closest]
    return torch.tensor(slopes, dtype=torch.float32)


class ALiBi(nn.Module):
    """Adds -slope_h · |i - j| to the attention score of query i and key j."""

    def __init__(self, ir: AttentionIR):
        super().__init__()
        self.register_buffer("slopes", alibi_slopes(ir.num_heads), persistent=False)

    def forward(self, distance: torch.Tensor) -> torch.Tensor:
        # distance: [S, T] → bias [1, H, S, T]
        return -self.slopes[None, :, None, None] * distance.abs().float()[None, None]

    def flash_attn_slopes(self) -> torch.Tensor:
        """flash-attn applies this bias itself from the head slopes."""
        return self.slopes


class NoScoreBias(nn.Module):
    def forward(self, distance: torch.Tensor) -> torch.Tensor:
        return torch.zeros((1, 1) + distance.shape, device=distance.device)

    def flash_attn_slopes(self) -> None:
        return None


class LearnedPositions(nn.Module):
    def __init__(self, ir: PositionalIR, d_model: int):
        super().__init__()
        self.max_seq_len = ir.max_seq_len
        self.embedding = nn.Embedding(ir.max_seq_len, d_model)

    def forward(self, position_ids: torch.Tensor) -> torch.Tensor:
        if not is_tracing():
            longest = int(position_ids.max()) + 1 if position_ids.numel() else 0
            if longest > self.max_seq_len:
                raise ModelInputError(
                    f"position {longest - 1} is beyond max_seq_len={self.max_seq_len}: learned "
                    f"positional embeddings exist only for positions < {self.max_seq_len}"
                )
        return self.embedding(position_ids)


class SinusoidalPositions(nn.Module):
    """PE[p, 2i] = sin(p / 10000^(2i/d)), PE[p, 2i+1] = cos(p / 10000^(2i/d))."""

    def __init__(self, ir: PositionalIR, d_model: int):
        super().__init__()
        exponents = torch.arange(0, d_model, 2, dtype=torch.float64) / d_model
        self.register_buffer("inv_freq", (1.0 / 10000.0**exponents).float(), persistent=False)
        self.d_model = d_model

    def forward(self, position_ids: torch.Tensor) -> torch.Tensor:
        angles = position_ids.float()[..., None] * self.inv_freq  # [B, S, ceil(d/2)]
        pairs = torch.stack((angles.sin(), angles.cos()), dim=-1)  # [B, S, d/2, 2]
        return pairs.flatten(-2)[..., : self.d_model]


class NoPositions(nn.Module):
    """Adds nothing to the embeddings (used by rope, alibi and none)."""

    def forward(self, position_ids: torch.Tensor) -> None:
        return None


def build_embedding_positions(ir: PositionalIR, d_model: int) -> nn.Module:
    """What the encoding adds to the token embeddings (NoPositions: nothing)."""
    path = POSITIONAL_ENCODINGS[ir.encoding].embedding
    return resolve_path(path)(ir, d_model) if path else NoPositions()


def build_rotation(ir: PositionalIR, head_dim: int, complex_phase: bool) -> nn.Module:
    """How the encoding rotates Q and K (NoRotation: not at all)."""
    encoding = POSITIONAL_ENCODINGS[ir.encoding]
    path = encoding.complex_rotation if complex_phase else encoding.rotation
    return resolve_path(path)(ir, head_dim) if path else NoRotation()


def build_score_bias(ir: AttentionIR) -> nn.Module:
    """What the encoding adds to the attention scores (NoScoreBias: zeros)."""
    path = POSITIONAL_ENCODINGS[ir.positional.encoding].score_bias
    return resolve_path(path)(ir) if path else NoScoreBias()
