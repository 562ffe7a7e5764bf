"""The errors of training a user can fix: each message names the value and the remedy.
The CLI prints them as one line; anything else is a bug."""


class TrainingError(ValueError):
    """Bad input to training: spec values, corpus, tokenizer, token cache, run folder."""
