"""The one base of every expected failure. The CLI prints any `LightLLMError` as one line
(no traceback); anything else is an internal error."""

MAX_LINE = 300
"""Longest line of an error; longer keys and values are shortened in the middle."""


class LightLLMError(ValueError):
    """An expected failure with a message meant for the user: what is wrong and what is allowed.

    It derives from ValueError so that callers written against the earlier error classes
    (all ValueErrors) keep working.
    """


class ExportError(LightLLMError):
    """An export that cannot be made, read back or verified (light_llm.exports writes
    them, light_llm.runtime reads them: the class lives below both)."""


class GenerationError(LightLLMError):
    """A prompt or a sampling option that generation cannot use (light_llm.runtime raises
    it; the CLI and the server report it)."""


class TokenizerError(LightLLMError):
    """A tokenizer that cannot be built, read or used with the spec (raised while
    compiling, training and generating)."""
