"""light_llm/chat_template.py: where a model's chat template and end-of-turn tokens are
read from, how they are written back, and the sandboxed rendering."""

from __future__ import annotations

import json

import pytest

from light_llm.chat_template import (
    ChatTemplateError,
    check_chat_template,
    generation_config_with,
    load_chat_template,
    read_chat_files,
    token_ids,
    write_chat_files,
)
from light_llm.tokenizer import byte_tokenizer

CHATML = ("{% for m in messages %}<|im_start|>{{ m.role }}\n{{ m.content }}{{ eos_token }}\n{% endfor %}"
          "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}")
USER = [{"role": "user", "content": "hi"}]


def write(folder, name: str, data) -> None:
    (folder / name).write_text(data if isinstance(data, str) else json.dumps(data))


def test_without_files_the_plain_template_and_the_tokenizers_end_token(tmp_path):
    files = read_chat_files(tmp_path, byte_tokenizer())
    assert files.template is None and files.end_ids == ()
    assert load_chat_template(tmp_path).render(USER) == "user: hi\nassistant:"
    ids = token_ids(files, byte_tokenizer())
    assert (ids.eos_id, ids.pad_id, ids.end_ids) == (256, 257, (256,))


def test_template_file_wins_over_tokenizer_config(tmp_path):
    write(tmp_path, "tokenizer_config.json", {"chat_template": "old", "eos_token": "<|pad|>"})
    write(tmp_path, "chat_template.jinja", CHATML)
    files = read_chat_files(tmp_path)
    assert files.template == CHATML
    assert load_chat_template(tmp_path).render(USER) == "<|im_start|>user\nhi<|pad|>\n<|im_start|>assistant\n"
    assert files.tokenizer_config_with_template()["chat_template"] == CHATML


def test_named_templates_render_the_default_and_stay_a_list(tmp_path):
    named = [{"name": "tool_use", "template": "tools"}, {"name": "default", "template": CHATML}]
    write(tmp_path, "tokenizer_config.json", {"chat_template": named})
    files = read_chat_files(tmp_path)
    assert files.template == CHATML and files.tokenizer_config_with_template()["chat_template"] == named
    write(tmp_path, "tokenizer_config.json", {"chat_template": named[:1]})
    with pytest.raises(ChatTemplateError, match="without a 'default'"):
        read_chat_files(tmp_path)


def test_every_end_token_is_gathered_once_in_order(tmp_path):
    write(tmp_path, "generation_config.json", {"eos_token_id": [257, 256], "temperature": 0.2})
    write(tmp_path, "config.json", {"eos_token_id": 256})
    write(tmp_path, "tokenizer_config.json", {"eos_token": {"content": "<|endoftext|>"}, "pad_token": "<|pad|>"})
    files = read_chat_files(tmp_path, byte_tokenizer())
    assert files.end_ids == (257, 256)
    ids = token_ids(files, byte_tokenizer())
    assert (ids.eos_id, ids.pad_id) == (257, 257)
    config = generation_config_with(files, files.end_ids, max_length=64)
    assert config == {"max_length": 64, "eos_token_id": [257, 256], "temperature": 0.2}
    assert generation_config_with(files, (2,))["eos_token_id"] == 2


@pytest.mark.parametrize("value", ["2", [2, -1], True])
def test_an_eos_token_id_that_is_no_id_is_refused(tmp_path, value):
    write(tmp_path, "generation_config.json", {"eos_token_id": value})
    with pytest.raises(ChatTemplateError, match="eos_token_id must be a token id or a list of ids"):
        read_chat_files(tmp_path)


def test_written_files_read_back_the_same(tmp_path):
    write(tmp_path, "chat_template.jinja", CHATML)
    write(tmp_path, "tokenizer_config.json", {"eos_token": "<|endoftext|>"})
    files = read_chat_files(tmp_path, byte_tokenizer())
    out = tmp_path / "out"
    out.mkdir()
    names = write_chat_files(out, files, generation_config_with(files, files.end_ids), template_file=True)
    assert names == ["tokenizer_config.json", "chat_template.jinja", "generation_config.json"]
    again = read_chat_files(out, byte_tokenizer())
    assert (again.template, again.end_ids) == (CHATML, (256,))


@pytest.mark.parametrize("template, said", [
    ("{% if %}", "does not compile"),
    ("{{ raise_exception('only user turns') }}", "raised: only user turns"),
    ("{{ messages[7].content }}", "raised"),
    ("{{ ''.__class__.__mro__[1].__subclasses__() }}", "raised"),  # the sandbox refuses
])
def test_templates_that_fail_are_one_line_errors(tmp_path, template, said):
    write(tmp_path, "chat_template.jinja", template)
    with pytest.raises(ChatTemplateError, match=said) as error:
        check_chat_template(read_chat_files(tmp_path))
    assert "\n" not in str(error.value)


def test_transformers_globals_are_there(tmp_path):
    write(tmp_path, "chat_template.jinja",
          "{% for m in messages %}{% if loop.index > 1 %}{% break %}{% endif %}{{ m | tojson }}{% endfor %}"
          "{{ strftime_now('%Y') | length }}")
    rendered = load_chat_template(tmp_path).render([{"role": "user", "content": "é"}, *USER])
    assert rendered == '{"role": "user", "content": "é"}4'
