"""`--set KEY=VALUE`: values parsed as YAML, written into the spec document before it is
validated, and every mistake named by its dotted path."""

from __future__ import annotations

import json

import pytest
from experiment_helpers import TINY_SPEC, invoke, write_tiny_spec

from light_llm.schemas.errors import SpecError
from light_llm.schemas.overrides import apply_overrides, load_spec_with_overrides, parse_override, parse_overrides


@pytest.mark.parametrize(
    ("text", "path", "value"),
    [
        ("train.steps=500", ("train", "steps"), 500),
        ("train.learning_rate=3e-4", ("train", "learning_rate"), 3e-4),
        ("train.min_lr_ratio=.5", ("train", "min_lr_ratio"), 0.5),
        ("train.compile=true", ("train", "compile"), True),
        ("train.seq_len=null", ("train", "seq_len"), None),
        ("model.attention.variant=complex", ("model", "attention", "variant"), "complex"),
        ("data.corpus=[a.txt, b.txt]", ("data", "corpus"), ["a.txt", "b.txt"]),
        ("model.name = transformer ", ("model", "name"), "transformer"),
    ],
)
def test_values_are_yaml(text, path, value) -> None:
    override = parse_override(text)
    assert override.path == path
    assert override.value == value and type(override.value) is type(value)


def test_valid_overrides_reach_the_spec() -> None:
    overrides = parse_overrides(["model.attention.variant=complex", "train.steps=7", "model.positional.encoding=alibi"])
    spec = load_spec_with_overrides(TINY_SPEC, overrides)
    assert spec.model.attention.variant == "complex"
    assert spec.model.positional.encoding == "alibi"
    assert spec.train.steps == 7
    assert spec.model.d_model == TINY_SPEC["model"]["d_model"]  # untouched keys stay


def test_later_overrides_win_and_the_document_is_not_changed() -> None:
    document = json.loads(json.dumps(TINY_SPEC))
    result = apply_overrides(document, parse_overrides(["train.steps=3", "train.steps=9", "model.norm.type=layernorm"]))
    assert result["train"]["steps"] == 9 and result["model"]["norm"] == {"type": "layernorm"}
    assert document == TINY_SPEC


def test_invalid_value_names_the_key_path() -> None:
    with pytest.raises(SpecError) as raised:
        load_spec_with_overrides(TINY_SPEC, parse_overrides(["train.steps=-3"]))
    assert [issue.path for issue in raised.value.issues] == [("train", "steps")]
    assert "train.steps: got -3" in str(raised.value)
    assert "with --set train.steps=-3" in str(raised.value)


def test_unknown_key_suggests_the_closest() -> None:
    with pytest.raises(SpecError) as raised:
        load_spec_with_overrides(TINY_SPEC, parse_overrides(["model.atention.variant=mha", "train.stepz=3"]))
    text = str(raised.value)
    assert "model.atention: unknown key 'atention'; did you mean 'attention'?" in text
    assert "train.stepz: unknown key 'stepz'; did you mean 'steps'?" in text


def test_value_of_a_wrong_option_suggests_the_closest() -> None:
    with pytest.raises(SpecError, match=r"model\.attention\.variant: got 'complx'.*did you mean 'complex'"):
        load_spec_with_overrides(TINY_SPEC, parse_overrides(["model.attention.variant=complx"]))


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("train.steps", "expected KEY=VALUE"),
        ("=5", "expected KEY=VALUE"),
        ("train..steps=5", "not a dotted key path"),
        ("train.steps=[1, 2", "not valid YAML"),
    ],
)
def test_malformed_overrides(text, message) -> None:
    with pytest.raises(SpecError, match=message) as raised:
        parse_override(text)
    assert len(str(raised.value).splitlines()) == 1


def test_setting_inside_a_value_names_it() -> None:
    with pytest.raises(SpecError, match=r"model\.d_model: is an integer, not a section"):
        load_spec_with_overrides(TINY_SPEC, parse_overrides(["model.d_model.x=1"]))


def test_validate_and_compile_take_set(cli_app, tmp_path) -> None:
    spec = write_tiny_spec(tmp_path)
    ok = invoke(cli_app, "validate", spec, "--set", "model.attention.variant=complex")
    assert ok.exit_code == 0 and "complex 4 heads" in ok.output, ok.output
    bad = invoke(cli_app, "validate", spec, "--set", "model.attention.variant=complx")
    assert bad.exit_code == 1 and "did you mean 'complex'" in bad.output and "Traceback" not in bad.output
    compiled = invoke(cli_app, "compile", spec, "--set", "model.positional.encoding=alibi", "--set", "model.num_layers=3")
    assert compiled.exit_code == 0, compiled.output
    resolved = json.loads(compiled.output.split("\n", 1)[1].split("\n}\n", 1)[0] + "\n}")
    assert resolved["model"]["positional"]["encoding"] == "alibi" and resolved["model"]["num_layers"] == 3
    unknown = invoke(cli_app, "compile", spec, "--set", "model.num_layer=3")
    assert unknown.exit_code == 1 and "did you mean 'num_layers'" in unknown.output


@pytest.mark.parametrize("command", ["train", "demo", "sweep"])
def test_training_commands_check_set_before_training(cli_app, tmp_path, command) -> None:
    extra = ["--grid", "train.seed=1,2"] if command == "sweep" else []
    result = invoke(cli_app, command, write_tiny_spec(tmp_path), "--out", tmp_path / "run", *extra,
                    "--set", "model.attention.num_head=2")
    assert result.exit_code == 1, result.output
    assert "model.attention.num_head: unknown key 'num_head'; did you mean 'num_heads'?" in result.output
    assert "Traceback" not in result.output
    assert not (tmp_path / "run").exists() or not any((tmp_path / "run").rglob("metrics.jsonl"))
