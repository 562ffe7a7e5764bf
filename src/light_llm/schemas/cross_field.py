"""The cross-field rules light_llm checks that JSON Schema cannot state (arithmetic and
equality between two values). They are the only documents the published schema accepts
and the loader refuses; the spec reference lists them, and a property test checks that
the two layers disagree nowhere else. The checks themselves are the `problems()` of the
spec sections."""

from __future__ import annotations

ONLY_LIGHT_LLM_RULES: tuple[tuple[str, str], ...] = (
    ("model.attention.num_heads", "when `head_dim` is `auto`, `d_model` is divisible by `num_heads`"),
    ("model.attention.head_dim", "even with `positional.encoding` `rope` or `variant` `complex` "
     "(rope and complex attention rotate pairs)"),
    ("model.attention.num_kv_heads", "with `variant` `mha`, equal to `num_heads`; otherwise a "
     "divisor of `num_heads`"),
    ("model.attention.window_size", "at most `model.max_seq_len`"),
    ("model.positional.rope_fraction", "int(head_dim·rope_fraction) even and ≥ 2; 1.0 with "
     "`attention.variant` `complex`"),
    ("model.positional.rope_pairing", "`half` with `attention.variant` `complex`"),
    ("model.positional.sliding_rope_base", "only with `attention.mask_type` `sliding_window`"),
    ("model.attention.layer_pattern", "at most `model.num_layers` entries"),
    ("model.positional.layer_pattern", "at most `model.num_layers` entries, each `encoding` or `none`"),
    ("model.positional.rope_scaling.high_freq_factor", "greater than `low_freq_factor`"),
    ("model.positional.rope_scaling.beta_fast", "greater than `beta_slow` (defaults 32 and 1)"),
)
"""(path the loader reports, the rule in words)."""

RULE_PATHS: frozenset[str] = frozenset(path for path, _ in ONLY_LIGHT_LLM_RULES)
