"""SmolLM2 moved off its GGUF grid: the same function, weights on no quantization grid.

The real model's fp32 weights were dequantized from Q4_1 / Q8_0 blocks, so they lie on a
grid that the grid fit (exports/quantize_grid.py) keeps exactly and that favours any
quantizer with blocks of 32. This folder holds the same model with every RMSNorm weight
folded into the projections that read it (q, k, v by the attention norm; gate, up by the
FFN norm; the LM head, untied, by the final norm) and the residual stream rotated by a
random orthogonal Q (seeded): embedding E·Q, reading projections W·Q, writing projections
(o, down) Qᵀ·W. RMSNorm with unit weights commutes with a rotation, so the logits are the
original ones to fp32 rounding (the benchmark prints both perplexities).
"""

from __future__ import annotations

import json
from pathlib import Path

SEED = 0


def off_grid_folder(hf: Path, out: Path) -> Path:
    """`out` (made once): the Hugging Face folder `hf` folded and rotated as the module says."""
    if (out / "config.json").exists():
        return out
    import shutil

    import torch
    from transformers import AutoModelForCausalLM

    from light_llm.staging import staged_folder

    print("making the off-grid model (norms folded, residual stream rotated) …", flush=True)
    model = AutoModelForCausalLM.from_pretrained(hf, dtype=torch.float32)
    width = model.config.hidden_size
    generator = torch.Generator().manual_seed(SEED)
    rotation, _ = torch.linalg.qr(torch.randn(width, width, generator=generator, dtype=torch.float64))
    with torch.no_grad():
        head = model.model.embed_tokens.weight.detach().clone().double() * model.model.norm.weight.double()
        model.model.norm.weight.fill_(1.0)
        for layer in model.model.layers:
            attention, ffn = layer.self_attn, layer.mlp
            _read(rotation, layer.input_layernorm, attention.q_proj, attention.k_proj, attention.v_proj)
            _read(rotation, layer.post_attention_layernorm, ffn.gate_proj, ffn.up_proj)
            _write(rotation, attention.o_proj, ffn.down_proj)
        embedding = model.model.embed_tokens.weight
        embedding.copy_((embedding.double() @ rotation).float())
        model.config.tie_word_embeddings = False
        model.lm_head = torch.nn.Linear(width, model.config.vocab_size, bias=False)
        model.lm_head.weight.copy_((head @ rotation).float())
    with staged_folder(out) as staging:
        model.save_pretrained(staging, safe_serialization=True)
        for item in hf.iterdir():
            if item.is_file() and item.name.startswith(("tokenizer", "special_tokens", "chat_template", "generation")):
                shutil.copy(item, staging / item.name)
        config = json.loads((staging / "config.json").read_text())
        config["tie_word_embeddings"] = False
        (staging / "config.json").write_text(json.dumps(config, indent=2))
    return out


def _read(rotation, norm, *projections) -> None:
    """Projections reading the rotated stream through `norm`: W·diag(g)·Q, the norm's g set to 1."""
    for projection in projections:
        weight = projection.weight
        weight.copy_((weight.double() * norm.weight.double() @ rotation).float())
    norm.weight.fill_(1.0)


def _write(rotation, *projections) -> None:
    """Projections adding to the stream: Qᵀ·W."""
    for projection in projections:
        weight = projection.weight
        weight.copy_((rotation.T @ weight.double()).float())
