"""The errors of training a user can fix: each message names the value and the remedy.
The CLI prints them as one line; anything else is a bug."""

from light_llm.errors import LightLLMError


class TrainingError(LightLLMError):
    """Bad input to training: spec values, corpus, tokenizer, token cache, run folder."""
