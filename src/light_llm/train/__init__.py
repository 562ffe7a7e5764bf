"""Training: data, tokenizers, the Trainer, checkpoints."""
