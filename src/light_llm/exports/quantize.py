"""Weight quantization of an exported graph with onnxruntime.quantization.

- int8: dynamic quantization (int8 weights, activations quantized per call) of MatMul;
- int4: weight-only, blockwise symmetric int4 MatMul weights (com.microsoft MatMulNBits),
  computed with int8 activations (accuracy_level 4), the fast path on CPU.
Attention, norms and the embedding lookup stay fp32.
"""

from __future__ import annotations

import logging
from pathlib import Path

QUANTIZATIONS = ("int8", "int4")
INT4_BLOCK_SIZE = 32
INT4_ACCURACY_LEVEL = 4  # int8 compute of the int4 weights


def quantize(source: Path, target: Path, method: str) -> None:
    """Writes the quantized graph of `source` to `target` (both model.onnx files)."""
    if method not in QUANTIZATIONS:
        from light_llm.exports.result import ExportError

        raise ExportError(f"quantize={method!r}: allowed: {', '.join(QUANTIZATIONS)}")
    root = logging.getLogger()
    level = root.level
    root.setLevel(logging.ERROR)  # quantize_dynamic warns on the root logger about pre-processing
    try:
        (_int8 if method == "int8" else _int4)(source, target)
    finally:
        root.setLevel(level)
    _copy_metadata(source, target)


def _copy_metadata(source: Path, target: Path) -> None:
    import onnx

    original, quantized = onnx.load(str(source)), onnx.load(str(target))
    present = {prop.key for prop in quantized.metadata_props}
    for prop in original.metadata_props:
        if prop.key not in present:
            quantized.metadata_props.add(key=prop.key, value=prop.value)
    onnx.save(quantized, str(target))


def _int8(source: Path, target: Path) -> None:
    from onnxruntime.quantization import QuantType, quantize_dynamic

    quantize_dynamic(str(source), str(target), weight_type=QuantType.QInt8, op_types_to_quantize=["MatMul"])


def _int4(source: Path, target: Path) -> None:
    import onnx
    from onnxruntime.quantization import matmul_nbits_quantizer
    from onnxruntime.quantization.matmul_nbits_quantizer import MatMulNBitsQuantizer

    matmul_nbits_quantizer.logger.setLevel(logging.WARNING)  # an INFO line per MatMul otherwise
    quantizer = MatMulNBitsQuantizer(
        onnx.load(str(source)), bits=4, block_size=INT4_BLOCK_SIZE, is_symmetric=True,
        accuracy_level=INT4_ACCURACY_LEVEL, op_types_to_quantize=("MatMul",),
    )
    quantizer.process()
    onnx.save(quantizer.model.model, str(target))
