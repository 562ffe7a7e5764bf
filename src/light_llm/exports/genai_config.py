"""onnxruntime-genai's `genai_config.json` for an exported decoder.

`past_present_share_buffer` says whether past and present may be one buffer of
max_length slots that the graph writes in place: true for a graph whose attention is
com.microsoft GroupQueryAttention (the fused export says so with `shares_kv_buffer`), false
for the standard-ops graph, whose present is a new tensor (past + current). position_ids is listed only where the graph has
that input; onnxruntime-genai then derives positions from the attention mask, as
light_llm does (left padding does not shift positions).
"""

from __future__ import annotations

from light_llm.runtime.geometry import Geometry

MODEL_TYPE = "llama"  # genai's generic decoder-only handling: named inputs, separate K/V


def genai_unsupported_reason(geometry: Geometry) -> str | None:
    if not geometry.cached:
        return ("bidirectional attention has no KV cache, and onnxruntime-genai generates "
                "through one; use light_llm.runtime (it re-runs the whole sequence)")
    return None


def genai_config(ir, geometry: Geometry, eos_id: int | list[int] | None, pad_id: int | None,
                 shares_kv_buffer: bool = False, bos_id: int | None = None) -> dict:
    """`eos_id`: the end-of-text id, or the list of every id that ends a turn (genai stops at
    any of them); `bos_id`: the beginning-of-text id (default: the first end id); `shares_kv_buffer`: the graph supports one KV buffer for past and present (the fused
    form's GroupQueryAttention does; the standard-ops form's Concat does not)."""
    attention = ir.blocks[0].attention
    inputs = {"input_ids": "input_ids", "attention_mask": "attention_mask"}
    if geometry.uses_position_ids:
        inputs["position_ids"] = "position_ids"
    inputs |= {"past_key_names": "past_key_values.%d.key", "past_value_names": "past_key_values.%d.value"}
    eos = eos_id if eos_id is not None else -1  # -1: no end-of-text token, stop at max_length
    first = eos[0] if isinstance(eos, list) else eos
    return {
        "model": {
            "type": MODEL_TYPE,
            "vocab_size": ir.vocab_size,
            "context_length": ir.max_seq_len,
            "bos_token_id": first if bos_id is None else bos_id,
            "eos_token_id": eos,
            "pad_token_id": pad_id if pad_id is not None else first,
            "decoder": {
                "session_options": {"log_id": "onnxruntime-genai", "provider_options": []},
                "filename": "model.onnx",
                "head_size": geometry.head_dim,
                "hidden_size": ir.d_model,
                "num_attention_heads": attention.num_heads,
                "num_key_value_heads": geometry.num_kv_heads,
                "num_hidden_layers": geometry.num_layers,
                "inputs": inputs,
                "outputs": {
                    "logits": "logits",
                    "present_key_names": "present.%d.key",
                    "present_value_names": "present.%d.value",
                },
            },
        },
        "search": {
            "do_sample": False,
            "early_stopping": True,
            "length_penalty": 1.0,
            "max_length": ir.max_seq_len,
            "min_length": 0,
            "no_repeat_ngram_size": 0,
            "num_beams": 1,
            "num_return_sequences": 1,
            "past_present_share_buffer": shares_kv_buffer,
            "repetition_penalty": 1.0,
            "temperature": 1.0,
            "top_k": 1,
            "top_p": 1.0,
        },
    }
