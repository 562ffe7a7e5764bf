"""The `lightllm` command: thin typer commands that call into the library."""
