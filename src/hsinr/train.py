"""The one training loop every model of the project uses (single process, or data-parallel with ``torchrun``).

Recipe of the INR-HSISR paper by default (Sec. III-D, IV-C): L1 loss, Adam, lr 1e-4 decayed ×0.1 every 200 epochs,
1000 epochs of random 64×64 patches. The optimiser (Adam, or AdamW with ``train.weight_decay``), the learning-rate
schedule (``train.schedule``: step, cosine, constant; ``train.warmup_steps``) and the loss (``train.loss``, see
:mod:`hsinr.losses`) come from the config. Per epoch: a progress bar, validation on whole images, one line of
``history.jsonl``, then ``last.pt`` (with the optimiser, scheduler and RNG states) and ``best.pt`` (the best
validation PSNR; the last state when there are no validation scenes), all written atomically.

* **Budgets are optimiser steps** (``train.steps``; else ``train.epochs`` × steps per epoch), so a result does not
  depend on how busy the machine was. ``train.max_minutes`` is an optional wall-clock cap on top.
* ``train.early_stop: K`` ends the run after K validations without a better PSNR.
* ``train.save_every: K`` writes ``last.pt`` every K epochs (and at the end) instead of every epoch: for large
  models with short epochs (the paper's 65 M parameters and Adam's state are 0.8 GB, its epoch 125 steps), where
  writing it would cost as much as training. A resumed run repeats the epochs after the last write.
* ``train.ema: d`` keeps an exponential moving average of the weights (decay ``min(d, (1 + t) / (10 + t))`` at
  update ``t``, so early averages do not drag the random start along; :class:`torch.optim.swa_utils.AveragedModel`).
  The average is what is validated and written to ``best.pt`` and ``last.pt``; ``last.pt`` also keeps the raw
  weights in its training state, so a resumed run goes on exactly.
* ``train.amp`` (bf16/fp16 autocast of the forward pass; normalisations compute in float32) and ``train.compile``
  (``torch.compile``) for GPUs.
* ``resume=True`` continues from ``last.pt`` exactly: the patches of an epoch depend only on (seed, epoch), and the
  optimiser, scheduler and RNG states are restored, and so is the task's own training state (``extra_state``:
  INSS's discriminators and their optimiser), so the next step's loss equals the uninterrupted run's.
* A NaN/Inf loss stops the run with :class:`~hsinr.errors.TrainingError` naming its step; checkpoints are only
  written after a finished epoch, so the last good one stays. On a GPU the losses are read back (and checked) every
  25 steps, since each read waits for the queued work.
* Models with a closed-form part (``fit_prior``, see :mod:`hsinr.models.contract`) have it fitted on the training
  pairs before the first step.
* ``train.init_from: CHECKPOINT`` starts from another run's weights (same model spec), e.g. pre-training on
  synthetic scenes then fine-tuning on real ones; optimiser and schedule start afresh, the prior is fitted again.
* Closed-form models (``closed_form = True``: least squares, training-free recovery) are fitted in one pass instead.
* Data parallel: launched with ``torchrun --nproc_per_node K hsinr train ...`` each rank trains on every K-th batch
  of the epoch (gloo on CPU, NCCL on CUDA), gradients are averaged by DDP, and rank 0 validates and writes.
"""

from __future__ import annotations

import contextlib
import gc
import json
import logging
import math
import os
import random
import time
from pathlib import Path

import numpy as np
import torch
import torch.distributed as dist
from torch.optim.swa_utils import AveragedModel
from torch.utils.data import DataLoader

from .checkpoint import read_checkpoint, rng_state_tensors, save_checkpoint, set_rng_state_tensors
from .config import save_config
from .device import availability_problem, pick_device
from .errors import ConfigError, TrainingError
from .io.atomic import write_text_atomic
from .models import make
from .models.contract import fit_closed_form_parts, is_closed_form
from .models.registry import check_spec
from .progress import budget_text, progress_bar
from .run_folder import claim_run_folder
from .tasks import make_task
from .tasks.base import load_task_extra_state, task_extra_state

LAST, BEST = "last.pt", "best.pt"
logger = logging.getLogger(__name__)

# steps whose losses are read back from a GPU together: each read waits for the queued work, one per step would
# keep the CPU from queueing the next step while the GPU runs this one
LOSS_GROUP_ON_ACCELERATORS = 25


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def _rng_state() -> dict:
    return rng_state_tensors()  # tensors and ints: checkpoints load with weights_only=True


def _set_rng_state(state: dict) -> None:
    set_rng_state_tensors(state)


class _Distributed:
    """World size, rank and process group of a ``torchrun`` launch (a single process otherwise)."""

    def __init__(self, device: torch.device):
        self.world = int(os.environ.get("WORLD_SIZE", "1"))
        self.rank = int(os.environ.get("RANK", "0"))
        if self.world > 1 and not dist.is_initialized():
            dist.init_process_group("nccl" if device.type == "cuda" else "gloo")

    @property
    def main(self) -> bool:
        return self.rank == 0

    def barrier(self) -> None:
        if self.world > 1:
            dist.barrier()

    def close(self, synchronise: bool = True) -> None:
        """Tear the group down on every rank together.

        A rank that destroys its group while its peer is still inside a collective, or while a DDP reducer still
        holds gloo work, can abort at interpreter exit ("terminate called without an active exception"): free
        the training objects first, then meet at a barrier, then destroy.
        """
        if self.world > 1 and dist.is_initialized():
            gc.collect()
            if synchronise:
                dist.barrier()
            dist.destroy_process_group()


def train(
    config: dict,
    run_dir: str | Path,
    resume: bool = False,
    progress: bool = True,
    overwrite: bool = False,
    allow_changed: bool = False,
) -> dict:
    """Train ``config["model"]`` on ``config["data"]`` into ``run_dir``; returns a summary dict.

    Args:
        config: the resolved configuration (see :mod:`hsinr.config`).
        run_dir: output folder: ``config.yaml``, ``split.json``, ``last.pt``, ``best.pt``, ``history.jsonl``.
        resume: continue from ``run_dir/last.pt``.
        progress: show progress bars.
        overwrite: replace a run already in ``run_dir`` (see :func:`hsinr.run_folder.claim_run_folder`).
        allow_changed: with ``resume``, accept changed settings with a logged warning naming them (by default they
            are refused, since the run would not continue exactly).
    """
    run_dir = Path(run_dir)
    tcfg = config["train"]
    device = pick_device(tcfg.get("device", "auto"))
    problem = availability_problem(device)
    if problem is not None:  # refuse before anything is written
        raise ConfigError(f"train.device {tcfg.get('device')!r}: {problem}; use cpu")
    if tcfg.get("threads"):
        torch.set_num_threads(int(tcfg["threads"]))
    check_spec(config["model"])  # a misspelt model argument is refused before anything is written
    # refuses (before anything is written) a folder holding another run, a changed --resume, a second writer
    folder = claim_run_folder(run_dir, config, resume=resume, overwrite=overwrite, allow_changed=allow_changed)
    world = _Distributed(device)
    finished = False
    try:
        summary = _train(config, run_dir, resume, progress and world.main, device, world)
        finished = True
        return summary
    finally:
        world.close(synchronise=finished)  # after an error the peer may never reach a barrier
        folder.release()


def lr_factor(schedule: str, step: int, total_steps: int, steps_per_epoch: int, tcfg: dict) -> float:
    """Learning-rate multiplier after ``step`` optimiser steps.

    * ``"step"`` (the paper's): ×``lr_gamma`` every ``lr_step`` epochs.
    * ``"cosine"``: linear warm-up over ``warmup_steps``, then half a cosine from 1 to 0 at ``total_steps``.
    * ``"constant"``: 1 (after the warm-up).
    """
    warmup = int(tcfg.get("warmup_steps") or 0)
    if step < warmup:
        return (step + 1) / warmup
    if schedule == "step":
        return float(tcfg["lr_gamma"]) ** ((step // steps_per_epoch) // int(tcfg["lr_step"]))
    if schedule == "cosine":
        progress = min((step - warmup) / max(total_steps - warmup, 1), 1.0)
        return 0.5 * (1.0 + math.cos(math.pi * progress))
    if schedule == "constant":
        return 1.0
    raise ConfigError(f"train.schedule must be step, cosine or constant, got {schedule!r}")


def weight_average(model: torch.nn.Module, decay: float) -> AveragedModel:
    """An exponential moving average of ``model``'s weights (``train.ema``); buffers are copied, not averaged.

    Update ``t`` (1, 2, …) moves the average towards the weights by ``1 − min(decay, (1 + t) / (10 + t))``: a short
    memory at first (the first update copies the weights), the full ``decay`` after ``~10 / (1 − decay)`` steps.
    """
    if not 0 < decay < 1:
        raise ConfigError(f"train.ema must be a decay between 0 and 1 (e.g. 0.999), got {decay}")

    def average(averaged: torch.Tensor, current: torch.Tensor, updates: torch.Tensor) -> torch.Tensor:
        keep = min(decay, (1 + float(updates)) / (10 + float(updates)))
        return averaged + (current - averaged) * (1 - keep)

    return AveragedModel(model, avg_fn=average)


@torch.no_grad()
def update_weight_average(ema: AveragedModel, model: torch.nn.Module) -> None:
    """One update of :func:`weight_average`: parameters averaged, buffers (a fitted prior, norm statistics) copied."""
    ema.update_parameters(model)
    for averaged, current in zip(ema.module.buffers(), model.buffers(), strict=True):
        averaged.copy_(current)


def autocast(device: torch.device, amp: str):
    """Mixed precision context for the forward pass (``train.amp``: off, bf16, fp16)."""
    if amp in (None, "off", False):
        return contextlib.nullcontext()
    if amp not in ("bf16", "fp16"):
        raise ConfigError(f"train.amp must be off, bf16 or fp16, got {amp!r}")
    dtype = torch.bfloat16 if amp == "bf16" else torch.float16
    return torch.autocast(device_type=device.type, dtype=dtype)


def _train(config, run_dir, resume, progress, device, world) -> dict:
    tcfg = config["train"]
    seed = int(config.get("seed", 0))
    seed_everything(seed)
    if world.main:
        run_dir.mkdir(parents=True, exist_ok=True)
    world.barrier()
    if world.main:  # rank 0 writes the split (and generates synthetic scenes) before the others read them
        task = make_task(config, run_dir)
    world.barrier()
    if not world.main:
        task = make_task(config, run_dir)
    spec = {"name": config["model"]["name"], "args": dict(config["model"].get("args") or {})}
    spec = task.complete_spec(spec)
    model = make(spec)
    meta = task.meta()
    meta["config"] = config
    if world.main:
        save_config(config, run_dir / "config.yaml")

    if is_closed_form(model):
        return _fit_closed_form(model, spec, meta, task, run_dir, world, progress)
    if not resume:
        if tcfg.get("init_from"):
            _start_from(model, spec, Path(tcfg["init_from"]))
        # a closed-form prior is fitted once on this run's training pairs, then stored in every checkpoint
        fit_closed_form_parts(model, _training_pairs(task, progress))
    model = model.to(device)

    weight_decay = float(tcfg.get("weight_decay") or 0.0)
    optimizer_class = torch.optim.AdamW if weight_decay > 0 else torch.optim.Adam
    optimizer = optimizer_class(model.parameters(), lr=float(tcfg["lr"]), weight_decay=weight_decay)
    dataset = task.train_dataset(seed)
    batch_size = int(tcfg["batch_size"])
    batches_per_epoch = math.ceil(len(dataset) / batch_size)
    steps_per_epoch = batches_per_epoch // world.world  # every rank takes the same number of steps
    if steps_per_epoch == 0:
        raise ConfigError(
            f"{batches_per_epoch} batches per epoch for {world.world} ranks: raise data.patches_per_epoch"
        )
    total_steps = int(tcfg["steps"]) if tcfg.get("steps") else int(tcfg["epochs"]) * steps_per_epoch
    epochs = math.ceil(total_steps / steps_per_epoch)
    schedule = str(tcfg.get("schedule") or "step")
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda s: lr_factor(schedule, s, total_steps, steps_per_epoch, tcfg)
    )
    amp = tcfg.get("amp") or "off"
    scaler = torch.amp.GradScaler(device.type, enabled=amp == "fp16")
    start_epoch, best_score, step, stale = 0, -float("inf"), 0, 0
    ema = weight_average(model, float(tcfg["ema"])) if tcfg.get("ema") else None
    evaluated = ema.module if ema is not None else model  # what is validated and saved
    if resume:
        if not (run_dir / LAST).exists():
            raise ConfigError(f"{run_dir / LAST}: nothing to resume (no last checkpoint in the run folder)")
        state = read_checkpoint(run_dir / LAST)
        if state["name"] != spec["name"] or state["args"] != spec["args"]:
            raise ConfigError(f"{run_dir / LAST}: made with model {state['name']} {state['args']}, not {spec}")
        training = state["training"]
        if ema is not None:
            if "raw_weights" not in training:
                raise ConfigError(f"{run_dir / LAST}: made without train.ema; resume it without train.ema")
            model.load_state_dict(training["raw_weights"])
            ema.module.load_state_dict(state["state_dict"])
            ema.n_averaged.fill_(int(training["ema_updates"]))
        else:
            model.load_state_dict(state["state_dict"])
        optimizer.load_state_dict(training["optimizer"])
        scheduler.load_state_dict(training["scheduler"])
        _set_rng_state(training["rng"])
        start_epoch, best_score, step = training["epoch"] + 1, training["best_score"], training["step"]
        stale = int(training.get("stale", 0))
        if world.main:  # epochs run after this checkpoint was written are run again: forget their lines
            _keep_history_until(run_dir / "history.jsonl", start_epoch)
        load_task_extra_state(task, training.get("task", {}))  # e.g. INSS's discriminators and their optimiser

    train_model = model
    if tcfg.get("compile"):
        train_model = torch.compile(model)
    if world.world > 1:
        train_model = torch.nn.parallel.DistributedDataParallel(
            train_model, device_ids=[device] if device.type == "cuda" else None
        )
    discriminator_step = getattr(task, "discriminator_step", None)
    budget_s = float(tcfg["max_minutes"]) * 60 if tcfg.get("max_minutes") else None
    early_stop = int(tcfg.get("early_stop") or 0)
    val_every = int(tcfg.get("val_every", 1))
    save_every = int(tcfg.get("save_every", 1))
    started = time.monotonic()
    cpu_started = time.process_time()
    history_path = run_dir / "history.jsonl"
    # reading a loss back from a GPU waits for its queue to drain: there the losses are read (and checked) in groups
    loss_group = 1 if device.type == "cpu" else LOSS_GROUP_ON_ACCELERATORS

    def over_budget() -> bool:
        over = budget_s is not None and time.monotonic() - started >= budget_s
        if world.world > 1:  # every rank must stop at the same step
            flag = torch.tensor([float(over)], device=device)
            dist.all_reduce(flag, op=dist.ReduceOp.MAX)
            over = bool(flag.item())
        return over

    summary: dict = {"run_dir": str(run_dir), "epochs_run": 0, "stopped": "steps", "total_steps": total_steps}
    for epoch in range(start_epoch, epochs):
        if step >= total_steps:
            break
        dataset.set_epoch(epoch)
        order = torch.randperm(len(dataset), generator=torch.Generator().manual_seed(seed * 100003 + epoch))
        batches = [order[i : i + batch_size] for i in range(0, len(order), batch_size)]
        mine = batches[: steps_per_epoch * world.world][world.rank :: world.world][: total_steps - step]
        loader = DataLoader(
            dataset, batch_sampler=[b.tolist() for b in mine], num_workers=0, pin_memory=device.type == "cuda"
        )
        train_model.train()
        losses: list[float] = []
        pending: list[torch.Tensor] = []  # this group's losses, still on the device
        bar = progress_bar(
            loader,
            desc=f"epoch {epoch + 1}/{epochs} ({budget_text(total_steps, tcfg.get('max_minutes'))})",
            unit="step",
            enabled=progress,
            leave=False,
        )
        for batch in bar:
            batch = {k: v.to(device, non_blocking=True) if torch.is_tensor(v) else v for k, v in batch.items()}
            with autocast(device, amp):
                loss, _ = task.loss(train_model, batch)
            optimizer.zero_grad(set_to_none=True)
            scaler.scale(loss).backward()
            scaler.step(optimizer)
            scaler.update()
            scheduler.step()
            if ema is not None:
                update_weight_average(ema, model)
            if discriminator_step is not None:  # adversarial tasks (INSS) update their discriminators here
                discriminator_step(train_model, batch)
            step += 1
            pending.append(loss.detach())
            stop = over_budget()  # the optional wall-clock cap may end an epoch early; it is then validated and saved
            if len(pending) >= loss_group or stop:
                losses += _checked_losses(pending, epoch, step, run_dir)
                pending = []
                bar.set_postfix(loss=f"{losses[-1]:.4f}")
            if stop:
                break
        losses += _checked_losses(pending, epoch, step, run_dir)
        record = {
            "epoch": epoch + 1,
            "step": step,
            "train_loss": float(np.mean(losses)) if losses else None,
            "lr": optimizer.param_groups[0]["lr"],
            "seconds": round(time.monotonic() - started, 2),
            "cpu_seconds": round(time.process_time() - cpu_started, 2),
        }
        finished = step >= total_steps or over_budget()
        if world.main:
            if (epoch + 1) % val_every == 0 or finished:
                val = task.validate(evaluated, "val")
                record.update({f"val_{k}": v for k, v in val.items()})
                if "psnr" in val:  # best.pt: the best validation PSNR
                    if val["psnr"] > best_score:
                        best_score, stale = val["psnr"], 0
                        save_checkpoint(
                            run_dir / BEST, evaluated, spec, {**meta, "epoch": epoch + 1, "step": step, "val": val}
                        )
                    else:
                        stale += 1
                else:  # no validation scenes: best.pt is the last state
                    save_checkpoint(run_dir / BEST, evaluated, spec, {**meta, "epoch": epoch + 1, "step": step})
            training = {
                "optimizer": optimizer.state_dict(),
                "scheduler": scheduler.state_dict(),
                "rng": _rng_state(),
                "epoch": epoch,
                "step": step,
                "best_score": best_score,
                "stale": stale,
                "task": task_extra_state(task),
            }
            if ema is not None:  # last.pt's weights are the average; the raw ones continue a resumed run
                training["raw_weights"] = {k: v.detach().cpu() for k, v in model.state_dict().items()}
                training["ema_updates"] = int(ema.n_averaged)
            with history_path.open("a") as handle:  # history first: a kill before last.pt then only repeats epochs
                handle.write(json.dumps(record) + "\n")
            stopping = finished or bool(early_stop and stale >= early_stop)
            if (epoch + 1) % save_every == 0 or stopping:
                save_checkpoint(run_dir / LAST, evaluated, spec, {**meta, "epoch": epoch + 1, "step": step}, training)
            if progress:
                shown = {k: (round(v, 4) if isinstance(v, float) else v) for k, v in record.items()}
                logger.info(" ".join(f"{k}={v}" for k, v in shown.items()))
        world.barrier()
        summary.update(epochs_run=summary["epochs_run"] + 1, last=record, steps=step)
        if over_budget():
            summary["stopped"] = "time cap (train.max_minutes)"
            break
        if early_stop and _broadcast_int(stale, world, device) >= early_stop:
            summary["stopped"] = f"early stop ({early_stop} validations without improvement)"
            break
    summary["best_val_psnr"] = best_score if best_score > -float("inf") else None
    summary["seconds"] = round(time.monotonic() - started, 2)
    summary["cpu_seconds"] = round(time.process_time() - cpu_started, 2)
    return summary


def _keep_history_until(path: Path, epochs: int) -> None:
    """Drop the lines of ``history.jsonl`` after epoch ``epochs`` (rewritten atomically; nothing to do without any)."""
    if not path.exists():
        return
    lines = path.read_text().splitlines(keepends=True)
    kept = [line for line in lines if line.strip() and json.loads(line).get("epoch", 0) <= epochs]
    if len(kept) != len(lines):
        write_text_atomic(path, "".join(kept))


def _checked_losses(pending: list[torch.Tensor], epoch: int, step: int, run_dir: Path) -> list[float]:
    """The losses of the last ``len(pending)`` steps (ending at ``step``) as floats, one read from the device.

    Raises:
        TrainingError: one of them is not finite (NaN or infinite); the last checkpoint is then left as it was.
    """
    if not pending:
        return []
    values = torch.stack(pending).float().cpu().tolist()
    bad = next((i for i, value in enumerate(values) if not math.isfinite(value)), None)
    if bad is None:
        return values
    where = step - len(values) + bad + 1
    last = run_dir / LAST
    raise TrainingError(
        f"epoch {epoch + 1}, step {where}: loss is {values[bad]}; stopped. "
        + (f"The last good checkpoint is {last}" if last.exists() else "No checkpoint was written yet")
        + " (lower train.lr or check the data)"
    )


def _start_from(model: torch.nn.Module, spec: dict, path: Path) -> None:
    """Load the weights of checkpoint ``path`` (``train.init_from``) into ``model``, which must have the same spec.

    This is fine-tuning, not resuming: the optimiser, schedule and step count start afresh, and a closed-form prior
    is fitted again on the new run's training pairs afterwards (the learned parts keep what they learned).
    """
    state = read_checkpoint(path)
    if state["name"] != spec["name"] or state["args"] != spec["args"]:
        raise ConfigError(
            f"{path}: train.init_from holds model {state['name']} {state['args']}, but this run trains {spec['name']} "
            f"{spec['args']}; the two must match"
        )
    model.load_state_dict(state["state_dict"])
    logger.info("initialised from %s", path)


def _broadcast_int(value: int, world: _Distributed, device: torch.device) -> int:
    """Rank 0's ``value`` on every rank (validation runs on rank 0 only)."""
    if world.world == 1:
        return value
    tensor = torch.tensor([value], device=device)
    dist.broadcast(tensor, 0)
    return int(tensor.item())


def _training_pairs(task, progress: bool):
    """The task's training pairs for a closed-form fit, with a progress line every 5 scenes (a fit may take minutes)."""
    return progress_bar(
        task.train_pairs(), desc="closed-form fit on the training scenes", unit="scene", enabled=progress, line_every=5
    )


def _fit_closed_form(model, spec, meta, task, run_dir, world, progress: bool) -> dict:
    """Fit a closed-form model on the training pairs, validate, write ``best.pt`` = ``last.pt``."""
    started = time.monotonic()
    fit_closed_form_parts(model, _training_pairs(task, progress))
    summary = {"run_dir": str(run_dir), "epochs_run": 0, "stopped": "closed form"}
    if world.main:
        val = task.validate(model, "val")
        save_checkpoint(run_dir / BEST, model, spec, {**meta, "epoch": 0, "val": val})
        save_checkpoint(run_dir / LAST, model, spec, {**meta, "epoch": 0, "val": val})
        with (run_dir / "history.jsonl").open("a") as handle:
            handle.write(json.dumps({"epoch": 0, **{f"val_{k}": v for k, v in val.items()}}) + "\n")
        summary["best_val_psnr"] = val.get("psnr")
    summary["seconds"] = round(time.monotonic() - started, 2)
    return summary
