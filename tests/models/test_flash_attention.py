"""flash-attn: the same logits as SDPA where CUDA and the package exist (GPU machine),
and a clear error where the model runs on CUDA without the package. On CPU the compiler
picks SDPA and says why (tests/compiler/test_lower.py)."""

from __future__ import annotations

import importlib.util

import pytest
import torch

from light_llm.compiler.build import build
from light_llm.models.transformer.errors import LoweringError
from tiny_models import tiny_ir, tokens

HAS_CUDA = torch.cuda.is_available()
HAS_FLASH = importlib.util.find_spec("flash_attn") is not None


@pytest.mark.cuda
@pytest.mark.skipif(not (HAS_CUDA and HAS_FLASH), reason="needs CUDA and flash-attn")
@pytest.mark.parametrize("attention,encoding", [
    ({"mask_type": "causal"}, "rope"),
    ({"mask_type": "sliding_window", "window_size": 3}, "rope"),
    ({"mask_type": "bidirectional"}, "none"),
    ({"mask_type": "causal"}, "alibi"),
])
def test_flash_attention_matches_sdpa(attention, encoding):
    flash_ir = tiny_ir(attention={**attention, "use_flash_attn": True}, positional={"encoding": encoding})
    assert flash_ir.blocks[0].attention.kernel == "flash_attn"
    sdpa_ir = tiny_ir(attention=attention, positional={"encoding": encoding})
    flash = build(flash_ir, seed=0).cuda().half().eval()
    sdpa = build(sdpa_ir, seed=0).cuda().half().eval()
    ids = tokens(2, 12).cuda()
    with torch.no_grad():
        assert (flash(ids).float() - sdpa(ids).float()).abs().max() < 2e-2


@pytest.mark.cuda
@pytest.mark.skipif(not HAS_CUDA or HAS_FLASH, reason="needs CUDA without flash-attn installed")
def test_flash_requested_on_cuda_without_the_package_is_a_clear_error():
    ir = tiny_ir(attention={"use_flash_attn": True})
    assert ir.blocks[0].attention.kernel == "sdpa"
    model = build(ir, seed=0).cuda()
    with pytest.raises(LoweringError, match="flash-attn is not installed: `pip install flash-attn`"):
        model(tokens(1, 4).cuda())
