"""What the server serves: an export folder through onnxruntime (torch is never
imported) or a model/run folder through eager PyTorch, with its chat template."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from light_llm.runtime import TextGenerator
from light_llm.runtime.slot_rotation import SlotRotation, slot_rotation
from light_llm.chat_template import ChatTemplate, load_chat_template


@dataclass
class ServedModel:
    name: str
    folder: Path
    generator: TextGenerator
    chat: ChatTemplate
    exported: bool
    shares_kv_buffer: bool = False  # the graph writes each present into its past's buffer
    slot_rotation: SlotRotation | None = None  # its layers that rotate keys by slot (runtime/slot_rotation.py)

    @property
    def context(self) -> int:
        return self.generator.geometry.max_seq_len

    @property
    def pad_id(self) -> int:
        generator = self.generator
        return generator.pad_id if generator.pad_id is not None else (generator.eos_id or 0)


def load_served_model(folder: Path, threads: int | None = None, name: str | None = None) -> ServedModel:
    from light_llm.runtime.manifest import MANIFEST

    folder = Path(folder)
    exported = (folder / MANIFEST).is_file()
    rotation = None
    if exported:
        from light_llm.runtime import load_export
        from light_llm.runtime.manifest import read_manifest

        generator = load_export(folder, threads=threads, last_position_logits=True)
        chat = load_chat_template(folder)
        rotation = slot_rotation(folder / read_manifest(folder).model_file)
    else:
        from light_llm.generation.eager import load_eager  # torch: model and run folders only

        generator = load_eager(folder)
        chat = load_chat_template(folder if (folder / "tokenizer_config.json").is_file() else folder / "model")
    return ServedModel(name=name or folder.resolve().name, folder=folder, generator=generator,
                       chat=chat, exported=exported,
                       shares_kv_buffer=generator.shares_kv_buffer, slot_rotation=rotation)

