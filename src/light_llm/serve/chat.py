"""Chat messages → one prompt. The tokenizer folder's `chat_template` (a Jinja template in
tokenizer_config.json, as in Hugging Face tokenizers) where it has one; otherwise the
plain template of docs/serving.md: one `role: content` line per message, then
`assistant:` for the reply."""

from __future__ import annotations

import json
from pathlib import Path

from light_llm.errors import LightLLMError

PLAIN_TEMPLATE = (
    "{% for message in messages %}{{ message.role }}: {{ message.content }}\n{% endfor %}"
    "{% if add_generation_prompt %}assistant:{% endif %}"
)


class ChatTemplate:
    def __init__(self, source: str, specials: dict):
        from jinja2.sandbox import ImmutableSandboxedEnvironment

        def raise_exception(message: str) -> None:
            raise LightLLMError(f"chat template: {message}")

        environment = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True)
        environment.globals["raise_exception"] = raise_exception
        self.template = environment.from_string(source)
        self.specials = specials
        self.plain = source == PLAIN_TEMPLATE

    def render(self, messages: list[dict]) -> str:
        return self.template.render(messages=messages, add_generation_prompt=True, **self.specials)


def load_chat_template(folder: Path) -> ChatTemplate:
    """The template of `folder`/tokenizer_config.json, or the plain one."""
    config_file = Path(folder) / "tokenizer_config.json"
    config = json.loads(config_file.read_text()) if config_file.is_file() else {}
    source = config.get("chat_template")
    if isinstance(source, list):  # named templates: the default one
        source = next((item["template"] for item in source if item.get("name") == "default"), None)
    specials = {name: config.get(name) or "" for name in ("bos_token", "eos_token")}
    return ChatTemplate(source or PLAIN_TEMPLATE, specials)
