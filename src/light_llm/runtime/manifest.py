"""light_llm.json, the manifest of an export folder: what it holds, checked (pydantic)
before anything reads it. Written by light_llm.exports, read by the runtime and by
`lightllm verify`; torch-free."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from light_llm.errors import ExportError
from light_llm.formatting import shorten
from light_llm.runtime.geometry import Geometry

MANIFEST = "light_llm.json"
FORMAT = "light_llm export"
FORMAT_VERSION = 1
MAX_SHOWN = 80  # characters of a value or key quoted in an error

FileName = str  # a plain name inside the export folder (checked below)


class _Record(BaseModel):
    model_config = ConfigDict(extra="allow", strict=True)


class Source(_Record):
    path: str
    weights_sha256: str | None = None


class ParityRecord(_Record):
    mode: Literal["fp32", "quantized"]
    atol: float = Field(ge=0)
    rtol: float = Field(ge=0)
    seed: int = 0
    passed: bool


class SpecialTokens(_Record):
    eos_id: int | None = None
    pad_id: int | None = None
    end_ids: list[int] = []  # every token that ends a turn (eos_id first); absent from older exports


class PhaseEntry(_Record):
    """One phase of the export (exports/phases.py): its wall time and peak memory."""

    name: str
    seconds: float = Field(ge=0)
    peak_memory_mb: float = Field(ge=0)
    process_peak_mb: float | None = Field(None, ge=0)


class ExportManifest(_Record):
    format: Literal["light_llm export"]
    format_version: int
    target: str
    model_file: FileName
    spec: dict
    source: Source
    geometry: dict[str, bool | int]  # Geometry's fields (see `graph_geometry`)
    inputs: list[str]
    outputs: list[str]
    sha256: dict[FileName, str]
    parity: ParityRecord
    special_tokens: SpecialTokens = SpecialTokens()
    phases: list[PhaseEntry] = []  # absent from exports written before phases were recorded

    def model_post_init(self, context: object) -> None:
        missing = [name for name in Geometry.__dataclass_fields__ if name not in self.geometry]
        if missing:
            raise ExportError(f"geometry lacks {', '.join(missing)}")
        for name in [self.model_file, *self.sha256]:
            if not name or "/" in name or "\\" in name or name in (".", ".."):
                raise ExportError(f"{shorten(name, MAX_SHOWN)!r} is not a file name inside the export folder")

    @property
    def graph_geometry(self) -> Geometry:
        return Geometry.from_dict(self.geometry)


def read_manifest(folder: str | Path) -> ExportManifest:
    """The checked manifest of an export folder, or an ExportError saying what is wrong."""
    path = Path(folder) / MANIFEST
    if not path.is_file():
        raise ExportError(f"{folder}: not a light_llm export folder (no {MANIFEST}); "
                          "make one with `lightllm export RUN --onnx`")
    try:
        data = json.loads(path.read_bytes().decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ExportError(f"{path}: not valid JSON ({shorten(str(error), MAX_SHOWN)}); export again") from None
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise ExportError(f"{path}: not a light_llm export manifest (expected a JSON object with "
                          f"format {FORMAT!r}); export again")
    try:
        return ExportManifest.model_validate(data)
    except ValidationError as error:
        raise ExportError(f"{path}: damaged manifest: {first_problem(error)}; export again") from None


def first_problem(error: ValidationError) -> str:
    """One line on the first problem of a pydantic report: where, what, the value given."""
    problem = error.errors()[0]
    where = ".".join(str(part) for part in problem["loc"]) or "(the document)"
    given = problem.get("input")
    shown = "" if isinstance(given, (dict, list)) else f" (given: {shorten(repr(given), MAX_SHOWN)})"
    return f"{shorten(where, MAX_SHOWN)}: {problem['msg']}{shown}"
