"""Whatever the input, load_spec returns a Spec or raises SpecError: never anything else."""

from __future__ import annotations

import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from light_llm.schemas.errors import SpecError
from light_llm.schemas.load import load_spec
from light_llm.schemas.spec import Spec

KEYS = st.sampled_from(
    [
        "model",
        "attention",
        "num_heads",
        "num_kv_heads",
        "variant",
        "mask_type",
        "window_size",
        "positional",
        "encoding",
        "rope_scaling",
        "ffn",
        "activation",
        "d_model",
        "train",
        "x y",
    ]
)
SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-10, 300),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from(["auto", "mqa", "gqa", "sliding_window", "alibi", "mlp", "gelu", ""]),
)
JSON_LIKE = st.recursive(
    SCALARS,
    lambda children: st.lists(children, max_size=3) | st.dictionaries(KEYS, children, max_size=4),
    max_leaves=20,
)


def check(outcome: object) -> None:
    if isinstance(outcome, SpecError):
        assert outcome.issues and all(line.strip() for line in outcome.lines())
    else:
        assert isinstance(outcome, Spec)


@settings(max_examples=300, deadline=None)
@given(JSON_LIKE)
def test_any_data_gives_a_spec_or_spec_error(data: object) -> None:
    for candidate in (data, {"model": data}):
        try:
            outcome: object = load_spec(candidate)  # type: ignore[arg-type]
        except SpecError as error:
            outcome = error
        check(outcome)


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.binary(max_size=200), st.sampled_from([".yaml", ".json", ".txt"]))
def test_any_bytes_give_a_spec_or_spec_error(content: bytes, suffix: str) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / f"spec{suffix}"
        path.write_bytes(content)
        try:
            outcome: object = load_spec(path)
        except SpecError as error:
            outcome = error
        check(outcome)
