"""Mixed precision: the MatMul weights most sensitive to 4-bit rounding kept at 8 bits.

Each candidate weight ([N, K] rows) is rounded to 4 bits by its scale rule and its error
measured per parameter:
- "output" (the Gram matrix XᵀX of the weight's input over calibration text, as gptq
  computes it): tr(ΔW·XᵀX·ΔWᵀ) / (N·K), the squared error the rounding adds to the
  weight's outputs over the calibration tokens;
- "relative" (no calibration): ‖ΔW‖² / ‖W‖², the rounding's share of the weight's energy.

At 8 bits a weight costs ½ byte a parameter more and its rounding error nearly vanishes,
so the error bought back per byte is the error per parameter: the weights are promoted in
that order while their parameters stay within `share` of all the candidates'.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from light_llm.exports.quantize_blocks import quantize_rows_in_chunks

MEASURES = ("output", "relative")


@dataclass(frozen=True)
class Sensitivity:
    name: str  # the weight's initializer
    error: float  # per parameter, by `measure`
    parameters: int


def rounding_error(rows: np.ndarray, block_size: int, scale_rule: str, gram: np.ndarray | None = None) -> float:
    """The error per parameter of `rows` [N, K] at 4 bits: "output" against `gram` [K, K],
    else "relative"."""
    delta = quantize_rows_in_chunks(rows, 4, block_size, scale_rule).dequantized() - rows
    if gram is None:
        return float(np.square(delta).sum() / max(np.square(rows).sum(), np.finfo(np.float32).tiny))
    delta = delta.astype(np.float64)
    return float(((delta @ gram.astype(np.float64)) * delta).sum() / rows.size)


def most_sensitive(measured: list[Sensitivity], share: float) -> list[str]:
    """The weights kept at 8 bits: largest error per parameter first, each one that still
    fits within `share` of all the measured weights' parameters."""
    budget = share * sum(weight.parameters for weight in measured)
    chosen, spent = [], 0
    for weight in sorted(measured, key=lambda weight: weight.error, reverse=True):
        if spent + weight.parameters <= budget:
            chosen.append(weight.name)
            spent += weight.parameters
    return chosen
