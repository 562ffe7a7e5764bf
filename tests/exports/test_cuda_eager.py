"""Every option row of the export matrix on CUDA: the same logits as on the CPU, KV-cache
decode equal to the full forward, and a bf16-autocast training step with finite gradients.
The GPU half of "every option works in eager"; skipped where there is no CUDA device."""

from __future__ import annotations

import pytest
import torch

from light_llm.compiler.build import build
from light_llm.compiler.pipeline import lower_spec
from light_llm.compiler.resolve import resolve_spec
from light_llm.schemas.spec import Spec
from torch_targets_matrix import ROWS, TINY, merged

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")

VOCAB = 258
ATOL = 1e-4


def model_on(device: str, row: str) -> torch.nn.Module:
    spec = resolve_spec(
        Spec.model_validate({"spec_version": 1, "model": merged(TINY, {"vocab_size": VOCAB, **ROWS[row]})})
    )
    return build(lower_spec(spec), seed=0).to(device).eval()


def prompt(device: str) -> torch.Tensor:
    return torch.randint(0, VOCAB, (2, 11), generator=torch.Generator().manual_seed(0)).to(device)


@pytest.fixture(autouse=True)
def exact_fp32_matmuls():
    saved = torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32
    torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = False
    yield
    torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32 = saved


@pytest.mark.parametrize("row", ROWS)
def test_cuda_logits_equal_cpu(row):
    with torch.no_grad():
        cpu = model_on("cpu", row)(prompt("cpu"))
        cuda = model_on("cuda", row)(prompt("cuda"))
    assert (cuda.cpu() - cpu).abs().max() < ATOL


@pytest.mark.parametrize("row", [name for name in ROWS if "bidirectional" not in name])
def test_cuda_decode_equals_full_forward(row):
    model, ids = model_on("cuda", row), prompt("cuda")
    batch, seq = ids.shape
    cache, logits = model.empty_cache(batch, device="cuda"), []
    with torch.no_grad():
        for start, end in [(0, 5)] + [(i, i + 1) for i in range(5, seq)]:
            mask = torch.ones(batch, end, dtype=torch.long, device="cuda")
            positions = torch.arange(start, end, device="cuda").expand(batch, -1)
            out, cache = model.forward_with_cache(ids[:, start:end], mask, positions, cache)
            logits.append(out)
        full = model(ids)
    assert (torch.cat(logits, dim=1) - full).abs().max() < ATOL


@pytest.mark.parametrize("row", ROWS)
def test_cuda_bf16_training_step(row):
    model, ids = model_on("cuda", row).train(), prompt("cuda")
    with torch.autocast("cuda", dtype=torch.bfloat16):
        logits = model(ids[:, :-1])
        loss = torch.nn.functional.cross_entropy(logits.float().flatten(0, 1), ids[:, 1:].flatten())
    loss.backward()
    grads = [p.grad for p in model.parameters() if p.requires_grad]
    assert torch.isfinite(loss) and all(g is not None and torch.isfinite(g).all() for g in grads)
