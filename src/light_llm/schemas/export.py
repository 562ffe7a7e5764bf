"""The `export` section: defaults for `lightllm export`."""

from typing import Literal

from pydantic import Field, PositiveFloat, PositiveInt

from light_llm.spec_base import SpecModel


class ExportConfig(SpecModel):
    """Defaults for `lightllm export`."""

    opset: PositiveInt = Field(18, description="ONNX opset version.")
    quantize: Literal["none", "int8", "int4"] = Field(
        "none", description="Weight quantization of the ONNX export."
    )
    atol: PositiveFloat = Field(1e-4, description="Largest absolute logit error accepted (fp32).")
    rtol: float = Field(1e-4, ge=0.0, description="Relative logit tolerance (fp32).")
