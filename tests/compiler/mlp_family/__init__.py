"""A second, minimal model family for the tests: the doc's "Adding a new model" recipe.
An MLP language model over a fixed window of previous token embeddings."""

from mlp_family.config import MLPLanguageModelConfig

__all__ = ["MLPLanguageModelConfig"]
