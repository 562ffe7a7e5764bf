"""The one base of every expected failure. The CLI prints any `LightLLMError` as one line
(no traceback); anything else is an internal error."""


class LightLLMError(ValueError):
    """An expected failure with a message meant for the user: what is wrong and what is allowed.

    It derives from ValueError so that callers written against the earlier error classes
    (all ValueErrors) keep working.
    """
