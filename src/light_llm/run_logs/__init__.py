"""What a training run records beside its checkpoints, written by train/ and read by
experiments/: metrics.jsonl, the loss plot and TensorBoard events. Importing this package
imports neither torch nor matplotlib."""
