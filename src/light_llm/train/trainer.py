"""The Trainer: a spec and a run folder in, a trained model folder out.

    RUN/data/               token cache (tokens.bin, tokens.json) and tokenizer.json
    RUN/checkpoints/        step_XXXXXX folders (see checkpoint.py)
    RUN/metrics.jsonl       one record per step and per validation
    RUN/tensorboard/        the same metrics as TensorBoard event files (unless turned off)
    RUN/loss.png            training and validation loss against tokens, drawn at the end
    RUN/spec.resolved.json, model.safetensors, tokenizer.json
                            the final model folder, read by exports like a compiled one

Any model with `forward(tokens) -> logits` trains here. Runs are reproducible: equal
specs give equal weights, and a resumed run continues bit for bit.
"""

from __future__ import annotations

import json
import math
import signal
import time
from contextlib import nullcontext
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from rich.console import Console
from torch.distributed.checkpoint.state_dict import (
    StateDictOptions,
    get_model_state_dict,
    get_optimizer_state_dict,
    set_optimizer_state_dict,
)

from light_llm.compiler.build import build
from light_llm.compiler.pipeline import lower_spec
from light_llm.compiler.resolve import resolve_spec
from light_llm.errors import LightLLMError
from light_llm.model_folder import SPEC_FILE, save_model_folder
from light_llm.models.transformer import training_matmul
from light_llm.schemas.spec import Spec
from light_llm.train import distributed as dist_utils
from light_llm.train.checkpoint import (
    Checkpoint,
    decode_bytes,
    encode_bytes,
    latest_checkpoint,
    resumable_checkpoint,
    write_checkpoint,
)
from light_llm.train.data import WindowSampler, unigram_entropy, validation_offsets
from light_llm.train.errors import TrainingError
from light_llm.train.expert_balance import ExpertLoad, auxiliary_loss, sparse_layers
from light_llm.train.init_from import carried_tokenizer_files, open_init_folder, run_origin, write_origin
from light_llm.train.optim import build_optimizer, learning_rate, set_learning_rate
from light_llm.train.prepare import PreparedData, prepare_data
from light_llm.train.progress import TrainingProgress
from light_llm.train.sinks import MetricSinks, open_sinks
from light_llm.train.speed import describe_forward, training_forward

_FULL = StateDictOptions(full_state_dict=True, cpu_offload=True)


@dataclass(frozen=True)
class TrainSummary:
    run: Path
    start_step: int
    steps: int
    final_loss: float
    validation_loss: float | None
    tokens: int  # trained in this call
    seconds: float
    interrupted: bool
    main_process: bool = True

    @property
    def tokens_per_second(self) -> float:
        return self.tokens / self.seconds if self.seconds else 0.0


class Trainer:
    def __init__(
        self,
        spec: Spec,
        run: str | Path,
        *,
        resume: bool = False,
        console: Console | None = None,
        tensorboard: bool = True,
        init_from: str | Path | None = None,
    ):
        """`init_from`: a model folder whose weights a new run starts from (a resumed run
        continues from its checkpoint instead); its model must equal the spec's."""
        self.spec = resolve_spec(spec)
        self.run = Path(run)
        self.resume = resume
        self.tensorboard = tensorboard
        self.console = console or Console()
        train, model = self.spec.train, self.spec.model
        self.seq_len = train.seq_len or model.max_seq_len
        if self.seq_len > model.max_seq_len:
            raise TrainingError(
                f"train.seq_len={self.seq_len} exceeds model.max_seq_len={model.max_seq_len}; "
                f"allowed: at most {model.max_seq_len}"
            )
        self._stop_requested = False
        self.init_folder = None if init_from is None else open_init_folder(init_from, self.spec.model)

    # ----------------------------------------------------------------- setup

    def train(self) -> TrainSummary:
        processes = dist_utils.start_processes(self.spec.train.device)
        try:
            return self._train(processes)
        finally:
            dist_utils.stop_processes(processes)

    def _train(self, processes: dist_utils.Processes) -> TrainSummary:
        train = self.spec.train
        micro_batch = self._micro_batch(processes.world_size)
        checkpoint = self._checkpoint_to_resume()
        data = self._prepare_data(processes)
        model = build(lower_spec(self.spec), seed=train.seed)
        if checkpoint is not None:
            _load_weights(model, checkpoint)
        elif self.init_folder is not None:
            self.init_folder.load_weights_into(model)
            if processes.is_main:
                write_origin(self.run, run_origin(self.init_folder))
        model.to(processes.device)
        wrapped = dist_utils.wrap_model(model, train.distributed, processes)
        optimizer = build_optimizer(model, train)
        sampler = WindowSampler(data.splits.train, self.seq_len, train.seed)
        torch.manual_seed(train.seed + processes.rank)
        start_step, tokens_seen, seconds = 0, 0, 0.0
        if checkpoint is not None:
            set_optimizer_state_dict(model, optimizer, checkpoint.optimizer, options=StateDictOptions(full_state_dict=True))
            sampler.load_state(checkpoint.state["sampler"])
            torch.set_rng_state(decode_bytes(checkpoint.state["torch_rng"]))
            start_step, tokens_seen = checkpoint.step, checkpoint.state["tokens"]
            seconds = checkpoint.state.get("wall_s", 0.0)
            training_matmul.restore_choices(checkpoint.state.get("matmul_libraries", []))
        forwards = (train.steps - start_step) * train.grad_accum_steps
        forward = training_forward(wrapped, train.compile, forwards, self._note)
        loop = _Loop(self, processes, model, wrapped, forward, optimizer, sampler, data, micro_batch)
        return loop.run(start_step, tokens_seen, seconds)

    def _micro_batch(self, world_size: int) -> int:
        """Sequences per process per micro-batch."""
        train = self.spec.train
        shares = train.grad_accum_steps * world_size
        if train.batch_size % shares:
            raise TrainingError(
                f"train.batch_size={train.batch_size} must divide by grad_accum_steps × "
                f"processes = {train.grad_accum_steps} × {world_size} = {shares}"
            )
        return train.batch_size // shares

    def _checkpoint_to_resume(self) -> Checkpoint | None:
        latest = latest_checkpoint(self.run)
        if latest is None:
            return None
        if not self.resume:
            raise TrainingError(
                f"{self.run} already holds a run (checkpoint {latest.name}); pass --resume to "
                "continue it, or choose another --out"
            )
        checkpoint, skipped = resumable_checkpoint(self.run)
        for line in skipped:
            self.console.print(f"warning: --resume skips {line}", style="yellow", highlight=False)
        if checkpoint is None:
            raise TrainingError(f"--resume: every checkpoint of {self.run} is damaged; train into another --out")
        latest = checkpoint.path
        saved = Spec.model_validate(json.loads((latest / SPEC_FILE).read_text()))
        for section in ("model", "data"):
            if getattr(saved, section) != getattr(self.spec, section):
                raise TrainingError(
                    f"--resume: the spec's {section} section differs from the one {self.run} was "
                    f"trained with ({latest / SPEC_FILE}); resume with the same {section}, or "
                    "choose another --out"
                )
        if checkpoint.step >= self.spec.train.steps:
            raise TrainingError(
                f"--resume: {self.run} is already at step {checkpoint.step} of "
                f"train.steps={self.spec.train.steps}; pass a larger --steps to train further"
            )
        return checkpoint

    def _prepare_data(self, processes: dist_utils.Processes) -> PreparedData:
        """Rank 0 tokenizes and writes the cache; the others then read it."""
        error = None
        if processes.is_main:
            self.run.mkdir(parents=True, exist_ok=True)
            try:
                data = prepare_data(self.spec, self.run, self.seq_len)
            except LightLLMError as raised:  # TrainingError, TokenizerError
                error = raised
        if dist_utils.any_process(error is not None, processes):
            raise error or TrainingError("rank 0 could not prepare the data (see its message)")
        if not processes.is_main:
            data = prepare_data(self.spec, self.run, self.seq_len)
        return data

    def _note(self, line: str) -> None:
        self.console.print(line, highlight=False)

    # ------------------------------------------------------------- signals

    def request_stop(self, signum, frame) -> None:
        if self._stop_requested:  # a second Ctrl-C stops at once
            raise KeyboardInterrupt
        self._stop_requested = True


class _Loop:
    """The optimisation loop of one Trainer.train() call."""

    def __init__(self, trainer: Trainer, processes, model, wrapped, forward, optimizer, sampler, data, micro_batch):
        self.trainer = trainer
        self.spec = trainer.spec
        self.config = trainer.spec.train
        self.processes = processes
        self.model = model
        self.wrapped = wrapped
        self.forward = forward
        self.optimizer = optimizer
        self.sampler = sampler
        self.data = data
        self.micro_batch = micro_batch
        self.sparse_layers = sparse_layers(model)  # a mixture of experts' layers (none: dense)
        self.seq_len = trainer.seq_len
        device_type = processes.device.type
        self.autocast = (
            (lambda: torch.autocast(device_type, dtype=torch.bfloat16))
            if self.config.precision == "bf16"
            else nullcontext
        )

    def run(self, start_step: int, tokens_seen: int, seconds_before: float) -> TrainSummary:
        """`seconds_before`: wall time the run spent up to its checkpoint (0 for a new run)."""
        config, processes, run = self.config, self.processes, self.trainer.run
        metrics = open_sinks(run, start_step, tensorboard=self.trainer.tensorboard) if processes.is_main else None
        handlers = _install_stop_handlers(self.trainer.request_stop)
        progress = TrainingProgress(config.steps, start_step, self.trainer.console, processes.is_main, config.eval_every)
        started = time.perf_counter()
        self.started, self.seconds_before = started, seconds_before
        step, loss, validation, interrupted = start_step, math.nan, None, False
        tokens_before = tokens_seen
        step_tokens = config.batch_size * self.seq_len
        try:
            with progress:
                progress.note(self._describe(start_step))
                while step < config.steps:
                    tick = time.perf_counter()
                    rate = learning_rate(step, config)
                    loss, grad_norm, experts = self._step(rate)
                    step += 1
                    tokens_seen += step_tokens
                    speed = step_tokens / (time.perf_counter() - tick)
                    progress.step(step, loss, speed, rate)
                    self._record(
                        metrics, step=step, loss=loss, lr=rate, grad_norm=grad_norm, tokens=tokens_seen,
                        tokens_per_s=speed, wall_s=round(self.wall_seconds(), 3), **experts,
                    )
                    if step % config.eval_every == 0 or step == config.steps:
                        validation = self.evaluate()
                        self._record(metrics, step=step, val_loss=validation, val_ppl=math.exp(min(validation, 50)))
                        progress.note(f"step {step}: validation loss {validation:.4f}, perplexity {math.exp(min(validation, 50)):.2f}")
                    stop = dist_utils.any_process(self.trainer._stop_requested, processes)
                    if step % config.checkpoint_every == 0 or step == config.steps or stop:
                        self.save_checkpoint(step, tokens_seen)
                    if stop:
                        interrupted = True
                        progress.note(f"interrupted: checkpoint saved at step {step}; continue with --resume")
                        break
        finally:
            _restore_handlers(handlers)
            if metrics is not None:
                metrics.close()
        if not interrupted:
            self.save_model_folder()
        if processes.is_main:
            _plot_losses(run)
        return TrainSummary(
            run, start_step, step, loss, validation, tokens_seen - tokens_before, time.perf_counter() - started, interrupted, processes.is_main
        )

    def wall_seconds(self) -> float:
        """Seconds this run has trained, over every process that continued it."""
        return self.seconds_before + time.perf_counter() - self.started

    def _step(self, rate: float) -> tuple[float, float, dict]:
        """(language-model loss, gradient norm, a mixture of experts' metrics: expert_balance.py)."""
        config = self.config
        set_learning_rate(self.optimizer, rate)
        total = torch.zeros((), device=self.processes.device)
        auxiliary = torch.zeros((), device=self.processes.device)
        load = ExpertLoad(self.sparse_layers)
        for micro in range(config.grad_accum_steps):
            inputs, targets = self._batch(self.sampler.offsets(self.micro_batch * self.processes.world_size))
            sync = micro == config.grad_accum_steps - 1
            with self._no_sync(sync):
                loss = self._loss(inputs, targets)
                extra = auxiliary_loss(self.sparse_layers)
                ((loss if extra is None else loss + extra) / config.grad_accum_steps).backward()
            total += loss.detach() / config.grad_accum_steps
            if extra is not None:
                auxiliary += extra.detach() / config.grad_accum_steps
                load.add()
        grad_norm = math.nan
        if config.grad_clip is not None:
            norm = torch.nn.utils.clip_grad_norm_(self.wrapped.parameters(), config.grad_clip)
            grad_norm = float(norm.full_tensor() if hasattr(norm, "full_tensor") else norm)
        self.optimizer.step()
        self.optimizer.zero_grad(set_to_none=True)
        return float(dist_utils.mean_over_processes(total, self.processes)), grad_norm, load.metrics(float(auxiliary))

    def _batch(self, offsets: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
        """This process's share of the global micro-batch at `offsets`."""
        share = offsets[self.processes.rank * self.micro_batch : (self.processes.rank + 1) * self.micro_batch]
        windows = self.sampler.windows(share).to(self.processes.device, non_blocking=True)
        return windows[:, :-1], windows[:, 1:]

    def _loss(self, inputs: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        with self.autocast():
            logits = self.forward(inputs)
        return F.cross_entropy(logits.float().flatten(0, 1), targets.flatten())

    def _no_sync(self, sync: bool):
        no_sync = getattr(self.wrapped, "no_sync", None)
        return nullcontext() if sync or no_sync is None else no_sync()

    @torch.no_grad()
    def evaluate(self) -> float:
        """Mean validation loss over eval_batches fixed batches."""
        validation = self.data.splits.validation
        count = self.config.eval_batches * self.micro_batch * self.processes.world_size
        offsets = validation_offsets(len(validation), self.seq_len, count)
        evaluator = WindowSampler(validation, self.seq_len, seed=0)
        self.model.eval()
        total = torch.zeros((), device=self.processes.device)
        per_batch = self.micro_batch * self.processes.world_size
        for start in range(0, count, per_batch):
            share = offsets[start : start + per_batch]
            share = share[self.processes.rank * self.micro_batch : (self.processes.rank + 1) * self.micro_batch]
            windows = evaluator.windows(share).to(self.processes.device)
            total += self._loss(windows[:, :-1], windows[:, 1:]) * len(share)
        self.model.train()
        return float(dist_utils.sum_over_processes(total, self.processes) / count)

    # ------------------------------------------------------------- saving

    def save_checkpoint(self, step: int, tokens_seen: int) -> None:
        model_state = _unique_weights(self.model, get_model_state_dict(self.model, options=_FULL))
        optimizer_state = get_optimizer_state_dict(self.model, self.optimizer, options=_FULL)
        if not self.processes.is_main:
            return
        write_checkpoint(
            self.trainer.run,
            step,
            model_state=model_state,
            optimizer_state=optimizer_state,
            trainer_state={
                "tokens": tokens_seen,
                "sampler": self.sampler.state(),
                "torch_rng": encode_bytes(torch.get_rng_state()),
                "wall_s": self.wall_seconds(),
                "matmul_libraries": training_matmul.choices_state(),
            },
            spec_json=self.spec.to_json(),
            tokenizer_json=self.data.tokenizer.to_str(),
            keep=self.config.keep_checkpoints,
        )

    def save_model_folder(self) -> None:
        """RUN itself becomes a model folder: spec.resolved.json, model.safetensors, tokenizer.json."""
        state = get_model_state_dict(self.model, options=_FULL)
        if not self.processes.is_main:
            return
        plain = build(lower_spec(self.spec))
        plain.load_state_dict(state)
        init_folder = self.trainer.init_folder
        carried = [] if init_folder is None else carried_tokenizer_files(init_folder, self.data.tokenizer_path)
        save_model_folder(self.trainer.run, self.spec, plain, self.data.tokenizer_path, extra_files=carried)

    def _record(self, metrics: MetricSinks | None, **record) -> None:
        if metrics is not None:
            metrics.write(record)

    def _describe(self, start_step: int) -> str:
        config, processes = self.config, self.processes
        where = f"{processes.world_size} processes ({config.distributed})" if processes.distributed else "1 process"
        begin = f"resuming at step {start_step}" if start_step else "starting"
        if self.trainer.init_folder is not None:
            begin += (" (--init-from ignored: the checkpoint's weights continue)" if start_step
                      else f" from the weights of {self.trainer.init_folder.path}")
        parameters = sum(p.numel() for p in self.model.parameters())
        entropy = unigram_entropy(self.data.splits.validation, self.spec.model.vocab_size)
        return (
            f"{begin}: {parameters:,} parameters, {len(self.data.splits.train):,} training tokens "
            f"(validation unigram entropy {entropy:.3f} nats), "
            f"batch {config.batch_size}×{self.seq_len}, {config.precision}, {where} on {processes.device}, "
            f"{describe_forward(self.forward, self.wrapped)}, AdamW {_kernel(self.optimizer)}"
        )


def _kernel(optimizer: torch.optim.Optimizer) -> str:
    defaults = optimizer.defaults
    return "fused" if defaults.get("fused") else "foreach" if defaults.get("foreach") else "for-loop"


def _plot_losses(run: Path) -> None:
    """RUN/loss.png from RUN/metrics.jsonl."""
    from light_llm.run_logs.metrics import read_metrics
    from light_llm.run_logs.plot import LOSS_PLOT, plot_run

    plot_run(read_metrics(run), f"{run.name}: loss", run / LOSS_PLOT)


def _unique_weights(model: torch.nn.Module, state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Drop aliases of tied weights (safetensors stores each tensor once)."""
    names = {name for name, _ in model.named_parameters()} | {name for name, _ in model.named_buffers()}
    return {name: tensor for name, tensor in state.items() if name in names}


def _load_weights(model: torch.nn.Module, checkpoint: Checkpoint) -> None:
    missing, unexpected = model.load_state_dict(checkpoint.model, strict=False)
    aliases = {name for name, _ in model.named_parameters(remove_duplicate=False)} - {
        name for name, _ in model.named_parameters()
    }
    missing = [name for name in missing if name not in aliases]
    if missing or unexpected:
        raise TrainingError(
            f"{checkpoint.path}: weights do not match the model (missing {missing[:5]}, unexpected {unexpected[:5]})"
        )


def _install_stop_handlers(handler) -> dict:
    """SIGINT (Ctrl-C) and SIGTERM finish the current step, save a checkpoint and stop."""
    previous = {}
    for signum in (signal.SIGINT, signal.SIGTERM):
        try:
            previous[signum] = signal.signal(signum, handler)
        except ValueError:  # not the main thread: leave signals alone
            pass
    return previous


def _restore_handlers(previous: dict) -> None:
    for signum, handler in previous.items():
        signal.signal(signum, handler)
