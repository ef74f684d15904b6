"""The one training loop every model of the project uses (single process, or data-parallel with ``torchrun``).

Recipe of the INR-HSISR paper by default (Sec. III-D, IV-C): L1 loss, Adam, lr 1e-4 decayed ×0.1 every 200 epochs,
1000 epochs of random 64×64 patches. Per epoch: a progress bar, validation on whole images, ``last.pt`` (with the
optimiser, scheduler and RNG states) and ``best.pt`` written atomically, and one line of ``history.jsonl``.

* ``resume=True`` continues from ``last.pt`` exactly: the patches of an epoch depend only on (seed, epoch), and the
  optimiser, scheduler and RNG states are restored, so the next step's loss equals the uninterrupted run's.
* A NaN/Inf loss stops the run with :class:`~hsinr.errors.TrainingError`; checkpoints are only written after a
  finished epoch, so the last good one stays.
* ``train.max_minutes`` is a wall-clock budget, checked after every step: the epoch in progress then ends early and
  is validated and saved like a full one (a resumed run starts at the next epoch).
* Closed-form models (``closed_form = True``: least squares, training-free recovery) are fitted in one pass instead.
* Data parallel: launched with ``torchrun --nproc_per_node K hsinr train ...`` each rank trains on every K-th batch
  of the epoch (gloo on CPU, NCCL on CUDA), gradients are averaged by DDP, and rank 0 validates and writes.
"""

from __future__ import annotations

import json
import os
import random
import time
from pathlib import Path

import numpy as np
import torch
import torch.distributed as dist
from torch.utils.data import DataLoader
from tqdm.auto import tqdm

from .checkpoint import read_checkpoint, save_checkpoint
from .config import save_config
from .errors import ConfigError, TrainingError
from .models import make
from .tasks import make_task

LAST, BEST = "last.pt", "best.pt"


def pick_device(name: str = "auto") -> torch.device:
    """``"auto"`` → the CUDA device when available (the local rank's under torchrun), else the CPU."""
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    if name == "cuda" and "LOCAL_RANK" in os.environ:
        name = f"cuda:{int(os.environ['LOCAL_RANK'])}"
    return torch.device(name)


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def _rng_state() -> dict:
    return {"python": random.getstate(), "numpy": np.random.get_state(), "torch": torch.get_rng_state()}


def _set_rng_state(state: dict) -> None:
    random.setstate(state["python"])
    np.random.set_state(state["numpy"])
    torch.set_rng_state(state["torch"])


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

    def close(self) -> None:
        if self.world > 1 and dist.is_initialized():
            dist.destroy_process_group()


def train(config: dict, run_dir: str | Path, resume: bool = False, progress: bool = True) -> dict:
    """Train ``config["model"]`` on ``config["data"]`` into ``run_dir``; returns a summary dict.

    Args:
        config: the resolved configuration (see :mod:`hsinr.config`).
        run_dir: output folder: ``config.yaml``, ``split.json``, ``last.pt``, ``best.pt``, ``history.jsonl``.
        resume: continue from ``run_dir/last.pt``.
        progress: show progress bars.
    """
    run_dir = Path(run_dir)
    tcfg = config["train"]
    device = pick_device(tcfg.get("device", "auto"))
    if tcfg.get("threads"):
        torch.set_num_threads(int(tcfg["threads"]))
    world = _Distributed(device)
    try:
        return _train(config, run_dir, resume, progress and world.main, device, world)
    finally:
        world.close()


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
    spec = complete_spec({"name": config["model"]["name"], "args": dict(config["model"].get("args") or {})}, task)
    model = make(spec).to(device)
    meta = task.meta()
    meta["config"] = config
    if world.main:
        save_config(config, run_dir / "config.yaml")

    if getattr(model, "closed_form", False):
        return _fit_closed_form(model, spec, meta, task, run_dir, world)

    optimizer = torch.optim.Adam(model.parameters(), lr=float(tcfg["lr"]))
    scheduler = torch.optim.lr_scheduler.StepLR(optimizer, int(tcfg["lr_step"]), float(tcfg["lr_gamma"]))
    start_epoch, best_score, step = 0, -float("inf"), 0
    if resume:
        if not (run_dir / LAST).exists():
            raise ConfigError(f"{run_dir / LAST}: nothing to resume (no last checkpoint in the run folder)")
        state = read_checkpoint(run_dir / LAST)
        if state["name"] != spec["name"] or state["args"] != spec["args"]:
            raise ConfigError(f"{run_dir / LAST}: made with model {state['name']} {state['args']}, not {spec}")
        model.load_state_dict(state["state_dict"])
        training = state["training"]
        optimizer.load_state_dict(training["optimizer"])
        scheduler.load_state_dict(training["scheduler"])
        _set_rng_state(training["rng"])
        start_epoch, best_score, step = training["epoch"] + 1, training["best_score"], training["step"]

    train_model = model
    if world.world > 1:
        train_model = torch.nn.parallel.DistributedDataParallel(model, device_ids=[device] if device.type == "cuda" else None)
    dataset = task.train_dataset(seed)
    discriminator_step = getattr(task, "discriminator_step", None)
    batch_size = int(tcfg["batch_size"])
    epochs = int(tcfg["epochs"])
    budget_s = float(tcfg["max_minutes"]) * 60 if tcfg.get("max_minutes") else None
    started = time.monotonic()
    history_path = run_dir / "history.jsonl"

    def over_budget() -> bool:
        over = budget_s is not None and time.monotonic() - started >= budget_s
        if world.world > 1:  # every rank must stop at the same step
            flag = torch.tensor([float(over)], device=device)
            dist.all_reduce(flag, op=dist.ReduceOp.MAX)
            over = bool(flag.item())
        return over
    summary: dict = {"run_dir": str(run_dir), "epochs_run": 0, "stopped": "epochs"}

    for epoch in range(start_epoch, epochs):
        dataset.set_epoch(epoch)
        order = torch.randperm(len(dataset), generator=torch.Generator().manual_seed(seed * 100003 + epoch))
        batches = [order[i : i + batch_size] for i in range(0, len(order), batch_size)]
        usable = len(batches) - len(batches) % world.world  # every rank must take the same number of steps
        if usable == 0:
            raise ConfigError(f"{len(batches)} batches per epoch for {world.world} ranks: raise data.patches_per_epoch")
        mine = batches[:usable][world.rank :: world.world]
        loader = DataLoader(dataset, batch_sampler=[b.tolist() for b in mine], num_workers=0)
        train_model.train()
        losses = []
        bar = tqdm(loader, desc=f"epoch {epoch + 1}/{epochs}", unit="batch", disable=not progress, leave=False)
        for batch in bar:
            batch = {k: v.to(device) if torch.is_tensor(v) else v for k, v in batch.items()}
            loss, _ = task.loss(train_model, batch)
            if not torch.isfinite(loss):
                raise TrainingError(
                    f"epoch {epoch + 1}, step {step + 1}: loss is {float(loss.detach())}; stopped. "
                    f"The last good checkpoint is {run_dir / LAST} (lower train.lr or check the data)"
                )
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            if discriminator_step is not None:  # adversarial tasks (INSS) update their discriminators here
                discriminator_step(train_model, batch)
            step += 1
            losses.append(float(loss.detach()))
            bar.set_postfix(loss=f"{losses[-1]:.4f}")
            if over_budget():  # the wall-clock budget may end an epoch early; it is then validated and saved
                break
        scheduler.step()
        record = {"epoch": epoch + 1, "step": step, "train_loss": float(np.mean(losses)) if losses else None,
                  "lr": optimizer.param_groups[0]["lr"], "seconds": round(time.monotonic() - started, 2)}
        if world.main:
            val_every = int(tcfg.get("val_every", 1))
            if (epoch + 1) % val_every == 0 or epoch + 1 == epochs:
                val = task.validate(model, "val")
                record.update({f"val_{k}": v for k, v in val.items()})
                score = val.get("psnr", -record["train_loss"] if record["train_loss"] is not None else 0.0)
                if score > best_score:
                    best_score = score
                    save_checkpoint(run_dir / BEST, model, spec, {**meta, "epoch": epoch + 1, "val": val})
            training = {"optimizer": optimizer.state_dict(), "scheduler": scheduler.state_dict(), "rng": _rng_state(),
                        "epoch": epoch, "step": step, "best_score": best_score}
            save_checkpoint(run_dir / LAST, model, spec, {**meta, "epoch": epoch + 1}, training)
            with history_path.open("a") as handle:
                handle.write(json.dumps(record) + "\n")
            if progress:
                shown = {k: (round(v, 4) if isinstance(v, float) else v) for k, v in record.items()}
                tqdm.write(" ".join(f"{k}={v}" for k, v in shown.items()))
        world.barrier()
        summary.update(epochs_run=summary["epochs_run"] + 1, last=record)
        if over_budget():
            summary["stopped"] = "time budget"
            break
    summary["best_val_psnr"] = best_score if best_score > -float("inf") else None
    summary["seconds"] = round(time.monotonic() - started, 2)
    return summary


def complete_spec(spec: dict, task) -> dict:
    """Fill the builder arguments ``srf`` and ``wavelengths`` from the task's camera response when the model takes
    them and the config leaves them out (the training-free colour-science recoveries), so the checkpoint's spec
    holds them and stays self-describing."""
    import inspect

    from .models.registry import builder

    wanted = inspect.signature(builder(spec["name"])).parameters
    srf = getattr(task, "srf_array", lambda: None)()
    if srf is None:
        return spec
    args = dict(spec["args"])
    if "srf" in wanted and "srf" not in args:
        args["srf"] = np.asarray(srf).tolist()
    if "wavelengths" in wanted and "wavelengths" not in args:
        args["wavelengths"] = np.asarray(task.wavelengths).tolist()
    return {"name": spec["name"], "args": args}


def _fit_closed_form(model, spec, meta, task, run_dir, world) -> dict:
    """Fit a closed-form model (least squares) on the training pairs, validate, write ``best.pt`` = ``last.pt``."""
    started = time.monotonic()
    from .models.least_squares import fit_from_pairs

    if getattr(model, "fits_data", True):  # training-free methods (bicubic, colour-science recovery) fit nothing
        fit_from_pairs(model, task.train_pairs())
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
