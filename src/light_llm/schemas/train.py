"""The `train` section: optimisation, precision, evaluation and checkpoints."""

from typing import Literal

from pydantic import Field

from light_llm.spec_base import LIMIT, Integer, Number, SpecModel

MAX_STEPS = 10**9
MAX_BATCH = 1_048_576
MAX_SEQ_LEN = 1_048_576
MAX_SEED = 2**32 - 1
_COUNT = Integer(1, MAX_STEPS)
AUTO_COMPILE_SECONDS = 600  # train.compile auto compiles when the eager steps left would take this long


class TrainConfig(SpecModel):
    """Optimisation, precision, evaluation and checkpoints."""

    steps: _COUNT = Field(300, description="Optimizer steps.")
    batch_size: Integer(1, MAX_BATCH) = Field(
        16,
        description="Global batch size in sequences per optimizer step, summed over all "
        "processes and micro-batches; it must divide by grad_accum_steps × processes.",
    )
    grad_accum_steps: Integer(1, MAX_BATCH) = Field(
        1, description="Micro-batches per optimizer step (the batch is split among them)."
    )
    seq_len: Integer(1, MAX_SEQ_LEN) | None = Field(
        None, description="Tokens per training window (null: model.max_seq_len); at most "
        "model.max_seq_len."
    )
    learning_rate: Number(gt=0.0, le=10.0) = Field(1e-3, description="Peak learning rate.")
    min_lr_ratio: Number(ge=0.0, le=1.0) = Field(0.1, description="Final lr as a share of the peak.")
    warmup_steps: Integer(0, MAX_STEPS) = Field(30, description="Linear warmup steps.")
    weight_decay: Number(ge=0.0, le=10.0) = Field(0.1, description="AdamW weight decay (matrices only).")
    beta1: Number(ge=0.0, lt=1.0) = Field(0.9, description="AdamW β1.")
    beta2: Number(ge=0.0, lt=1.0) = Field(0.95, description="AdamW β2.")
    grad_clip: Number(gt=0.0, le=1e6) | None = Field(1.0, description="Gradient-norm clip (null: off).")
    precision: Literal["fp32", "bf16"] = Field(
        "fp32", description="fp32, or bf16 autocast (AMX on recent CPUs, and GPUs)."
    )
    compile: bool | Literal["auto"] = Field(
        "auto",
        description="Train through torch.compile of the model (Inductor fuses norms, rotary, "
        "activations). auto: after timing the first steps eagerly, compile when the steps left "
        f"would take at least {AUTO_COMPILE_SECONDS // 60} minutes, so that the compile time (tens of "
        "seconds to minutes on a CPU) pays.",
    )
    eval_every: _COUNT = Field(50, description="Validation every N steps.")
    eval_batches: Integer(1, 1_000_000) = Field(
        8, description="Batches per validation, at fixed positions spread over the held-out text."
    )
    checkpoint_every: _COUNT = Field(100, description="Checkpoint every N steps.")
    keep_checkpoints: Integer(1, 1_000) = Field(3, description="Checkpoints kept on disk.")
    seed: Integer(0, MAX_SEED) = Field(
        0,
        description="Seed for weights, data order and dropout: equal seeds give equal runs. "
        f"{LIMIT}numpy's generators take non-negative 32-bit seeds.",
    )
    distributed: Literal["ddp", "fsdp"] = Field(
        "ddp",
        description="Strategy under torchrun with several processes: ddp (every process "
        "holds the whole model) or fsdp (FSDP2 fully_shard: parameters, gradients and "
        "optimizer state sharded across processes).",
    )
    device: Literal["auto", "cpu", "cuda"] = Field(
        "auto", description="Where to train. auto: CUDA when available, else the CPU."
    )
