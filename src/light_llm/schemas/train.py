"""The `train` section: optimisation, precision, evaluation and checkpoints."""

from typing import Literal

from pydantic import Field, NonNegativeInt, PositiveFloat, PositiveInt

from light_llm.spec_base import SpecModel


class TrainConfig(SpecModel):
    """Optimisation, precision, evaluation and checkpoints."""

    steps: PositiveInt = Field(300, description="Optimizer steps.")
    batch_size: PositiveInt = Field(
        16,
        description="Global batch size in sequences per optimizer step, summed over all "
        "processes and micro-batches; it must divide by grad_accum_steps × processes.",
    )
    grad_accum_steps: PositiveInt = Field(
        1, description="Micro-batches per optimizer step (the batch is split among them)."
    )
    seq_len: PositiveInt | None = Field(
        None, description="Tokens per training window (null: model.max_seq_len); at most "
        "model.max_seq_len."
    )
    learning_rate: PositiveFloat = Field(1e-3, description="Peak learning rate.")
    min_lr_ratio: float = Field(0.1, ge=0.0, le=1.0, description="Final lr as a share of the peak.")
    warmup_steps: NonNegativeInt = Field(30, description="Linear warmup steps.")
    weight_decay: float = Field(0.1, ge=0.0, description="AdamW weight decay (matrices only).")
    beta1: float = Field(0.9, ge=0.0, lt=1.0, description="AdamW β1.")
    beta2: float = Field(0.95, ge=0.0, lt=1.0, description="AdamW β2.")
    grad_clip: PositiveFloat | None = Field(1.0, description="Gradient-norm clip (null: off).")
    precision: Literal["fp32", "bf16"] = Field(
        "fp32", description="fp32, or bf16 autocast (AMX on recent CPUs, and GPUs)."
    )
    compile: bool = Field(False, description="Wrap the model in torch.compile.")
    eval_every: PositiveInt = Field(50, description="Validation every N steps.")
    eval_batches: PositiveInt = Field(
        8, description="Batches per validation, at fixed positions spread over the held-out text."
    )
    checkpoint_every: PositiveInt = Field(100, description="Checkpoint every N steps.")
    keep_checkpoints: PositiveInt = Field(3, description="Checkpoints kept on disk.")
    seed: int = Field(
        0, description="Seed for weights, data order and dropout: equal seeds give equal runs."
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
