"""A Hugging Face `transformers` causal LM as a `Run` of the export contract (named numpy
inputs → logits and presents), so `exports.verify.verify` can compare it with eager
light_llm exactly as it compares ONNX or TorchScript: prefill with padding, KV-cache
decode, greedy generation.

The past is handed over as a plain DynamicCache (full-length layers, as the contract's
presents are), and the model builds its own masks (causal or sliding window) from the
2-D attention mask. Needs transformers with `DynamicCache.layers` (4.56 or later).
"""

from __future__ import annotations

import inspect
from typing import TYPE_CHECKING

import numpy as np
import torch

from light_llm.runtime.geometry import Geometry

if TYPE_CHECKING:
    from light_llm.runtime.generator import Run


def hf_run(model: torch.nn.Module, geometry: Geometry) -> "Run":
    from transformers import DynamicCache

    # transformers 5 renamed past_key_values to cache; older versions know only the former.
    cache_argument = "cache" if "cache" in inspect.signature(model.forward).parameters else "past_key_values"

    def run(feeds: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        past = [
            (torch.from_numpy(feeds[f"past_key_values.{i}.key"]),
             torch.from_numpy(feeds[f"past_key_values.{i}.value"]))
            for i in range(geometry.num_layers)
        ]
        cache = DynamicCache(past) if past[0][0].shape[2] else DynamicCache()
        with torch.no_grad():
            output = model(
                input_ids=torch.from_numpy(feeds["input_ids"]),
                attention_mask=torch.from_numpy(feeds["attention_mask"]),
                position_ids=torch.from_numpy(feeds["position_ids"]),
                use_cache=True,
                **{cache_argument: cache},
            )
        present = getattr(output, "cache", None)
        present = output.past_key_values if present is None else present
        results = {"logits": output.logits.float().numpy()}
        for i, layer in enumerate(present.layers):
            results[f"present.{i}.key"] = layer.keys.float().numpy()
            results[f"present.{i}.value"] = layer.values.float().numpy()
        return results

    return run
