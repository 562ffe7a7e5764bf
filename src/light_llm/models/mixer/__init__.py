"""The Mixer family: a causal MLP-Mixer language model. `MixerConfig` is its spec section;
`Mixer` (model.py) its nn.Module. Importing the config does not import torch."""

from light_llm.models.mixer.config import MixerConfig

__all__ = ["MixerConfig"]
