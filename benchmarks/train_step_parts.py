"""Where a training step's time goes: light_llm's default configuration against Hugging
Face `LlamaForCausalLM` (eager and compiled), the model, batches and step of
benchmarks/train_vs_hf.py.

Parts, in ms per optimizer step:
- matrix products of the Linears, split into forward, input gradient and weight gradient
  (each call timed, with its GFLOP/s; `light_llm::matmul_nt` for light_llm, `aten::mm`
  for Hugging Face), seen through a dispatch mode so compiled graphs count too;
- attention (SDPA forward and backward), cross-entropy, gradient clipping and the
  optimizer (step and zero_grad), from the profiler's self time of their ops;
- rest: every other op's profiled self time (norms, rotary, activation, residual adds,
  embedding, copies, the autograd engine);
- unattributed: the unprofiled step's time less all of the above (Python between ops,
  and the noise between windows).
Each round runs three 2-step windows per contestant (unprofiled, products timed,
profiled), the contestants' rounds interleaved; every part is the median over the rounds.
It also times a large square product with both libraries, the fp32 GEMM rate this CPU
reaches, and prints what the step would take with every product at that rate.

    .venv/bin/python benchmarks/train_step_parts.py [--rounds 3] [--contestants "light_llm default" "HF eager"]
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections import Counter

import torch
import train_vs_hf as bench
from torch.profiler import ProfilerActivity, profile
from torch.utils._python_dispatch import TorchDispatchMode

from light_llm.models.transformer.linear_calibration import median_seconds
from light_llm.models.transformer.training_matmul import (
    _onednn,
    is_transposed,
    library_choices,
)
from light_llm.schemas.train import TrainConfig
from light_llm.train.optim import build_optimizer

PRODUCT_PARTS = ("matmul forward", "matmul input grad", "matmul weight grad")
PROFILED_PARTS = {  # part → op names whose self time (and their children's) it takes; nearest match wins
    "attention": ("scaled_dot_product",),
    "cross-entropy": ("cross_entropy", "log_softmax", "nll_loss"),
    "clip": ("clip_grad", "_foreach_norm", "linalg_vector_norm", "_foreach_mul_"),
    "optimizer": ("Optimizer.", "adamw"),
    "products": ("matmul_nt", "aten::mm", "mkldnn", "addmm"),  # timed per call instead
}


class InForward:
    """The forward, flagging when it runs: a product inside it is a forward product."""

    def __init__(self, forward):
        self.forward = forward
        self.running = False

    def __call__(self, *inputs):
        self.running = True
        try:
            return self.forward(*inputs)
        finally:
            self.running = False


class ProductTimer(TorchDispatchMode):
    """Times each Linear product. Backward products whose first operand is a transposed
    view contract over the tokens: weight gradients; the others are input gradients."""

    def __init__(self, forward: InForward):
        super().__init__()
        self.forward = forward
        self.seconds: Counter[str] = Counter()
        self.flops: Counter[str] = Counter()

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        if func not in (torch.ops.light_llm.matmul_nt.default, torch.ops.aten.mm.default, torch.ops.aten.mm.out):
            return func(*args, **(kwargs or {}))
        a = args[0]
        part = ("matmul forward" if self.forward.running
                else "matmul weight grad" if is_transposed(a) else "matmul input grad")
        start = time.perf_counter()
        out = func(*args, **(kwargs or {}))
        self.seconds[part] += time.perf_counter() - start
        self.flops[part] += 2 * a.shape[0] * a.shape[1] * out.shape[1]
        return out


def profiled_part(event) -> str:
    while event is not None:
        for part, names in PROFILED_PARTS.items():
            if any(name.lower() in event.name.lower() for name in names):
                return part
        event = event.cpu_parent
    return "rest"


def one_round(model, forward: InForward, optimizer, data) -> tuple[dict[str, float], Counter[str]]:
    """ms per step of each part over three windows of `data`: one unprofiled (the step),
    one with each product timed, one profiled; and the flop per step of each product part."""
    start = time.perf_counter()
    bench.train_steps(model, forward, optimizer, data, "fp32")
    parts = {"step": (time.perf_counter() - start) * 1e3 / len(data)}
    timer = ProductTimer(forward)
    with timer:
        bench.train_steps(model, forward, optimizer, data, "fp32")
    parts.update({part: timer.seconds[part] * 1e3 / len(data) for part in PRODUCT_PARTS})
    with profile(activities=[ProfilerActivity.CPU]) as profiler:
        bench.train_steps(model, forward, optimizer, data, "fp32")
    profiled: Counter[str] = Counter()
    for event in profiler.events():
        profiled[profiled_part(event)] += event.self_cpu_time_total / 1e3 / len(data)
    parts.update({part: profiled[part] for part in (*PROFILED_PARTS, "rest") if part != "products"})
    return parts, Counter({part: timer.flops[part] // len(data) for part in PRODUCT_PARTS})


def median_parts(rounds: list[dict[str, float]]) -> dict[str, float]:
    """The median of each part over the rounds; unattributed: the step's median less the others'."""
    parts = {part: statistics.median(values[part] for values in rounds) for part in rounds[0]}
    parts["unattributed"] = parts["step"] - sum(value for part, value in parts.items() if part != "step")
    return parts


def peak_gflops(size: int = 2048) -> float:
    a, b = torch.randn(size, size), torch.randn(size, size)
    seconds = min(median_seconds(lambda: a @ b.t(), lambda: _onednn(a, b)))
    return 2 * size**3 / seconds / 1e9


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=4)
    parser.add_argument("--seq", type=int, default=128)
    parser.add_argument("--rounds", type=int, default=3, help="rounds of three 2-step windows per contestant, interleaved")
    parser.add_argument("--run-steps", type=int, default=5000)
    parser.add_argument("--contestants", nargs="+", default=["light_llm default", "HF eager", "HF compiled"])
    args = parser.parse_args()
    light = bench.light_llm_model()
    hf = bench.hf_model(light)
    light.train(), hf.train()
    runners = bench.contestants(light, hf, args.run_steps)
    generator = torch.Generator().manual_seed(0)
    data = [torch.randint(0, bench.SPEC["model"]["vocab_size"], (args.batch, args.seq + 1), generator=generator)
            for _ in range(2)]
    print(f"cpu: {bench.cpu_name()}, {torch.get_num_threads()} threads, torch {torch.__version__}; "
          f"batch {args.batch} × seq {args.seq}, fp32")
    states = {}
    for name in args.contestants:
        model, forward = runners[name]
        states[name] = (model, InForward(forward), build_optimizer(model, TrainConfig()))
        bench.train_steps(*states[name], data * 4, "fp32")  # auto decides and compiles; warm-up
    rounds: dict[str, list[dict[str, float]]] = {name: [] for name in states}
    flops: dict[str, Counter[str]] = {}
    for _ in range(args.rounds):
        for name, state in states.items():
            parts, flops[name] = one_round(*state, data)
            rounds[name].append(parts)
    results = {}
    for name in states:
        parts = median_parts(rounds[name])
        results[name] = parts, {part: flops[name][part] / parts[part] / 1e6 for part in PRODUCT_PARTS}
    peak = peak_gflops()
    print("light_llm GEMM library per product shape:\n  " + "\n  ".join(library_choices()))
    print(f"\n| part | {' | '.join(f'{name} ms' for name in results)} |\n|---|{'---:|' * len(results)}")
    for part in (*PRODUCT_PARTS, *(p for p in PROFILED_PARTS if p != "products"), "rest", "unattributed", "step"):
        cells = [f"{parts[part]:.1f}" + (f" ({rates[part]:.0f} GFLOP/s)" if part in rates else "")
                 for parts, rates in results.values()]
        print(f"| {part} | {' | '.join(cells)} |")
    for name, (parts, rates) in results.items():
        products = sum(parts[part] for part in PRODUCT_PARTS)
        gflop = sum(parts[part] * rates[part] for part in PRODUCT_PARTS) / 1e3  # per step
        at_peak = parts["step"] - products + gflop / peak * 1e3
        print(f"{name}: products {products:.0f} of {parts['step']:.0f} ms ({gflop:.1f} GFLOP); "
              f"every product at {peak:.0f} GFLOP/s (a 2048³ product here): step {at_peak:.0f} ms")


if __name__ == "__main__":
    main()
