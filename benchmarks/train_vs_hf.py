"""Training speed: a ~25M-parameter llama-style light_llm spec against Hugging Face
`LlamaForCausalLM` with the same configuration, in the same process.

Four contestants, the same random batches, the same loss, the same AdamW (the Trainer's
build_optimizer, whose kernel — fused where torch has one — is printed):
- light_llm default: what the Trainer runs for a run of --run-steps steps (train.compile
  auto times the first forwards eagerly and compiles when the steps left would take at
  least AUTO_COMPILE_SECONDS; the decision is printed);
- light_llm eager: the same model without compiling;
- HF eager: LlamaForCausalLM (SDPA attention), the same configuration and shapes;
- HF compiled: torch.compile(LlamaForCausalLM).
light_llm's fp32 CPU products go through the GEMM library measured fastest per shape
(models/transformer/training_matmul.py; the choices are printed).
Each timed window runs a few full optimizer steps (forward, loss, backward, clip, step);
windows of the contestants alternate so background load hits them alike. Prints tokens/s
(median of the windows), the ratios of light_llm default to HF eager and HF compiled
(goals: ≥ 1.3× and ≥ 1.0× in fp32), and each compile's time (the warm-up pays it; it is
not in the figures).

    .venv/bin/python benchmarks/train_vs_hf.py [--batch 4] [--seq 128] [--windows 5] [--precision fp32 bf16] [--quick]

--quick: fp32 only, 3 windows of 2 steps.
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import torch
import torch.nn.functional as F

from light_llm.compiler.build import build
from light_llm.compiler.pipeline import lower_spec
from light_llm.compiler.resolve import resolve_spec
from light_llm.models.transformer.training_matmul import library_choices
from light_llm.schemas.load import load_spec
from light_llm.schemas.train import TrainConfig
from light_llm.train.optim import build_optimizer
from light_llm.train.speed import TIMED_FORWARDS, AutoCompiled, training_forward

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


def train_steps(model: torch.nn.Module, forward, optimizer, batches, precision: str) -> None:
    """`model` holds the parameters (clipped, stepped); `forward` gives the logits (the
    module itself, its compiled form, or the Trainer's AutoCompiled, which is no module)."""
    for batch in batches:
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=precision == "bf16"):
            logits = logits_of(forward, batch[:, :-1])
        loss = F.cross_entropy(logits.float().flatten(0, 1), batch[:, 1:].flatten())
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)


def measure(contestants: dict, precision: str, batch: int, seq: int, windows: int, steps: int) -> dict[str, float]:
    """contestants: name → (module with the parameters, the forward to train through)."""
    generator = torch.Generator().manual_seed(0)
    vocab = SPEC["model"]["vocab_size"]
    data = [torch.randint(0, vocab, (batch, seq + 1), generator=generator) for _ in range(steps)]
    optimizers = {name: build_optimizer(model, TrainConfig()) for name, (model, _) in contestants.items()}
    warmup = [data[i % len(data)] for i in range(TIMED_FORWARDS + 3)]  # auto decides, then compiles
    for name, (model, forward) in contestants.items():  # warmup: compiles, allocator, optimizer state
        start = time.perf_counter()
        train_steps(model, forward, optimizers[name], warmup, precision)
        print(f"  warm-up {name} ({precision}): {time.perf_counter() - start:.1f} s", flush=True)
    times: dict[str, list[float]] = {name: [] for name in contestants}
    for _ in range(windows):
        for name, (model, forward) in contestants.items():
            start = time.perf_counter()
            train_steps(model, forward, optimizers[name], data, precision)
            times[name].append(time.perf_counter() - start)
    return {name: batch * seq * steps / statistics.median(values) for name, values in times.items()}


def cpu_name() -> str:
    lines = Path("/proc/cpuinfo").read_text().splitlines() if Path("/proc/cpuinfo").exists() else []
    names = [line.split(":", 1)[1].strip() for line in lines if line.startswith("model name")]
    return f"{names[0] if names else 'unknown CPU'} ({torch.backends.cpu.get_cpu_capability()})"


def contestants(light: torch.nn.Module, hf: torch.nn.Module, run_steps: int) -> dict:
    """The default configuration: the Trainer's forward for a run of `run_steps` steps."""
    default = training_forward(light, TrainConfig().compile, run_steps, print)
    return {
        "light_llm default": (light, default),
        "light_llm eager": (light, light),
        "HF eager": (hf, hf),
        "HF compiled": (hf, torch.compile(hf)),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=4)
    parser.add_argument("--seq", type=int, default=128)
    parser.add_argument("--windows", type=int, default=5)
    parser.add_argument("--steps", type=int, default=2, help="optimizer steps per timed window")
    parser.add_argument("--precision", choices=["fp32", "bf16"], nargs="+", default=["fp32", "bf16"])
    parser.add_argument("--quick", action="store_true", help="fp32 only, 3 windows")
    parser.add_argument("--run-steps", type=int, default=5000, help="the length of the run whose default configuration is measured")
    args = parser.parse_args()
    if args.quick:
        args.precision, args.windows = ["fp32"], min(args.windows, 3)
    light = light_llm_model()
    hf = hf_model(light)
    count = lambda model: sum(p.numel() for p in model.parameters())  # noqa: E731
    assert count(light) == count(hf), (count(light), count(hf))
    kernel = build_optimizer(light, TrainConfig()).defaults
    kernel = "fused" if kernel.get("fused") else "foreach" if kernel.get("foreach") else "for-loop"
    print(
        f"llama-style, {count(light) / 1e6:.1f}M parameters, batch {args.batch} × seq {args.seq}, "
        f"{torch.get_num_threads()} threads, cpu: {cpu_name()}, torch {torch.__version__}; median of "
        f"{args.windows} windows of {args.steps} optimizer steps\n"
        f"kernels: AdamW {kernel}; light_llm default: train.compile {TrainConfig().compile!r} "
        f"for a run of {args.run_steps} steps"
    )
    results = {}
    for precision in args.precision:
        light.train(), hf.train()
        runners = contestants(light, hf, args.run_steps)
        results[precision] = measure(runners, precision, args.batch, args.seq, args.windows, args.steps)
        default = runners["light_llm default"][1]
        if isinstance(default, AutoCompiled):
            print(f"  light_llm default ({precision}): {'compiled' if default.compiled is not None else 'eager'} "
                  f"after timing {TIMED_FORWARDS + 1} eager forwards")
    print("GEMM library per training product (light_llm, timed at first use):\n  " + "\n  ".join(library_choices()))
    names = list(next(iter(results.values())))
    print(f"\n| precision | {' | '.join(f'{name} tok/s' for name in names)} | default / HF eager | default / HF compiled |")
    print(f"|---|{'---:|' * (len(names) + 2)}")
    for precision, speeds in results.items():
        rates = " | ".join(f"{speeds[name]:,.0f}" for name in names)
        print(f"| {precision} | {rates} | {speeds['light_llm default'] / speeds['HF eager']:.2f}× | "
              f"{speeds['light_llm default'] / speeds['HF compiled']:.2f}× |")


if __name__ == "__main__":
    main()
