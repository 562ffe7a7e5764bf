"""docs/spec-reference.md: rendered from the JSON Schema, complete, and fresh."""

from __future__ import annotations

import copy
import re
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from light_llm.schemas.conditional import conditional_rules
from light_llm.schemas.json_schema import spec_json_schema
from light_llm.schemas.cross_field import ONLY_LIGHT_LLM_RULES
from light_llm.schemas.reference import COMMITTED_PATH, ONLY_HERE, REGENERATE, render_reference

ROOT = Path(__file__).parent.parent.parent
SECTIONS = {
    "Top level": None,
    "`model`": "TransformerConfig",
    "`model.attention`": "AttentionConfig",
    "`model.positional`": "PositionalConfig",
    "`model.positional.rope_scaling`": "RopeScalingConfig",
    "`model.ffn`": "FFNConfig",
    "`model.ffn.moe`": "MoEConfig",
    "`model.norm`": "NormConfig",
    "`model (name: mixer)`": "MixerConfig",
    "`data`": "DataConfig",
    "`train`": "TrainConfig",
    "`export`": "ExportConfig",
    "`export.quantized_gate`": "QuantizedGate",
    "`export.quantized_gate.int8`": "Int8Limits",
    "`export.quantized_gate.int4`": "Int4Limits",
}


@pytest.fixture(scope="module")
def reference() -> str:
    return (ROOT / COMMITTED_PATH).read_text(encoding="utf-8")


def sections(text: str) -> dict[str, str]:
    """Heading → body of each `## ` section."""
    parts = re.split(r"^## (.+)$", text, flags=re.MULTILINE)
    return dict(zip(parts[1::2], parts[2::2]))


def row(body: str, key: str) -> list[str]:
    """The cells of the table row for `key`."""
    (line,) = [line for line in body.splitlines() if line.startswith(f"| `{key}` |")]
    return [cell.strip() for cell in re.split(r"(?<!\\)\|", line)[1:-1]]


def test_committed_reference_is_fresh(reference: str) -> None:
    assert reference == render_reference(), f"{COMMITTED_PATH} is stale: run `{REGENERATE}`"


def test_every_section_and_field_is_documented(reference: str) -> None:
    schema = spec_json_schema()
    found = sections(reference)
    assert list(found) == [*SECTIONS, ONLY_HERE]
    for heading, definition in SECTIONS.items():
        section = schema if definition is None else schema["$defs"][definition]
        body = found[heading]
        assert " ".join(section["description"].split()) in body
        for key, field in section["properties"].items():
            key_cell, kind, default, allowed, description = row(body, key)
            assert description == " ".join(field["description"].split()).replace("|", "\\|")
            for option in field.get("enum", []):
                assert f"`{option}`" in allowed, (heading, key, option)
            if "default" not in field:
                assert default == "**required**"
            elif {"const": "auto", "type": "string"} in field.get("anyOf", []):
                assert field["default"] == "auto", (heading, key)
                assert (default, "`auto`" in kind, "`auto`" in allowed) == ("`auto`", True, True)


def test_values_bounds_and_subsections(reference: str) -> None:
    found = sections(reference)
    attention = found["`model.attention`"]
    assert row(attention, "num_heads")[1:4] == ["integer", "`8`", "≥ 1 and ≤ 4096"]
    assert row(attention, "window_size")[1:4] == ["integer or null", "`null`", "≥ 1 and ≤ 1048576 or `null`"]
    assert row(attention, "dropout")[3] == "≥ 0.0 and < 1.0"
    assert row(found["`model.norm`"], "eps")[2] == "`1e-05`"
    assert row(found["`data`"], "corpus")[1] == "string or list of strings"
    assert row(found["Top level"], "model")[1:4] == ["mapping", "**required**", "see [`model`](#model)"]
    assert row(found["`model`"], "attention")[2:4] == [
        "`{}` (every default)",
        "see [`model.attention`](#modelattention)",
    ]


def test_links_point_at_headings(reference: str) -> None:
    anchors = {re.sub(r"[^\w\- ]", "", heading.lower()).replace(" ", "-") for heading in sections(reference)}
    links = re.findall(r"\]\(#([^)]+)\)", reference)
    assert links and set(links) <= anchors


def test_every_conditional_rule_is_listed(reference: str) -> None:
    found = sections(reference)
    headings = {"Spec": "Top level", "AttentionConfig": "`model.attention`",
                "PositionalConfig": "`model.positional`", "FFNConfig": "`model.ffn`",
                "TransformerConfig": "`model`",
                "RopeScalingConfig": "`model.positional.rope_scaling`"}
    for model, rules in conditional_rules().items():
        body = found[headings[model.__name__]]
        for rule in rules:
            for branch in ("then", "else"):
                for key, spec in leaf_properties(rule.get(branch, {})):
                    assert f"`{key}`: {spec['description']}" in body


def leaf_properties(schema: dict, prefix: str = "") -> list[tuple[str, dict]]:
    """(dotted key, schema) of the innermost properties: `model.vocab_size`, not `model`."""
    found = []
    for name, child in schema.get("properties", {}).items():
        found += leaf_properties(child, f"{prefix}{name}.") if "properties" in child else [(prefix + name, child)]
    return found


def test_a_schema_change_shows_in_the_reference(reference: str) -> None:
    schema = copy.deepcopy(spec_json_schema())
    schema["$defs"]["AttentionConfig"]["properties"]["qk_norm"] = {
        "type": "boolean",
        "default": False,
        "description": "Normalise queries and keys.",
    }
    changed = render_reference(schema)
    assert changed != reference
    assert row(sections(changed)["`model.attention`"], "qk_norm") == [
        "`qk_norm`",
        "boolean",
        "`false`",
        "`true`, `false`",
        "Normalise queries and keys.",
    ]


def cli_app() -> typer.Typer:
    from light_llm.cli import app as cli

    cli._register_commands()
    return cli.app


def test_cli_prints_and_writes_the_reference(reference: str, tmp_path: Path) -> None:
    runner = CliRunner()
    printed = runner.invoke(cli_app(), ["schema", "--markdown"])
    assert printed.exit_code == 0, printed.output
    assert printed.stdout == reference
    out = tmp_path / "spec-reference.md"
    written = runner.invoke(cli_app(), ["schema", "--markdown", "--out", str(out)])
    assert written.exit_code == 0, written.output
    assert out.read_text(encoding="utf-8") == reference
    # The JSON Schema is still the default.
    assert runner.invoke(cli_app(), ["schema"]).stdout.startswith("{")


def test_the_rules_only_light_llm_checks_are_listed(reference: str) -> None:
    body = sections(reference)[ONLY_HERE]
    for path, rule in ONLY_LIGHT_LLM_RULES:
        assert f"- `{path}`: {rule}" in body
