"""The fused form's mixture-of-experts nodes quantized: com.microsoft MoE → QMoE.

onnxruntime 1.32's CPU QMoE kernel takes the MoE node's inputs and attributes with each
expert's weights as MatMulNBits stores them (exports/quantize_blocks.py): per expert,
[N, K·bits/8] codes (two 4-bit codes a byte, low nibble first), [N, K/block] scales and,
when asymmetric, [N, ⌈(K/block)·bits/8⌉] zero points (omitted: 2^(bits-1)), stacked over
the experts; `expert_weight_bits` 4 or 8 and `block_size` along K. FC1 is the interleaved
gate/up [E, 2·hidden, d_model], FC2 the down projection [E, d_model, hidden]. Checked
against the dequantized weights in onnxruntime (tests/exports/test_onnx_quantize_moe.py).

Its blocks must divide both d_model and the expert hidden size and be a power of two ≥ 16:
the export's block size, else the largest such smaller one; where none divides, the node
stays fp32 and its choice says why. The codes come from the export's method; gptq's
calibration reads MatMul inputs, which the routed experts are not, so experts take gptq's
scale rule; the GGUF grid fit is not tried (QMoE adds no per-block offsets, and its bits
are one width for every expert). Block-wise int8 experts compute with int8 activations
in onnxruntime's CPU kernel (it has no fp32 one), int4 experts at accuracy level 4 too.
"""

from __future__ import annotations

from typing import Callable

import numpy as np

from light_llm.exports.quantize_blocks import BlockQuantized, quantize_rows_in_chunks

MS_DOMAIN = "com.microsoft"
SMALLEST_BLOCK = 16  # QMoE's blocks: powers of two from 16
# the MoE node's inputs (its input, router, then these) and where QMoE takes each
FC1_WEIGHTS, FC1_BIAS, FC2_WEIGHTS, FC2_BIAS = 2, 3, 4, 5
QMOE_SLOTS = {"fc1": (2, 3, 11), "fc2": (5, 6, 12)}  # (codes, scales, zero points)
QMOE_BIAS_SLOTS = {FC1_BIAS: 4, FC2_BIAS: 7}


def moe_block_size(d_model: int, hidden: int, wanted: int) -> int | None:
    """The largest power of two from 16 up to `wanted` dividing both sizes, or None."""
    block = wanted
    while block >= SMALLEST_BLOCK:
        if d_model % block == 0 and hidden % block == 0:
            return block
        block //= 2
    return None


def quantize_moe_nodes(graph, read: Callable[[str], np.ndarray], bits: int, block_size: int, method: str,
                       accuracy_level: int, record: Callable[[str, str], None]) -> int:
    """Replaces each com.microsoft MoE node of `graph` by a QMoE of `bits`-bit experts
    (`read`: an initializer's array; `record(weight, choice)`: the summary's); returns how
    many were replaced. The fp32 expert weights are left for the caller to drop."""
    replaced = 0
    for node in graph.node:
        if node.op_type != "MoE" or node.domain != MS_DOMAIN:
            continue
        gate_up, down = node.input[FC1_WEIGHTS], node.input[FC2_WEIGHTS]
        arrays = {gate_up: read(gate_up), down: read(down)}
        _, d_model, hidden = arrays[down].shape
        block = moe_block_size(d_model, hidden, block_size)
        if block is None:
            reason = (f"fp32 (MoE node): QMoE's blocks (powers of two from {SMALLEST_BLOCK}) must divide d_model "
                      f"{d_model} and the expert hidden size {hidden}")
            record(gate_up, reason)
            record(down, reason)
            continue
        inputs = [node.input[0], node.input[1]] + [""] * 11
        for slot, name in (("fc1", gate_up), ("fc2", down)):
            written = _experts(graph, name, arrays[name], bits, block, method)
            codes, scales, zero_points = QMOE_SLOTS[slot]
            inputs[codes], inputs[scales] = written[0], written[1]
            if written[2]:
                inputs[zero_points] = written[2]
            record(name, f"int{bits} {method} QMoE block {block}")
        for moe_slot, qmoe_slot in QMOE_BIAS_SLOTS.items():
            if len(node.input) > moe_slot:
                inputs[qmoe_slot] = node.input[moe_slot]
        _become_qmoe(node, _trimmed(inputs), bits, block, accuracy_level)
        replaced += 1
    return replaced


def _experts(graph, name: str, weights: np.ndarray, bits: int, block: int, method: str) -> tuple[str, str, str]:
    """Quantizes [E, N, K] expert by expert; (codes, scales, zero points or "") written."""
    from onnx import numpy_helper

    parts: list[BlockQuantized] = [quantize_rows_in_chunks(expert, bits, block, method) for expert in weights]
    stem = f"{name}_Q{bits}"
    tensors = [numpy_helper.from_array(np.stack([part.data.reshape(part.rows, -1) for part in parts]), stem),
               numpy_helper.from_array(np.stack([part.scales for part in parts]), f"{stem}_scales")]
    if parts[0].zero_points is not None:
        tensors.append(numpy_helper.from_array(np.stack([part.zero_points for part in parts]), f"{stem}_zero_points"))
    graph.initializer.extend(tensors)
    return stem, f"{stem}_scales", f"{stem}_zero_points" if len(tensors) == 3 else ""


def _become_qmoe(node, inputs: list[str], bits: int, block: int, accuracy_level: int) -> None:
    import onnx

    del node.input[:]
    node.input.extend(inputs)
    node.op_type = "QMoE"
    node.attribute.extend([onnx.helper.make_attribute("expert_weight_bits", bits),
                           onnx.helper.make_attribute("block_size", block),
                           onnx.helper.make_attribute("accuracy_level", accuracy_level)])


def _trimmed(inputs: list[str]) -> list[str]:
    """Without the trailing empty (omitted) inputs."""
    while inputs and not inputs[-1]:
        inputs.pop()
    return inputs
