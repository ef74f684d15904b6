"""Why INSS loses on Jasper Ridge: measurements on the checkpoints of ``configs/inss_jasper_bench.yaml``.

Usage (after ``hsinr benchmark configs/inss_jasper_bench.yaml -o runs/inss_jasper_bench``)::

    OMP_NUM_THREADS=1 python benchmarks/inss_diagnostics.py runs/inss_jasper_bench

Prints Markdown tables and writes ``<bench>/diagnostics.json``:

1. **Library ceiling** — the best each region's true spectra can be matched by the run's spectral library alone
   (65 spectra: 64 earthlib + shade), per pixel over the valid bands: FCLS (abundances ≥ 0 summing to 1, the convex
   mixture of INSS eq. 2 with t = 1, i.e. K = 1 with perfect abundances) and NNLS (≥ 0, any sum: t as one global
   gain per pixel). No RGB is involved: this is an upper bound of what any abundance map can reach.
2. **Each checkpoint on train / val / test** — PSNR-peak1 (mean over bands of 10 log10(1 / MSE_b)), SAM (degrees)
   and the back-projection MRAE (the prediction's three picked bands vs the input RGB), over the valid bands.
3. **Abundances** (INSS) on the test region — mean per-pixel entropy (nats) of the abundance softmax, its
   exponential (the effective number of library spectra per pixel; 65 = uniform, 1 = one-hot) and the number of
   library spectra with a mean abundance above 1 %.
4. **Objective terms** (INSS) — the terms of eq. 18 on 8 training patches of the seed, each multiplied by its λ, as
   fractions of the total: which term the optimiser is mostly minimising.
5. **Curves** — training loss and validation PSNR at every validation (from ``history.jsonl``).
6. **The abundance prior alone** (INSS with ``abundance_prior``) — what its closed-form abundances give through the
   library (``softmax(log a_prior) R``, t = 1) on train / val / test: where the trained model started; and the same
   map's abundances clipped at 0 only, without the sum to one that INSS's softmax imposes (what the convex mixture
   costs).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import torch
from scipy.optimize import nnls

from hsinr.checkpoint import load_checkpoint
from hsinr.config import load_config
from hsinr.metrics import psnr, sam
from hsinr.tasks import make_task


def library_ceiling(cube: np.ndarray, library: np.ndarray, sum_to_one: bool) -> np.ndarray:
    """Per-pixel best non-negative mixture of ``library`` ``(N_g, C)`` for ``cube`` ``(H, W, C)`` → ``(H, W, C)``.

    With ``sum_to_one`` the abundances also sum to 1 (FCLS by NNLS on the system augmented with a heavily weighted
    row of ones, weight 1e3 on reflectances ~0–1).
    """
    pixels = cube.reshape(-1, cube.shape[-1]).astype(np.float64)
    matrix = library.T.astype(np.float64)
    if sum_to_one:
        matrix = np.vstack([matrix, 1e3 * np.ones((1, matrix.shape[1]))])
    out = np.empty_like(pixels)
    for i, spectrum in enumerate(pixels):
        target = np.append(spectrum, 1e3) if sum_to_one else spectrum
        weights, _ = nnls(matrix, target)
        out[i] = library.T @ weights
    return out.reshape(cube.shape)


def backprojection_mrae(pred: np.ndarray, rgb: np.ndarray, picks: np.ndarray) -> float:
    """Mean |pred[..., picks] − rgb| / max(rgb, 1e-3) over pixels and the three picked bands."""
    return float(np.mean(np.abs(pred[..., picks] - rgb) / np.maximum(rgb, 1e-3)))


def abundance_statistics(abundances: np.ndarray) -> dict:
    """Entropy statistics of ``(N_g, H, W)`` abundances (each pixel sums to 1)."""
    a = np.clip(abundances, 1e-12, 1.0)
    entropy = -(a * np.log(a)).sum(axis=0)
    return {
        "entropy_nats": float(entropy.mean()),
        "effective_spectra": float(np.exp(entropy).mean()),
        "spectra_above_1pct": int((abundances.mean(axis=(1, 2)) > 0.01).sum()),
    }


def objective_shares(task, model, seed: int) -> dict:
    """The λ-weighted terms of eq. 18 on 8 training patches, as fractions of the total."""
    dataset = task.train_dataset(seed)
    batch = {k: torch.stack([dataset[i][k] for i in range(8)]) for k in ("rgb", "cube")}
    with torch.no_grad():
        _, terms = task.objective.loss(model, batch)
    weights = {"pxl": 1.0, **task.objective.weights()}
    weighted = {k: weights[k] * v for k, v in terms.items() if k != "total"}
    return {k: v / terms["total"] for k, v in weighted.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("bench", type=Path, help="the benchmark output folder")
    args = parser.parse_args()
    torch.set_num_threads(1)
    config = load_config(args.bench / "benchmark.yaml")
    report: dict = {"ceiling": {}, "runs": {}}

    runs = sorted(p.parent for p in args.bench.glob("runs/*/seed*/best.pt"))
    task = make_task(load_config(runs[0] / "config.yaml"), runs[0])
    inss_run = next(p for p in runs if load_config(p / "config.yaml")["model"]["name"] == "inss")
    library = np.asarray(load_checkpoint(inss_run / "best.pt")[1]["spec"]["args"]["library"], dtype=np.float64)
    valid = task.valid
    for subset in ("train", "val", "test"):
        truth = task.pairs[subset].cube[..., valid]
        for name, sum_to_one in (("fcls", True), ("nnls", False)):
            fit = library_ceiling(truth, library[:, valid], sum_to_one)
            report["ceiling"][f"{subset}_{name}"] = {"psnr": psnr(truth, fit), "sam": sam(truth, fit)}

    picks = task.response.argmax(axis=1)
    for run in runs:
        model, meta = load_checkpoint(run / "best.pt")
        run_task = make_task(load_config(run / "config.yaml"), run)
        row: dict = {"best_step": meta.get("step")}
        for subset in ("train", "val", "test"):
            pair = run_task.pairs[subset]
            with torch.no_grad():
                pred = model(torch.from_numpy(pair.rgb.transpose(2, 0, 1).copy())[None])[0].numpy().transpose(1, 2, 0)
            row[subset] = {
                "psnr": psnr(pair.cube[..., valid], pred[..., valid]),
                "sam": sam(pair.cube[..., valid], pred[..., valid]),
                "backprojection_mrae": backprojection_mrae(pred, pair.rgb, picks),
            }
        if getattr(model, "abundance_prior", None) is not None:
            row["prior_alone"], row["prior_without_sum_to_one"] = {}, {}
            for subset in ("train", "val", "test"):
                pair = run_task.pairs[subset]
                rgb = torch.from_numpy(pair.rgb.transpose(2, 0, 1).copy())[None]
                with torch.no_grad():
                    convex = torch.softmax(model.prior_log_abundances(rgb), dim=1)
                    unconstrained = model.abundance_prior(rgb).clamp_min(0)
                for key, abundances in (("prior_alone", convex), ("prior_without_sum_to_one", unconstrained)):
                    pred = torch.einsum("ngyx,gb->yxb", abundances, model.library).numpy()
                    row[key][subset] = {
                        "psnr": psnr(pair.cube[..., valid], pred[..., valid]),
                        "sam": sam(pair.cube[..., valid], pred[..., valid]),
                    }
        if run_task.objective is not None:
            rgb = torch.from_numpy(run_task.pairs["test"].rgb.transpose(2, 0, 1).copy())[None]
            with torch.no_grad():
                _, abundances, t = model.forward_with_abundances(rgb)
            row["abundances"] = abundance_statistics(abundances[0].numpy())
            row["t_range"] = [float(t.detach().min()), float(t.detach().max())]
            row["objective_shares"] = objective_shares(run_task, model, int(load_config(run / "config.yaml")["seed"]))
        history = [json.loads(line) for line in (run / "history.jsonl").read_text().splitlines()]
        row["curve"] = [(h.get("step"), h.get("train_loss"), h.get("val_psnr")) for h in history]
        report["runs"][str(run.relative_to(args.bench))] = row

    (args.bench / "diagnostics.json").write_text(json.dumps(report, indent=2))
    print(f"## Library ceiling ({len(library)} spectra, {int(valid.sum())} valid bands)\n")
    print("| region | FCLS PSNR | FCLS SAM | NNLS PSNR | NNLS SAM |\n| --- | ---: | ---: | ---: | ---: |")
    for subset in ("train", "val", "test"):
        f, n = report["ceiling"][f"{subset}_fcls"], report["ceiling"][f"{subset}_nnls"]
        print(f"| {subset} | {f['psnr']:.2f} | {f['sam']:.2f} | {n['psnr']:.2f} | {n['sam']:.2f} |")
    print("\n## Checkpoints (best.pt)\n")
    print(
        "| run | best step | train PSNR | val PSNR | test PSNR | test SAM | test back-proj. MRAE | entropy (nats) | "
        "effective spectra | spectra > 1 % | objective shares |"
    )
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |")
    for name, row in report["runs"].items():
        ab = row.get("abundances") or {}
        shares = ", ".join(f"{k} {v:.2f}" for k, v in (row.get("objective_shares") or {}).items())
        print(
            f"| {name} | {row['best_step']} | {row['train']['psnr']:.2f} | {row['val']['psnr']:.2f} | "
            f"{row['test']['psnr']:.2f} | {row['test']['sam']:.2f} | {row['test']['backprojection_mrae']:.3f} | "
            f"{ab.get('entropy_nats', float('nan')):.2f} | {ab.get('effective_spectra', float('nan')):.1f} | "
            f"{ab.get('spectra_above_1pct', '')} | {shares} |"
        )
    priors = {name: row for name, row in report["runs"].items() if "prior_alone" in row}
    if priors:
        print("\n## The abundance prior alone (t = 1, no training)\n")
        print("| run | abundances | train PSNR | val PSNR | test PSNR | test SAM |")
        print("| --- | --- | ---: | ---: | ---: | ---: |")
        for name, row in priors.items():
            for key, label in (("prior_alone", "sum to one"), ("prior_without_sum_to_one", "≥ 0 only")):
                prior = row[key]
                print(
                    f"| {name} | {label} | {prior['train']['psnr']:.2f} | {prior['val']['psnr']:.2f} | "
                    f"{prior['test']['psnr']:.2f} | {prior['test']['sam']:.2f} |"
                )
    print("\n## Curves (step, training loss, validation PSNR)\n")
    for name, row in report["runs"].items():
        points = "; ".join(f"{s}: {loss:.4f} / {v:.2f}" for s, loss, v in row["curve"] if loss is not None)
        print(f"- {name}: {points or 'closed form'}")
    print(f"\n(config: {config.get('name')}; written {args.bench / 'diagnostics.json'})")


if __name__ == "__main__":
    main()
