"""Training speed: a ~25M-parameter llama-style light_llm spec against Hugging Face
`LlamaForCausalLM` with the same configuration, in the same process.

Both take the same random batches, the same loss and the same AdamW; each timed window
runs a few full optimizer steps (forward, loss, backward, step); windows of the two
models alternate so background load hits both alike. Prints tokens/s (median of the
windows) and the ratio light_llm / HF, in fp32 and in bf16 autocast.

    .venv/bin/python benchmarks/train_vs_hf.py [--batch 4] [--seq 128] [--windows 5] [--precision fp32 bf16]
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch
import torch.nn.functional as F

from light_llm.compiler.build import build
from light_llm.compiler.pipeline import lower_spec
from light_llm.compiler.resolve import resolve_spec
from light_llm.schemas.load import load_spec
from light_llm.schemas.train import TrainConfig
from light_llm.train.optim import build_optimizer

SPEC = {
    "spec_version": 1,
    "model": {
        "name": "transformer",
        "vocab_size": 8192,
        "d_model": 512,
        "num_layers": 6,
        "max_seq_len": 256,
        "tie_embeddings": False,
        "attention": {"variant": "gqa", "num_heads": 8, "num_kv_heads": 2},
        "positional": {"encoding": "rope", "rope_base": 10000.0},
        "ffn": {"variant": "swiglu"},
        "norm": {"type": "rmsnorm", "eps": 1e-5, "placement": "pre"},
    },
}


def light_llm_model() -> torch.nn.Module:
    return build(lower_spec(resolve_spec(load_spec(SPEC))), seed=0)


def hf_model(light: torch.nn.Module) -> torch.nn.Module:
    from transformers import LlamaConfig, LlamaForCausalLM

    ir = light.ir
    attention = ir.blocks[0].attention
    config = LlamaConfig(
        vocab_size=ir.vocab_size,
        hidden_size=ir.d_model,
        intermediate_size=ir.blocks[0].ffn.hidden_dim,
        num_hidden_layers=ir.num_layers,
        num_attention_heads=attention.num_heads,
        num_key_value_heads=attention.num_kv_heads,
        head_dim=attention.head_dim,
        max_position_embeddings=ir.max_seq_len,
        rms_norm_eps=SPEC["model"]["norm"]["eps"],
        rope_theta=SPEC["model"]["positional"]["rope_base"],
        tie_word_embeddings=False,
        attention_bias=False,
        mlp_bias=False,
    )
    config._attn_implementation = "sdpa"
    torch.manual_seed(0)
    return LlamaForCausalLM(config)


def logits_of(model: torch.nn.Module, tokens: torch.Tensor) -> torch.Tensor:
    output = model(tokens)
    return output if isinstance(output, torch.Tensor) else output.logits


def train_steps(model, optimizer, batches, precision: str) -> None:
    for batch in batches:
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=precision == "bf16"):
            logits = logits_of(model, batch[:, :-1])
        loss = F.cross_entropy(logits.float().flatten(0, 1), batch[:, 1:].flatten())
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)


def measure(models: dict, precision: str, batch: int, seq: int, windows: int, steps: int) -> dict[str, float]:
    generator = torch.Generator().manual_seed(0)
    vocab = SPEC["model"]["vocab_size"]
    data = [torch.randint(0, vocab, (batch, seq + 1), generator=generator) for _ in range(steps)]
    optimizers = {name: build_optimizer(model, TrainConfig()) for name, model in models.items()}
    for name, model in models.items():  # warmup: allocator, kernels, optimizer state
        train_steps(model, optimizers[name], data[:2], precision)
    times: dict[str, list[float]] = {name: [] for name in models}
    for _ in range(windows):
        for name, model in models.items():
            start = time.perf_counter()
            train_steps(model, optimizers[name], data, precision)
            times[name].append(time.perf_counter() - start)
    return {name: batch * seq * steps / statistics.median(values) for name, values in times.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=4)
    parser.add_argument("--seq", type=int, default=128)
    parser.add_argument("--windows", type=int, default=5)
    parser.add_argument("--steps", type=int, default=2, help="optimizer steps per timed window")
    parser.add_argument("--precision", choices=["fp32", "bf16"], nargs="+", default=["fp32", "bf16"])
    args = parser.parse_args()
    light = light_llm_model()
    hf = hf_model(light)
    count = lambda model: sum(p.numel() for p in model.parameters())  # noqa: E731
    assert count(light) == count(hf), (count(light), count(hf))
    print(
        f"llama-style, {count(light) / 1e6:.1f}M parameters, batch {args.batch} × seq {args.seq}, "
        f"{torch.get_num_threads()} threads, CPU capability {torch.backends.cpu.get_cpu_capability()}, "
        f"torch {torch.__version__}; median of {args.windows} windows "
        f"of {args.steps} optimizer steps"
    )
    results = {}
    for precision in args.precision:
        light.train(), hf.train()
        results[precision] = measure({"light_llm": light, "hf": hf}, precision, args.batch, args.seq, args.windows, args.steps)
    print(f"\n{'precision':<10}{'light_llm tok/s':>17}{'HF tok/s':>12}{'light/HF':>10}")
    for precision, speeds in results.items():
        print(f"{precision:<10}{speeds['light_llm']:>17,.0f}{speeds['hf']:>12,.0f}{speeds['light_llm'] / speeds['hf']:>9.2f}×")
    if len(results) < 2:
        return
    print(f"\nbf16 / fp32: light_llm {results['bf16']['light_llm'] / results['fp32']['light_llm']:.2f}×, "
          f"HF {results['bf16']['hf'] / results['fp32']['hf']:.2f}×")


if __name__ == "__main__":
    main()
