"""Can a network learn, from the RGB image, which training scenes' least-squares maps to borrow from?

Usage::

    python benchmarks/scene_expert_gate.py [--config configs/recipe_seeds.yaml] [--steps 2000] [--seed 0]
                                           [--out FILE.json]

``benchmarks/scene_fit_bound.py`` showed that the best per-test-scene blend of the training scenes' own root-polynomial
maps (weights fitted on the test scene's truth: an oracle) gains +2.2 dB over the map fitted on all training scenes
together. This script learns such a blend without the oracle: each of the ``K`` training scenes gets its own
degree-2 map ``W_k`` (6 × 31, :mod:`hsinr.models.least_squares`), the pooled map ``W_0`` is the ``K + 1``-th expert,
and a small convolutional gate (six 3 × 3 layers of width 32, dilations 1–16, a receptive field of 63 px) reads the
image's chromaticity and log brightness and gives every pixel softmax weights over the experts:

    ŷ(p) = Σ_k w_k(p) · φ(x(p)) W_k,    w(p) = softmax(gate(x)(p)),   φ = the root-polynomial expansion.

A training patch of scene ``s`` must not see ``W_s`` (it was fitted on the patch's own pixels and would always win):
its own expert is masked out and the pooled expert is refitted without it. Training: Adam (AdamW, weight decay 1e-4),
one-cycle lr 1e-3, ``--steps`` steps of batch 8 random 64-px patches of the training scenes with flips and transposes,
the PSNR loss of the recipe (mean over patches and bands of ``10 log10(MSE + 1e-5)``); the gate's last layer starts
at zero (a uniform blend). Evaluation: whole validation and test images of the config's split, PSNR (peak 1, mean
over bands) and SAM, against the pooled map alone. One thread; ~13 minutes for 2,000 steps on a 2-core CPU.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

import numpy as np
import torch
import torch.nn as nn

PATCH = 64
BATCH = 8


class ExpertGate(nn.Module):
    """``(N, 3, H, W)`` linear RGB → ``(N, experts, H, W)`` logits (zero at the start: a uniform blend)."""

    def __init__(self, experts: int, width: int = 32) -> None:
        super().__init__()
        layers: list[nn.Module] = [nn.Conv2d(4, width, 3, padding=1), nn.GELU()]
        for dilation in (1, 2, 4, 8, 16):
            layers += [nn.Conv2d(width, width, 3, padding=dilation, dilation=dilation, padding_mode="reflect")]
            layers += [nn.GELU()]
        layers.append(nn.Conv2d(width, experts, 1))
        self.net = nn.Sequential(*layers)
        nn.init.zeros_(self.net[-1].weight)
        nn.init.zeros_(self.net[-1].bias)

    def forward(self, rgb: torch.Tensor) -> torch.Tensor:
        brightness = rgb.mean(1, keepdim=True).clamp_min(1e-4)
        return self.net(torch.cat([rgb / brightness / 3, torch.log(brightness) / 5], 1))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", default="configs/recipe_seeds.yaml", help="a benchmark config (its data section)")
    parser.add_argument("--steps", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, help="JSON file for the results (default: print only)")
    args = parser.parse_args(argv)

    from hsinr.config import load_config
    from hsinr.data.patches import dihedral
    from hsinr.metrics import evaluate_all
    from hsinr.models.least_squares import RootPolynomialLeastSquares

    torch.manual_seed(args.seed)
    torch.set_num_threads(1)
    rng = np.random.default_rng(args.seed)
    with tempfile.TemporaryDirectory() as scratch:  # the task writes its split.json there
        from hsinr.tasks import make_task

        task = make_task(load_config(args.config), Path(scratch))
        pairs = {part: task.scenes.pairs(task.split[part]) for part in ("train", "val", "test")}
    train = pairs["train"]
    expansion = RootPolynomialLeastSquares(31, 2)
    own = [expansion.normal_equations(p.rgb.reshape(-1, 3), p.cube.reshape(-1, 31)) for p in train]
    pixels = [p.rgb.shape[0] * p.rgb.shape[1] for p in train]

    def solve(xtx: np.ndarray, xty: np.ndarray, count: int) -> torch.Tensor:
        gram = xtx / count + 1e-6 * np.eye(expansion.terms)
        return torch.from_numpy(np.linalg.lstsq(gram, xty / count, rcond=None)[0]).float()

    total_xtx, total_xty = sum(e[0] for e in own), sum(e[1] for e in own)
    scene_maps = torch.stack([solve(*e, n) for e, n in zip(own, pixels, strict=True)])
    pooled = solve(total_xtx, total_xty, sum(pixels))
    experts = len(train) + 1

    def experts_for(scene: int | None) -> tuple[torch.Tensor, torch.Tensor]:
        """The ``(experts, 6, 31)`` maps and the mask of the one a patch of training scene ``scene`` may not use."""
        maps, mask = torch.cat([scene_maps, pooled[None]]), torch.zeros(experts, dtype=torch.bool)
        if scene is not None:
            mask[scene] = True
            xtx, xty = total_xtx - own[scene][0], total_xty - own[scene][1]
            maps[-1] = solve(xtx, xty, sum(pixels) - pixels[scene])
        return maps, mask

    def blend(gate: nn.Module, rgb: torch.Tensor, maps: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        features = expansion.expand(rgb.permute(0, 2, 3, 1))  # (N, H, W, 6)
        predictions = torch.einsum("nhwt,ktc->nkchw", features, maps)
        weights = gate(rgb).masked_fill(mask[None, :, None, None], float("-inf")).softmax(1)
        return torch.einsum("nkhw,nkchw->nchw", weights, predictions)

    def as_tensor(image: np.ndarray) -> torch.Tensor:
        return torch.from_numpy(np.ascontiguousarray(image.transpose(2, 0, 1)))[None].float()

    def scores(gate: nn.Module | None, part: str) -> list[dict]:
        maps, mask = experts_for(None)
        rows = []
        with torch.no_grad():
            for pair in pairs[part]:
                rgb = as_tensor(pair.rgb)
                if gate is None:  # the pooled map alone: root-poly least squares of Table I
                    out = torch.einsum("nhwt,tc->nchw", expansion.expand(rgb.permute(0, 2, 3, 1)), pooled)
                else:
                    out = blend(gate, rgb, maps, mask)
                rows.append(evaluate_all(pair.cube, out[0].numpy().transpose(1, 2, 0)))
        return rows

    gate = ExpertGate(experts)
    optimiser = torch.optim.AdamW(gate.parameters(), 1e-3, weight_decay=1e-4)
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimiser, 1e-3, total_steps=args.steps, pct_start=0.05)
    expert_cache = [experts_for(k) for k in range(len(train))]
    history = []
    for step in range(1, args.steps + 1):
        loss = torch.zeros(())
        for _ in range(BATCH):
            scene = int(rng.integers(len(train)))
            top, left = rng.integers(0, np.array(train[scene].rgb.shape[:2]) - PATCH + 1)
            op = int(rng.integers(8))
            rgb = dihedral(train[scene].rgb[top : top + PATCH, left : left + PATCH], op)
            cube = dihedral(train[scene].cube[top : top + PATCH, left : left + PATCH], op)
            prediction = blend(gate, as_tensor(rgb), *expert_cache[scene])
            mse = ((prediction - as_tensor(cube)) ** 2).mean((0, 2, 3))
            loss = loss + 10 * torch.log10(mse + 1e-5).mean() / BATCH
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
        schedule.step()
        if step % 500 == 0 or step == args.steps:
            val = float(np.mean([s["psnr"] for s in scores(gate, "val")]))
            history.append({"step": step, "loss": loss.item(), "val_psnr": val})
            print(f"step {step}: loss {loss.item():.3f}, validation {val:.3f} dB", flush=True)

    result: dict = {"config": args.config, "steps": args.steps, "seed": args.seed, "history": history}
    for part in ("val", "test"):
        result[part] = {"scenes": [pair.name for pair in pairs[part]]}
        for label, model in (("pooled_least_squares", None), ("expert_gate", gate)):
            rows = scores(model, part)
            result[part][label] = {
                "psnr": float(np.mean([s["psnr"] for s in rows])),
                "sam": float(np.mean([s["sam"] for s in rows])),
                "psnr_per_scene": [round(float(s["psnr"]), 3) for s in rows],
            }
            print(f"{part}, {label}: {result[part][label]['psnr']:.3f} dB, SAM {result[part][label]['sam']:.2f}")
    if args.out:
        args.out.write_text(json.dumps(result, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
