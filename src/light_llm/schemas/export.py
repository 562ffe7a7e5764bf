"""The `export` section: defaults for `lightllm export`."""

from typing import Annotated, Literal, get_args

from pydantic import Field

from light_llm.spec_base import Integer, Number, SpecModel

QuantizeBlockSize = Literal[16, 32, 64, 128, 256]  # what MatMulNBits and GatherBlockQuantized take
QUANTIZE_BLOCK_SIZES: tuple[int, ...] = get_args(QuantizeBlockSize)
DEFAULT_QUANTIZE_BLOCK_SIZE = 32  # onnxruntime-genai's builder's default too
QuantizeMethod = Literal["symmetric", "asymmetric", "gptq", "gptq-symmetric"]  # exports/quantize.py METHODS
DEFAULT_QUANTIZE_METHOD = "gptq"
# The quantized gate's defaults, measured on SmolLM2-135M (docs/export-contract.md)
INT8_AGREEMENT, INT8_RATIO = 0.85, 1.1
INT4_AGREEMENT, INT4_RATIO = 0.5, 1.6
DECODE_AGREEMENT = 0.75


_AGREEMENT = "Smallest share of real-text positions whose most likely next token is fp32's."
_RATIO = "Largest perplexity of the export on real text, as a multiple of fp32's."
Agreement = Number(ge=0.0, le=1.0)
Ratio = Number(ge=1.0, le=1e6)


class Int8Limits(SpecModel):
    """What an int8 export must reach on real text against fp32 eager PyTorch."""

    min_top1_agreement: Agreement = Field(INT8_AGREEMENT, description=_AGREEMENT)
    max_perplexity_ratio: Ratio = Field(INT8_RATIO, description=_RATIO)


class Int4Limits(SpecModel):
    """What an int4 export must reach on real text against fp32 eager PyTorch."""

    min_top1_agreement: Agreement = Field(INT4_AGREEMENT, description=_AGREEMENT)
    max_perplexity_ratio: Ratio = Field(INT4_RATIO, description=_RATIO)


class QuantizedGate(SpecModel):
    """The gate of quantized exports (docs/export-contract.md, "The quantized gate")."""

    int8: Int8Limits = Field(default_factory=Int8Limits, description="Limits of int8 exports.")
    int4: Int4Limits = Field(default_factory=Int4Limits, description="Limits of int4 exports.")
    min_decode_agreement: Agreement = Field(
        DECODE_AGREEMENT, description="Smallest share of positions where the export's KV-cache decode picks the "
        "token its own prefill picks, on real text."
    )


class ExportConfig(SpecModel):
    """Defaults for `lightllm export`."""

    opset: Integer(1, 100) = Field(18, description="ONNX opset version.")
    quantize: Literal["none", "int8", "int4"] = Field(
        "none", description="Weight quantization of the ONNX export."
    )
    quantize_block_size: QuantizeBlockSize = Field(
        DEFAULT_QUANTIZE_BLOCK_SIZE,
        description="Weights per scale of the int8/int4 export: larger blocks decode faster and round the "
        "weights more coarsely.",
    )
    quantize_method: QuantizeMethod = Field(
        DEFAULT_QUANTIZE_METHOD,
        description="How the int8/int4 codes are chosen: symmetric (signed scales, searched), asymmetric "
        "(a scale and a zero point per block, its range's clipping searched), gptq (asymmetric blocks whose "
        "rounding errors later weights compensate, measured on calibration text) or gptq-symmetric (gptq with "
        "symmetric blocks: no zero points, onnxruntime's faster kernel, a little more error).",
    )
    quantize_calibration_text: Annotated[str, Field(max_length=4096)] | None = Field(
        None,
        description="gptq's calibration text file (default: the run's training split, else a built-in text "
        "disjoint from the evaluation text).",
    )
    quantize_embedding: Literal["same", "int8", "int4"] = Field(
        "same",
        description="The embedding's and the LM head's precision in an int4 export: same (int4, or the bits of "
        "the GGUF grid they lie on), int8 (the layers most sensitive to rounding, at 1/32 of the weights' bytes "
        "per bit for a small vocabulary) or int4 (even where they lie on an 8-bit grid: a 4-bit head decodes "
        "faster).",
    )
    quantize_int8_share: Number(ge=0.0, le=1.0) = Field(
        0.0,
        description="In an int4 export, the share of the MatMul weights' parameters (the embedding and a tied LM "
        "head aside) kept at int8: those whose 4-bit rounding costs the most error per byte, measured on the "
        "calibration text's activations under gptq, else by their relative rounding error. Those weights' "
        "bytes grow by about this share.",
    )
    quantize_accuracy: Literal["int8", "fp32-head", "fp32"] = Field(
        "int8",
        description="The activations of the int8/int4 MatMuls: int8 (onnxruntime's fastest CPU kernels; the "
        "activations rounded per block of 32), fp32 (exact: an imported GGUF's codes then give the fp32 "
        "model's logits; slower to decode, an 8-bit weight computed as two 4-bit halves) or fp32-head (fp32 "
        "for the LM head alone, where int8 activations cost an imported GGUF most).",
    )
    quantize_grid_fit: bool = Field(
        True,
        description="Weights that lie exactly on a GGUF grid (Q8_0, Q4_0, Q4_1 in blocks of 32: an imported "
        "GGUF) keep those codes, losslessly, where the block size is 32.",
    )
    atol: Number(gt=0.0, le=1e6) = Field(1e-4, description="Largest absolute logit error accepted (fp32).")
    rtol: Number(ge=0.0, le=1e6) = Field(1e-4, description="Relative logit tolerance (fp32).")
    quantized_gate: QuantizedGate = Field(
        default_factory=QuantizedGate,
        description="Limits an int8/int4 export must reach on real text, else it is refused.",
    )
