"""Decode speed of a small mixture of experts (8 SwiGLU experts, top-2) beside the dense
model of the same active parameters (one SwiGLU two experts wide), batch 1, 8-token prompt
then single-token KV-cache steps (exports/decode_speed.py): light_llm eager, ONNX fused
(onnxruntime's MoE node), ONNX portable (every expert dense, weighted by the gate matrix),
and int4 of each form (the fused form's MoE node becomes onnxruntime's QMoE of int4 experts;
the portable form's expert MatMuls become MatMulNBits). Random weights: speed does not depend on training.

Every figure is the median of --runs measurements; ratios are against the dense model on
the same backend and against the dense model's eager decode, measured in this same process.

    .venv/bin/python benchmarks/moe.py [--runs 5] [--threads 2]

onnxruntime-genai's builder is not measured: of the mixtures of experts it builds, gpt-oss
only from the released MXFP4 checkpoint (its loader reads `experts.gate_up_proj_blocks`;
tried on a random-weight fp32 `GptOssForCausalLM` folder: "Original GPT-OSS MXFP4 tensor
… was not found"), which light_llm refuses to import, and PhiMoE, which light_llm does not
import; it builds no Mixtral-like model.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
from pathlib import Path

import torch

from light_llm.compiler.build import build
from light_llm.compiler.pipeline import lower_spec
from light_llm.compiler.resolve import resolve_spec
from light_llm.exports.decode_speed import decode_tokens_per_second
from light_llm.exports.onnx import export_onnx
from light_llm.generation.eager_signature import run_module, signature_module
from light_llm.model_folder import load_model_folder, save_model_folder
from light_llm.models.transformer.cost import model_cost
from light_llm.runtime.geometry import Geometry
from light_llm.runtime.session import OnnxSession
from light_llm.schemas.spec import Spec

D_MODEL = 256
MODEL = {"vocab_size": 4096, "d_model": D_MODEL, "num_layers": 4, "max_seq_len": 256,
         "attention": {"num_heads": 8, "num_kv_heads": 2}}
MODELS = {
    "moe": MODEL | {"ffn": {"expansion_factor": 1.0, "moe": {"experts": 8, "experts_per_token": 2}}},
    "dense": MODEL | {"ffn": {"expansion_factor": 2.0}},
}
FORMS = {"onnx fused": dict(portable=False), "onnx portable": dict(portable=True),
         "int4 fused": dict(portable=False, quantize="int4"), "int4 portable": dict(portable=True, quantize="int4")}


def model_folder(root: Path, model: dict):
    spec = resolve_spec(Spec.model_validate({"spec_version": 1, "model": model}))
    save_model_folder(root, spec, build(lower_spec(spec), seed=0))
    return load_model_folder(root)


def median_speed(run, geometry: Geometry, runs: int) -> float:
    return statistics.median(decode_tokens_per_second(run, geometry, seed=i) for i in range(runs))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    speeds: dict[tuple[str, str], float] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for name, model in MODELS.items():
            folder = model_folder(Path(tmp) / name, model)
            module = folder.build().eval()
            geometry = Geometry.from_ir(module.ir)
            cost = model_cost(module.ir)
            print(f"{name}: {cost.parameters:,} parameters, {cost.active_parameters:,} active, "
                  f"{cost.forward_flops_per_token:,} FLOPs/token")
            with torch.no_grad():
                speeds[name, "eager"] = median_speed(run_module(signature_module(module, geometry), geometry),
                                                     geometry, args.runs)
            for form, options in FORMS.items():
                out = Path(tmp) / f"{name}-{form.replace(' ', '-')}"
                export_onnx(folder, out, **options)
                session = OnnxSession(out / "model.onnx", threads=args.threads)
                speeds[name, form] = median_speed(session, geometry, args.runs)
    baseline = speeds["dense", "eager"]
    print(f"\ndecode tok/s, batch 1, median of {args.runs}; ratios vs the dense model on the same backend "
          f"and vs dense eager ({baseline:,.0f} tok/s)")
    print(f"{'backend':<16}{'moe':>10}{'dense':>10}{'moe/dense':>12}{'moe/eager':>12}{'dense/eager':>13}")
    for backend in ["eager", *FORMS]:
        moe, dense = speeds["moe", backend], speeds["dense", backend]
        print(f"{backend:<16}{moe:>10,.0f}{dense:>10,.0f}{moe / dense:>12.2f}{moe / baseline:>12.2f}"
              f"{dense / baseline:>13.2f}")


if __name__ == "__main__":
    main()
