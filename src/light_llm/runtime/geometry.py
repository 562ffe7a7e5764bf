"""What a runtime must know about an exported graph: its KV-cache shape and which
inputs it takes. Torch-free; built from the IR at export time and stored in
light_llm.json, read back from there by the runtime."""

from __future__ import annotations

from dataclasses import asdict, dataclass

@dataclass(frozen=True)
class Geometry:
    num_layers: int
    num_kv_heads: int
    head_dim: int
    vocab_size: int
    max_seq_len: int
    cached: bool  # False for bidirectional models: no past inputs, no present outputs
    uses_position_ids: bool

    @classmethod
    def from_ir(cls, ir) -> "Geometry":
        """At export time, from any family's IR: `cached` and `uses_position_ids` are
        recorded there by lowering (from the option tables), not decided here."""
        return cls(
            num_layers=ir.num_layers,
            num_kv_heads=ir.num_kv_heads,
            head_dim=ir.head_dim,
            vocab_size=ir.vocab_size,
            max_seq_len=ir.max_seq_len,
            cached=ir.cached,
            uses_position_ids=ir.uses_position_ids,
        )

    @classmethod
    def from_dict(cls, data: dict) -> "Geometry":
        return cls(**{name: data[name] for name in cls.__dataclass_fields__})

    def to_dict(self) -> dict:
        return asdict(self)

    def input_names(self) -> list[str]:
        names = ["input_ids", "attention_mask"]
        if self.uses_position_ids:
            names.append("position_ids")
        if self.cached:
            for i in range(self.num_layers):
                names += [f"past_key_values.{i}.key", f"past_key_values.{i}.value"]
        return names

    def output_names(self) -> list[str]:
        names = ["logits"]
        if self.cached:
            for i in range(self.num_layers):
                names += [f"present.{i}.key", f"present.{i}.value"]
        return names
