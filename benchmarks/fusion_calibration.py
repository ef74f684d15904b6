"""Per-band detail calibration of local regression fusion, fitted on training scenes: its size and the fusions it
blends, chosen on validation.

Usage::

    python benchmarks/fusion_calibration.py [--root ../shared/data/cave_256] [--scale 4] [--out FILE.json]

On the seeded 60/20/20 split of the CAVE scenes (the split of ``configs/fusion_cave_bench.yaml``), each scene's
(LR-HSI, HR-MSI) pair is simulated with the protocol (Nikon D700 response) and fused by local regression fusion
(64-px windows every 16 px, the window chosen in ``benchmarks/fusion_windows.py``). For each kernel size ``K`` the
detail calibration (:class:`hsinr.models.detail_calibration.DetailCalibration`) is fitted on the 16 training scenes
and applied to the validation scenes, which choose ``K``, and to the test scenes. The fusion is computed once per scene
by the function of ``inf3``'s regression prior (:func:`hsinr.models.calibrated_fusion.regression_fit`, ``prior_window:
64``) and calibrated as its skip does, so each row is what ``calibrated_regression_fusion`` and an untrained ``inf3``
with ``calibration: K`` output (its decoder starts at zero). With the chosen ``K``,
the calibration then also blends in the detail of the regression fused once per image (window ``0``) and in smaller or
larger windows (``calibration_windows``); the validation scenes choose among those sets too.

It also writes, per test scene and band, the PSNR of bicubic upsampling, of the fusion and of the chosen calibrated
fusion, and how much sharper the fusion is than the truth (:func:`sharpness` ratio). Training-free apart from the
least-squares fit; about 15 minutes on one core (four regression fits of each of the 26 scenes).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import torch

from cave_fusion_protocol import ROOT, argument_parser, seeded_split, simulated_pairs  # benchmarks/, beside this script

DEFAULT_OUT = ROOT / "benchmarks" / "results" / "cpu" / "fusion_calibration.json"
KERNELS = [1, 3, 5, 7]
WINDOW = 64  # local regression fusion: 64-px windows every 16 px (benchmarks/fusion_windows.py)
DEGREE = 2  # root-polynomial degree of the regression (INF³'s prior_degree default)
BLENDS = [[0], [32], [0, 32], [0, 32, 128]]  # calibration_windows tried with the chosen kernel


def sharpness(image: np.ndarray) -> np.ndarray:
    """``(C,)`` mean squared difference between neighbouring pixels (both axes) over the variance, per band."""
    image = image.astype(np.float64)
    gradient = np.mean(np.diff(image, axis=0) ** 2, axis=(0, 1)) + np.mean(np.diff(image, axis=1) ** 2, axis=(0, 1))
    return gradient / np.maximum(image.var(axis=(0, 1)), 1e-30)


def main(argv: list[str] | None = None) -> int:
    args = argument_parser(__doc__.splitlines()[0], DEFAULT_OUT).parse_args(argv)

    from hsinr.io.atomic import write_text_atomic
    from hsinr.metrics import band_psnr, psnr, sam
    from hsinr.models.calibrated_fusion import regression_fit, to_batch
    from hsinr.models.detail_calibration import DetailCalibration
    from hsinr.spectral.degradation import upsample_bicubic

    torch.set_num_threads(1)
    split = seeded_split(args)
    names = split["train"] + split["val"] + split["test"]
    pairs = {name: (pair, cube) for name, pair, cube in simulated_pairs(args, names)}

    windows = sorted({window for blend in BLENDS for window in blend})
    upsampled, fused = {}, {}  # (1, C, H, W) per scene and window (None = the prior's), computed once
    for name, ((lr, msi), _) in pairs.items():
        upsampled[name] = upsample_bicubic(to_batch(lr), args.scale)
        fused[name] = {
            w: regression_fit(to_batch(lr), to_batch(msi), args.scale, DEGREE, WINDOW if w is None else w)
            for w in [None, *windows]
        }

    def calibration(kernel: int, blend: list[int]) -> DetailCalibration:
        fitted = DetailCalibration(fused[split["train"][0]][None].shape[1], kernel, 1 + len(blend))
        sources = {n: [fused[n][w] for w in [None, *blend]] for n in split["train"]}
        fitted.fit((upsampled[n], sources[n], to_batch(pairs[n][1])) for n in split["train"])
        return fitted

    def predict(name: str, kernel: int = 0, blend: tuple[int, ...] = ()) -> np.ndarray:
        with torch.no_grad():
            sources = [fused[name][w] for w in [None, *blend]]
            out = calibrations[kernel, blend](upsampled[name], *sources) if kernel else sources[0]
        return out[0].numpy().transpose(1, 2, 0)

    rows: dict[str, dict[str, float]] = {}

    def score(label: str, kernel: int = 0, blend: tuple[int, ...] = ()) -> None:
        row = {}
        for subset in ("val", "test"):
            scores = []
            for name in split[subset]:
                cube, pred = pairs[name][1], predict(name, kernel, blend)
                scores.append((psnr(cube, pred), sam(cube, pred)))
            row[f"{subset}_psnr"], row[f"{subset}_sam"] = (float(v) for v in np.mean(scores, axis=0))
        rows[label] = row
        print(f"{label}: " + ", ".join(f"{k} {v:.3f}" for k, v in row.items()), flush=True)

    calibrations = {(kernel, ()): calibration(kernel, []) for kernel in KERNELS}
    score("uncalibrated")
    for kernel in KERNELS:
        score(f"kernel {kernel}", kernel)
    chosen = max(KERNELS, key=lambda k: rows[f"kernel {k}"]["val_psnr"])
    for blend in BLENDS:
        calibrations[chosen, tuple(blend)] = calibration(chosen, blend)
        score(f"kernel {chosen} + windows {blend}", chosen, tuple(blend))
    best_blend = max(BLENDS, key=lambda b: rows[f"kernel {chosen} + windows {b}"]["val_psnr"])
    if rows[f"kernel {chosen} + windows {best_blend}"]["val_psnr"] <= rows[f"kernel {chosen}"]["val_psnr"]:
        best_blend = []
    # Per test scene and band: PSNR of bicubic, of the fusion and of the calibrated fusion, and how sharp the
    # fusion is against the truth (gradient energy relative to variance, fused / truth).
    per_scene: dict[str, dict[str, list[float]]] = {}
    for name in split["test"]:
        cube = pairs[name][1]
        uncalibrated, calibrated = predict(name), predict(name, chosen, tuple(best_blend))
        bicubic = upsampled[name][0].numpy().transpose(1, 2, 0)
        per_scene[name] = {
            "bicubic_psnr": band_psnr(cube, bicubic).tolist(),
            "uncalibrated_psnr": band_psnr(cube, uncalibrated).tolist(),
            "calibrated_psnr": band_psnr(cube, calibrated).tolist(),
            "uncalibrated_sharpness_ratio": (sharpness(uncalibrated) / sharpness(cube)).tolist(),
        }
    result = {
        "split": split,
        "scale": args.scale,
        "response": args.response,
        "window": [WINDOW, WINDOW // 4],
        "rows": rows,
        "chosen_kernel": chosen,
        "chosen_windows": best_blend,
        "test_band_psnr": {
            key: np.mean([scene[key] for scene in per_scene.values()], axis=0).tolist()
            for key in ("bicubic_psnr", "uncalibrated_psnr", "calibrated_psnr")
        },
        "test_per_scene": per_scene,
    }
    print(f"chosen on validation: kernel {chosen}, windows {best_blend}")
    write_text_atomic(Path(args.out), json.dumps(result, indent=1))
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
