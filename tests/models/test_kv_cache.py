"""KV-cache decoding (`forward_with_cache`) equals the full forward pass for every mask
type, positional encoding and attention variant, with left padding too."""

from __future__ import annotations

import itertools

import pytest
import torch

from tiny_models import tiny_model, tokens

VARIANTS = ("mha", "gqa", "mqa", "complex")
ENCODINGS = ("rope", "alibi", "sinusoidal", "learned", "none")
MASKS = ({"mask_type": "causal"}, {"mask_type": "sliding_window", "window_size": 3})
ATOL = 1e-5


def decode_step_by_step(model, ids: torch.Tensor, prefill: int) -> torch.Tensor:
    """Prefill `prefill` tokens, then feed the rest one at a time; the logits of all."""
    batch, seq = ids.shape
    cache = model.empty_cache(batch)
    chunks = [(0, prefill)] + [(i, i + 1) for i in range(prefill, seq)]
    logits = []
    for start, end in chunks:
        mask = torch.ones(batch, end, dtype=torch.long)
        positions = torch.arange(start, end).expand(batch, -1)
        out, cache = model.forward_with_cache(ids[:, start:end], mask, positions, cache)
        logits.append(out)
    return torch.cat(logits, dim=1)


@pytest.mark.parametrize(
    "variant,encoding,mask", list(itertools.product(VARIANTS, ENCODINGS, MASKS)),
    ids=lambda v: v["mask_type"] if isinstance(v, dict) else v,
)
def test_decode_equals_full_forward(variant, encoding, mask):
    model = tiny_model(attention={"variant": variant, **mask}, positional={"encoding": encoding})
    ids = tokens(2, 9)
    with torch.no_grad():
        full = model(ids)
        decoded = decode_step_by_step(model, ids, prefill=4)
    assert (decoded - full).abs().max() < ATOL


WIRINGS = {"sequential": {}, "parallel": {"parallel_layers": True},
           "parallel-separate-norms": {"parallel_layers": True, "parallel_norms": "separate"}}


@pytest.mark.parametrize("placement,wiring", [
    (placement, wiring) for placement in ("pre", "post", "sandwich", "output") for wiring in WIRINGS
    if not (wiring == "parallel-separate-norms" and placement in ("post", "output"))  # refused: no input norms
])
def test_decode_equals_full_forward_for_every_block_wiring(placement, wiring):
    model = tiny_model(norm={"placement": placement, "type": "layernorm"}, lm_head_bias=True,
                       ffn={"variant": "geglu", "activation": "gelu_tanh"}, **WIRINGS[wiring])
    ids = tokens(2, 7)
    with torch.no_grad():
        assert (decode_step_by_step(model, ids, prefill=3) - model(ids)).abs().max() < ATOL


@pytest.mark.parametrize("variant", ["gqa", "complex"])
def test_export_lowering_decodes_like_eager(variant):
    """The export target (complex attention as real pairs, portable kernels) keeps the
    weights and gives the eager logits, step by step."""
    eager = tiny_model(attention={"variant": variant})
    exported = tiny_model("export", attention={"variant": variant})
    exported.load_state_dict(eager.state_dict())
    ids = tokens(2, 7)
    with torch.no_grad():
        assert (decode_step_by_step(exported, ids, prefill=3) - eager(ids)).abs().max() < ATOL


@pytest.mark.parametrize(
    "encoding,mask",
    [("rope", MASKS[0]), ("alibi", MASKS[1]), ("learned", MASKS[0]), ("sinusoidal", MASKS[1])],
)
def test_left_padding_gives_the_unpadded_logits(encoding, mask):
    """Row 0 is left-padded by 3; with positions counted from its first real token its
    prefill and decode logits equal those of the same tokens alone."""
    model = tiny_model(attention=mask, positional={"encoding": encoding})
    pad, seq = 3, 6
    real = tokens(1, seq + 2, seed=3)
    ids = torch.cat([torch.zeros(1, pad, dtype=torch.long), real[:, :seq]], dim=1)
    ids = torch.cat([ids, tokens(1, pad + seq, seed=4)])  # row 1: no padding
    mask_rows = torch.ones(2, pad + seq, dtype=torch.long)
    mask_rows[0, :pad] = 0
    positions = (mask_rows.cumsum(-1) - 1).clamp(min=0)
    with torch.no_grad():
        logits, cache = model.forward_with_cache(ids, mask_rows, positions, model.empty_cache(2))
        alone = model(real)
        assert (logits[0, pad:] - alone[0, :seq]).abs().max() < ATOL
        assert (logits[1] - model(ids[1:])[0]).abs().max() < ATOL
        for step in range(2):
            mask_rows = torch.cat([mask_rows, torch.ones(2, 1, dtype=torch.long)], dim=1)
            next_ids = torch.stack([real[0, seq + step], ids[1, -1]])[:, None]
            next_positions = positions[:, -1:] + 1 + step
            out, cache = model.forward_with_cache(next_ids, mask_rows, next_positions, cache)
            assert (out[0, 0] - alone[0, seq + step]).abs().max() < ATOL
    assert torch.isfinite(logits).all()  # fully masked padding rows stay finite


def test_present_cache_shape_and_growth():
    model = tiny_model(attention={"variant": "gqa", "num_kv_heads": 2})
    cache = model.empty_cache(3)
    assert [tuple(k.shape) for k, _ in cache] == [(3, 2, 0, 8)] * 2
    with torch.no_grad():
        _, cache = model.forward_with_cache(
            tokens(3, 5), torch.ones(3, 5, dtype=torch.long), torch.arange(5).expand(3, 5), cache
        )
    assert [tuple(v.shape) for _, v in cache] == [(3, 2, 5, 8)] * 2


def test_bidirectional_refuses_incremental_decoding():
    model = tiny_model(attention={"mask_type": "bidirectional"})
    with pytest.raises(ValueError, match="bidirectional attention cannot decode incrementally"):
        model.forward_with_cache(
            tokens(1, 2), torch.ones(1, 2, dtype=torch.long), torch.arange(2)[None], model.empty_cache(1)
        )


def test_learned_positions_past_max_seq_len_is_a_clear_error():
    model = tiny_model(positional={"encoding": "learned"})  # max_seq_len 24
    cache = model.empty_cache(1)
    with torch.no_grad():
        _, cache = model.forward_with_cache(
            tokens(1, 24), torch.ones(1, 24, dtype=torch.long), torch.arange(24)[None], cache
        )
        with pytest.raises(ValueError, match="position 24 is beyond max_seq_len=24"):
            model.forward_with_cache(
                tokens(1, 1), torch.ones(1, 25, dtype=torch.long), torch.tensor([[24]]), cache
            )
        with pytest.raises(ValueError, match="beyond max_seq_len"):
            model(tokens(1, 25))


LLAMA3 = {"type": "llama3", "factor": 8.0, "low_freq_factor": 1.0, "high_freq_factor": 4.0,
          "original_max_position_embeddings": 4}
YARN = {"type": "yarn", "factor": 4.0, "original_max_position_embeddings": 4}
ROPE_OPTIONS = {
    "llama3": {"positional": {"rope_scaling": LLAMA3}},
    "yarn-complex": {"attention": {"variant": "complex"}, "positional": {"rope_scaling": YARN}},
    "yarn-partial-window": {"attention": {"mask_type": "sliding_window", "window_size": 3},
                            "positional": {"rope_scaling": YARN, "rope_fraction": 0.5}},
    "partial-interleaved-mqa": {"attention": {"variant": "mqa"},
                                "positional": {"rope_fraction": 0.5, "rope_pairing": "interleaved"}},
    "interleaved-linear": {"positional": {"rope_pairing": "interleaved",
                                          "rope_scaling": {"type": "linear", "factor": 2.0}}},
}


@pytest.mark.parametrize("option", ROPE_OPTIONS)
def test_decode_equals_full_forward_for_rope_options(option):
    """Positions run past original_max_position_embeddings (4), where the scaling rules act."""
    model = tiny_model(**ROPE_OPTIONS[option])
    ids = tokens(2, 11)
    with torch.no_grad():
        assert (decode_step_by_step(model, ids, prefill=4) - model(ids)).abs().max() < ATOL


@pytest.mark.parametrize("pattern", [["sliding_window", "causal"], ["causal", "sliding_window", "sliding_window"]])
def test_decode_equals_full_forward_with_sliding_layers_mixed_with_global_ones(pattern):
    """A window of 3 over 11 tokens: sliding and global layers see different keys, each
    sliding layer with its own RoPE base; decode and left padding match the full forward."""
    model = tiny_model(num_layers=3, attention={"mask_type": "sliding_window", "window_size": 3,
                                                "layer_pattern": pattern},
                       positional={"sliding_rope_base": 100.0})
    assert len(model.attention_biases) == 2
    ids = tokens(2, 11)
    with torch.no_grad():
        full = model(ids)
        assert (decode_step_by_step(model, ids, prefill=4) - full).abs().max() < ATOL
        mask = torch.ones(2, 13, dtype=torch.long)
        mask[0, :2] = 0
        padded = torch.cat([torch.zeros(2, 2, dtype=torch.long), ids], dim=1)
        positions = (mask.cumsum(-1) - 1).clamp(min=0)
        logits, _ = model.forward_with_cache(padded, mask, positions, model.empty_cache(2))
        assert (logits[0, 2:] - full[0]).abs().max() < ATOL
        global_only = tiny_model(num_layers=3)
        global_only.load_state_dict(model.state_dict())
        assert (global_only(ids) - full).abs().max() > 1e-3  # the pattern matters


ATTENTION_OPTIONS = {
    "bias-qkv-qk-norm-per-head": {"attention": {"bias": "qkv", "qk_norm": "per_head"}},
    "qk-norm-whole-layernorm": {"attention": {"qk_norm": "whole", "bias": True},
                                "norm": {"type": "layernorm"}},
    "scale-softcap-window": {"attention": {"scale": 0.7, "logit_softcap": 3.0,
                                           "mask_type": "sliding_window", "window_size": 3}},
    "softcap-alibi-final-cap-embedding-scale": {
        "attention": {"logit_softcap": 2.0}, "positional": {"encoding": "alibi"},
        "final_logit_softcap": 1.5, "embedding_scale": "sqrt_d_model"},
    "nope-layers-granite-factors": {
        "num_layers": 3, "positional": {"layer_pattern": ["rope", "none"]}, "attention": {"scale": 0.2},
        "embedding_scale": 3.0, "residual_scale": 0.4, "logit_divisor": 2.5},
}


@pytest.mark.parametrize("options", ATTENTION_OPTIONS)
def test_decode_equals_full_forward_for_attention_options(options):
    model = tiny_model(**ATTENTION_OPTIONS[options])
    ids = tokens(2, 9)
    with torch.no_grad():
        full = model(ids)
        assert (decode_step_by_step(model, ids, prefill=4) - full).abs().max() < ATOL
