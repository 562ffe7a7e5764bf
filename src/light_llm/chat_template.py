"""A model's chat conventions, as Hugging Face keeps them beside tokenizer.json: the chat
template (`chat_template.jinja`, as transformers ≥ 4.47 saves it, else tokenizer_config.json's
`chat_template`: one string, or a list of named templates whose `default` is used), the
special tokens the template names (`bos_token`, `eos_token`, ...), and every token that ends
a turn (generation_config.json's `eos_token_id`, one id or a list; config.json's; the
tokenizer_config.json `eos_token`).

A model folder keeps them in tokenizer_config.json (`chat_template` inside) and
generation_config.json; an export folder has chat_template.jinja besides. Without a template
a chat is formatted with PLAIN_TEMPLATE (one `role: content` line per message). Templates
render in Jinja's immutable sandbox, with the globals transformers gives them.

Torch-free, on the ground floor: import-hf, the exports, the runtime (`lightllm generate
--chat`) and the server all read it. jinja2 (the `serve` extra) is imported only to render.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from light_llm.errors import LightLLMError
from light_llm.formatting import shorten

TOKENIZER_CONFIG = "tokenizer_config.json"
TEMPLATE_FILE = "chat_template.jinja"
GENERATION_CONFIG = "generation_config.json"
HF_CONFIG = "config.json"
SPECIAL_TOKENS = ("bos_token", "eos_token", "unk_token", "pad_token")
PLAIN_TEMPLATE = (
    "{% for message in messages %}{{ message.role }}: {{ message.content }}\n{% endfor %}"
    "{% if add_generation_prompt %}assistant:{% endif %}"
)
# What a template must render without raising: a plain conversation, then the reply's turn.
SAMPLE_CONVERSATION = (
    {"role": "user", "content": "Hello!"},
    {"role": "assistant", "content": "Hi. How can I help?"},
    {"role": "user", "content": "What is the capital of France?"},
)


class ChatTemplateError(LightLLMError):
    """A chat template or chat file that cannot be used; the message is one line."""


@dataclass(frozen=True)
class ChatFiles:
    """The chat conventions of one folder (`read_chat_files`)."""

    tokenizer_config: dict = field(default_factory=dict)  # as read; {} where absent
    generation_config: dict = field(default_factory=dict)  # as read; {} where absent
    template: str | None = None  # the default template, None where the model has none
    end_ids: tuple[int, ...] = ()  # every token that ends a turn; () where the files name none

    def specials(self) -> dict[str, str]:
        """The special tokens a template may name, as text ("" where not set)."""
        return {name: _token_text(self.tokenizer_config.get(name)) for name in SPECIAL_TOKENS}

    def tokenizer_config_with_template(self) -> dict:
        """tokenizer_config.json with `chat_template` inside (a list of named templates stays a list)."""
        if self.template is None or isinstance(self.tokenizer_config.get("chat_template"), list):
            return dict(self.tokenizer_config)
        return {**self.tokenizer_config, "chat_template": self.template}


def read_chat_files(folder: str | Path, tokenizer=None) -> ChatFiles:
    """The chat files of `folder`; `tokenizer` (tokenizers.Tokenizer) turns tokenizer_config's
    `eos_token` into an id. A file that is not a JSON object, an `eos_token_id` that is not an
    id or a list of ids, or a list of templates without a default is a ChatTemplateError."""
    folder = Path(folder)
    tokenizer_config = _json_object(folder / TOKENIZER_CONFIG)
    generation_config = _json_object(folder / GENERATION_CONFIG)
    template_file = folder / TEMPLATE_FILE
    if template_file.is_file():
        template = template_file.read_text(encoding="utf-8")
    else:
        template = _default_template(tokenizer_config.get("chat_template"), folder / TOKENIZER_CONFIG)
    end_ids = [*_ids(generation_config, folder / GENERATION_CONFIG),
               *_ids(_json_object(folder / HF_CONFIG), folder / HF_CONFIG)]
    eos_token = _token_text(tokenizer_config.get("eos_token"))
    if tokenizer is not None and eos_token and tokenizer.token_to_id(eos_token) is not None:
        end_ids.append(tokenizer.token_to_id(eos_token))
    return ChatFiles(tokenizer_config, generation_config, template or None, tuple(dict.fromkeys(end_ids)))


@dataclass(frozen=True)
class TokenIds:
    """The ids a runtime needs: `end_ids`, every token that ends a turn (the model's files,
    else the tokenizer's end-of-text token), `eos_id` the first of them, and padding."""

    eos_id: int | None
    pad_id: int | None
    end_ids: tuple[int, ...]
    bos_id: int | None = None  # tokenizer_config.json's bos_token, where set


def token_ids(files: ChatFiles, tokenizer) -> TokenIds:
    """The ids of `files` (read_chat_files), the tokenizer's known special tokens where the
    files name none."""
    from light_llm.tokenizer import special_tokens

    known = special_tokens(tokenizer)
    end = files.end_ids or (() if known.eos_id is None else (known.eos_id,))
    pad, bos = (tokenizer.token_to_id(text) if text else None
                for text in (_token_text(files.tokenizer_config.get(name)) for name in ("pad_token", "bos_token")))
    return TokenIds(end[0] if end else None, known.pad_id if pad is None else pad, end, bos)


def generation_config_with(files: ChatFiles, end_ids: tuple[int, ...], **extra: int) -> dict:
    """generation_config.json: the folder's own, every end token in `eos_token_id` (one id,
    or a list where several end a turn), and `extra` (bos/pad ids, max_length) where the
    folder did not set them."""
    config = {**{key: value for key, value in extra.items() if value is not None}, **files.generation_config}
    if end_ids:
        config["eos_token_id"] = end_ids[0] if len(end_ids) == 1 else list(end_ids)
    return config


def write_chat_files(target: Path, files: ChatFiles, generation_config: dict | None,
                     template_file: bool) -> list[str]:
    """tokenizer_config.json (with `chat_template`), generation_config.json where given, and
    with `template_file` chat_template.jinja (transformers' and onnxruntime-genai's form).
    Returns the names written."""
    written = []
    if files.tokenizer_config or files.template is not None:
        _write_json(target / TOKENIZER_CONFIG, files.tokenizer_config_with_template())
        written.append(TOKENIZER_CONFIG)
    if template_file and files.template is not None:
        (target / TEMPLATE_FILE).write_text(files.template, encoding="utf-8")
        written.append(TEMPLATE_FILE)
    if generation_config:
        _write_json(target / GENERATION_CONFIG, generation_config)
        written.append(GENERATION_CONFIG)
    return written


class ChatTemplate:
    """A compiled chat template: `render(messages)` is the prompt of the reply's turn."""

    def __init__(self, source: str, specials: dict[str, str]):
        from jinja2 import TemplateError
        from jinja2.sandbox import ImmutableSandboxedEnvironment

        environment = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True,
                                                    extensions=["jinja2.ext.loopcontrols"])
        environment.globals["raise_exception"] = _raise_exception
        environment.globals["strftime_now"] = _strftime_now
        environment.filters["tojson"] = _tojson
        try:
            self.template = environment.from_string(source)
        except TemplateError as error:
            raise ChatTemplateError(f"the chat template does not compile: {_first_line(error)}") from None
        self.specials = specials
        self.plain = source == PLAIN_TEMPLATE

    def render(self, messages: list[dict], add_generation_prompt: bool = True) -> str:
        """The prompt; a template that raises (raise_exception, a Jinja error) is a ChatTemplateError."""
        try:
            return self.template.render(messages=messages, add_generation_prompt=add_generation_prompt,
                                        tools=None, documents=None, **self.specials)
        except ChatTemplateError:
            raise
        except Exception as error:  # jinja2 and the template's own code raise many types
            raise ChatTemplateError(f"the chat template raised: {_first_line(error)}") from None


def chat_template(files: ChatFiles) -> ChatTemplate:
    """The template of `files`, or the plain one where the model has none."""
    return ChatTemplate(files.template or PLAIN_TEMPLATE, files.specials())


def load_chat_template(folder: str | Path) -> ChatTemplate:
    return chat_template(read_chat_files(folder))


def check_chat_template(files: ChatFiles) -> None:
    """A template that does not compile, or raises on SAMPLE_CONVERSATION, is a ChatTemplateError."""
    if files.template is not None:
        chat_template(files).render([dict(message) for message in SAMPLE_CONVERSATION])


def _default_template(value, where: Path) -> str | None:
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, list):
        for item in value:
            if isinstance(item, dict) and item.get("name") == "default" and isinstance(item.get("template"), str):
                return item["template"]
        raise ChatTemplateError(f"{where}: chat_template is a list of named templates without a 'default' one")
    raise ChatTemplateError(f"{where}: chat_template must be a string or a list of named templates, "
                            f"got {shorten(repr(value), 60)}")


def _ids(config: dict, where: Path) -> list[int]:
    value = config.get("eos_token_id")
    values = value if isinstance(value, list) else [] if value is None else [value]
    if not all(isinstance(item, int) and not isinstance(item, bool) and item >= 0 for item in values):
        raise ChatTemplateError(f"{where}: eos_token_id must be a token id or a list of ids, "
                                f"got {shorten(repr(value), 60)}")
    return values


def _token_text(value) -> str:
    """A special token as tokenizer_config.json gives it: a string or an AddedToken object."""
    if isinstance(value, dict):
        value = value.get("content")
    return value if isinstance(value, str) else ""


def _json_object(path: Path) -> dict:
    if not path.is_file():
        return {}
    try:
        data = json.loads(path.read_bytes().decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ChatTemplateError(f"{path}: not valid JSON ({shorten(str(error), 80)})") from None
    if not isinstance(data, dict):
        raise ChatTemplateError(f"{path}: expected a JSON object")
    return data


def _write_json(path: Path, data: dict) -> None:
    path.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


def _first_line(error: Exception) -> str:
    text = str(error).strip()
    return shorten(text.splitlines()[0] if text else type(error).__name__, 160)


def _raise_exception(message: str) -> None:
    raise ChatTemplateError(f"the chat template raised: {shorten(str(message), 160)}")


def _strftime_now(format: str) -> str:
    from datetime import datetime

    return datetime.now().strftime(format)


def _tojson(value, ensure_ascii: bool = False, indent: int | None = None, separators=None,
            sort_keys: bool = False) -> str:
    """transformers' tojson: no HTML escaping, Unicode kept."""
    return json.dumps(value, ensure_ascii=ensure_ascii, indent=indent, separators=separators, sort_keys=sort_keys)
