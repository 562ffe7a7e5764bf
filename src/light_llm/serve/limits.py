"""The engine's default limits, shared by `Engine` and `lightllm serve`'s options (a module
of its own so the CLI reads them without importing the engine)."""

MAX_BATCH = 16  # requests decoded together at most
MAX_QUEUE = 64  # requests waiting for a batch slot at most; past it: HTTP 429
PREFILL_TOKENS = 512  # positions one prefill call holds at most (see Engine)
