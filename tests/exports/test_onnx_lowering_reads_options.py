"""exports/onnx_lowering reaches every option through its option-table entry: no module of
it compares a value with an option's name (read with ast, so this cannot rot), and every
entry the export target can meet names an ONNX lowering that resolves, in both forms."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from light_llm.models.transformer import options
from light_llm.models.transformer.options import resolve_path

LOWERING = Path(options.__file__).parents[2] / "exports" / "onnx_lowering"
TABLES = {"positional encoding": options.POSITIONAL_ENCODINGS, "FFN variant": options.FFN_VARIANTS,
          "activation": options.ACTIVATIONS, "norm": options.NORMS, "attention kernel": options.ATTENTION_KERNELS}
OPTION_NAMES = {name for table in TABLES.values() for name in table}


def _strings(node: ast.AST) -> set[str]:
    return {n.value for n in ast.walk(node) if isinstance(n, ast.Constant) and isinstance(n.value, str)}


def option_name_branches(source: str) -> list[str]:
    """Option names compared with (==, in, match) or used as dict keys in `source`."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Compare):
            found += sorted(_strings(node) & OPTION_NAMES)
        elif isinstance(node, ast.match_case):
            found += sorted(_strings(node.pattern) & OPTION_NAMES)
        elif isinstance(node, ast.Dict):
            found += sorted({key.value for key in node.keys if isinstance(key, ast.Constant)} & OPTION_NAMES)
    return found


def test_the_check_finds_a_branch_on_an_option_name():
    assert option_name_branches('if ir.type == "rmsnorm": pass') == ["rmsnorm"]
    assert option_name_branches('x = "gelu_tanh" in names') == ["gelu_tanh"]
    assert option_name_branches('ops = {"silu": "QuickGelu"}') == ["silu"]
    assert option_name_branches('match name:\n    case "alibi": pass') == ["alibi"]
    assert option_name_branches('if ir.type == "interleaved": pass') == []


@pytest.mark.parametrize("path", sorted(LOWERING.glob("*.py")), ids=lambda path: path.name)
def test_no_onnx_lowering_module_branches_on_an_option_name(path):
    assert option_name_branches(path.read_text()) == []


EXPORTED_KERNELS = ("sdpa", "softcap", "sinks", "complex_as_real")  # what lower.py chooses for target="export"


@pytest.mark.parametrize("portable", [False, True], ids=["fused", "portable"])
def test_every_option_the_export_meets_names_an_onnx_lowering_that_resolves(portable):
    lowerings = [entry.onnx for table in (options.FFN_VARIANTS, options.ACTIVATIONS, options.NORMS)
                 for entry in table.values()]
    lowerings += [options.ATTENTION_KERNELS[kernel].onnx for kernel in EXPORTED_KERNELS]
    for encoding in options.POSITIONAL_ENCODINGS.values():
        lowerings += [getattr(encoding, f"onnx_{role}") for role in ("embedding", "rotation", "score_bias")
                      if getattr(encoding, role) is not None]
    assert None not in lowerings
    assert all(callable(resolve_path(lowering.path(portable))) for lowering in lowerings)
    assert all(callable(resolve_path(entry.onnx_skip)) for entry in options.NORMS.values() if entry.onnx_skip)
