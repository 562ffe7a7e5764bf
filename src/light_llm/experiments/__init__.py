"""Comparing designs: TensorBoard logs, loss plots, run reports, `lightllm compare` and
`lightllm sweep`. Importing this package imports neither torch nor matplotlib."""
