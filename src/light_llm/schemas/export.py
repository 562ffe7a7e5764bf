"""The `export` section: defaults for `lightllm export`."""

from typing import Literal, get_args

from pydantic import Field

from light_llm.spec_base import Integer, Number, SpecModel

QuantizeBlockSize = Literal[16, 32, 64, 128, 256]  # what MatMulNBits and GatherBlockQuantized take
QUANTIZE_BLOCK_SIZES: tuple[int, ...] = get_args(QuantizeBlockSize)
DEFAULT_QUANTIZE_BLOCK_SIZE = 32  # onnxruntime-genai's builder's default too


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
    atol: Number(gt=0.0, le=1e6) = Field(1e-4, description="Largest absolute logit error accepted (fp32).")
    rtol: Number(ge=0.0, le=1e6) = Field(1e-4, description="Relative logit tolerance (fp32).")
