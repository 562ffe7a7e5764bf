"""The `export` section: defaults for `lightllm export`."""

from typing import Literal

from pydantic import Field

from light_llm.schemas.base import Integer, Number, SpecModel


class ExportConfig(SpecModel):
    """Defaults for `lightllm export`."""

    opset: Integer(1, 100) = Field(18, description="ONNX opset version.")
    quantize: Literal["none", "int8", "int4"] = Field(
        "none", description="Weight quantization of the ONNX export."
    )
    atol: Number(gt=0.0, le=1e6) = Field(1e-4, description="Largest absolute logit error accepted (fp32).")
    rtol: Number(ge=0.0, le=1e6) = Field(1e-4, description="Relative logit tolerance (fp32).")
