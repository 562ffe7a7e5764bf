"""The text perplexity is measured on: the built-in English text, or a user's file.

The built-in text is prose every Python installation carries: the topics of the Python
language reference that `pydoc_data/topics.py` ships for `help()`, namely BUILTIN_TOPICS
in that order, each followed by a blank line. The text changes only between CPython
releases (its size: about 60 kB; its token count depends on the tokenizer: about 14 000
tokens of SmolLM2's, every byte a token for the byte tokenizer). The default evaluation
reads its first windows (windows.py).
"""

from __future__ import annotations

from pathlib import Path

from light_llm.evaluate.errors import EvalError

BUILTIN_TOPICS = ("objects", "types", "execmodel", "exceptions")
BUILTIN_NAME = "built-in text (pydoc_data.topics: " + ", ".join(BUILTIN_TOPICS) + ")"


def builtin_text() -> str:
    """The built-in English text (see the module's text)."""
    return topics_text(BUILTIN_TOPICS)


def topics_text(names: tuple[str, ...]) -> str:
    """The topics `names` of pydoc_data.topics in that order, each followed by a blank line."""
    from pydoc_data.topics import topics

    missing = [name for name in names if name not in topics]
    if missing:
        raise EvalError(f"this Python's pydoc_data.topics lacks the topics {', '.join(missing)}; "
                        "name a text file instead")
    return "".join(topics[name].strip() + "\n\n" for name in names)


def read_text(path: Path) -> str:
    """A user's UTF-8 text file, which must hold more than white space."""
    if not path.is_file():
        raise EvalError(f"{path}: no such text file")
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as error:
        raise EvalError(f"{path}: not UTF-8 text (byte {error.start}: {error.reason})") from None
    if not text.strip():
        raise EvalError(f"{path}: the text is empty")
    return text
