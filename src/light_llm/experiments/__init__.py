"""Comparing designs: run reports, `lightllm compare` and `lightllm sweep`. It reads the
logs runs leave (run_logs/) and drives the Trainer; train/ never imports it. Importing this
package imports neither torch nor matplotlib."""
