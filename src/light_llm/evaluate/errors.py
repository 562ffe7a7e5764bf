"""The one error of an evaluation that cannot run (a missing path, an empty text)."""

from light_llm.errors import LightLLMError


class EvalError(LightLLMError):
    """What is wrong with the folder or the text, on one line."""
