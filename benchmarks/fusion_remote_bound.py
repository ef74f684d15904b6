"""How much could a detail calibration learned on one half of a remote-sensing cube gain on its other half?

Usage::

    python benchmarks/fusion_remote_bound.py [--out FILE.json]

For Samson, Jasper Ridge and Urban under the protocol of ``configs/fusion_remote{,_jasper,_urban}.yaml`` (×4,
Landsat 8 OLI band averages as the HR-MSI, each cube cut into two halves of its columns, each half tested once with
the other as training data), the local regression fusion (root-polynomial degree 2 in 32-px windows, INF³'s prior
there) is corrected by the detail calibration of :class:`hsinr.models.detail_calibration.DetailCalibration`
(3×3 own-band filter, the whole-image and 16-px fits blended in) in two forms:

* **own band** (``cross_bands=False``, the configs' setting: 11 numbers per band) and
* **cross band** (also a weight on every other band's detail: 155–207 numbers per band),

each fitted twice: on the *other* half (what a method trained there can do) and on the *test half itself* (an
oracle: it sees the answer, so it bounds what that form of calibration could gain with training data like the test
image). The cross-band form fitted on the other half is repeated with ridges from 1e-8 to 1 (relative to the mean
diagonal of the normal equations, shrinking towards the uncalibrated fusion); the best ridge is picked with
hindsight on the test halves, so that row is optimistic.

Also written: a noise floor per cube (each band regressed on all the other bands over the whole cube, the
residual's variance taken as the band's noise variance, as in HySime's noise estimation, Bioucas-Dias & Nascimento
2008), as the PSNR a prediction of the noise-free cube would score against the noisy truth. Prints a table; about a
minute on one core.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_OUT = ROOT / "benchmarks" / "results" / "cpu" / "fusion_remote_bound.json"
CONFIGS = {
    "Samson": "configs/fusion_remote.yaml",
    "Jasper Ridge": "configs/fusion_remote_jasper.yaml",
    "Urban": "configs/fusion_remote_urban.yaml",
}
WINDOW, DEGREE, KERNEL, BLEND = 32, 2, 3, [0, 16]  # the configs' calibrated INF³ prior
RIDGES = [1e-8, 1e-4, 1e-2, 1.0]


def noise_floor_psnr(cube: np.ndarray) -> float:
    """Mean over bands of ``10 log10(1 / σ_b²)``, σ_b² the variance of band b's residual after least squares on all
    the other bands and a constant over every pixel (corrected for the fitted degrees of freedom)."""
    pixels = cube.reshape(-1, cube.shape[-1]).astype(np.float64)
    count, bands = pixels.shape
    psnrs = []
    for band in range(bands):
        design = np.c_[np.delete(pixels, band, axis=1), np.ones(count)]
        coefficients, *_ = np.linalg.lstsq(design, pixels[:, band], rcond=None)
        residual = pixels[:, band] - design @ coefficients
        variance = float(residual @ residual) / (count - design.shape[1])
        psnrs.append(10.0 * np.log10(1.0 / max(variance, 1e-20)))
    return float(np.mean(psnrs))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="JSON file for the results")
    args = parser.parse_args(argv)

    from hsinr.config import load_config
    from hsinr.data.fusion import FusionFullDataset
    from hsinr.metrics import psnr, sam
    from hsinr.models.calibrated_fusion import calibrated_regression, fit_calibration, to_batch
    from hsinr.models.detail_calibration import DetailCalibration
    from hsinr.tasks import make_task
    from hsinr.tasks.fusion import channels_last_arrays

    torch.set_num_threads(1)
    results = {}
    for cube_name, config_path in CONFIGS.items():
        config = load_config(ROOT / config_path)
        config["model"] = config["methods"][0]["model"]  # the data section is all that is used; bands must agree
        with tempfile.TemporaryDirectory() as scratch:
            task = make_task(config, Path(scratch))
        names = task.scenes.names  # the two halves
        pairs = {}
        for name in names:
            item = FusionFullDataset([task.scenes.cube(name)], task.response, task.scale, [name])[0]
            pairs[name] = channels_last_arrays(item)  # (lr_hsi, hr_msi, cube)
        bands = pairs[names[0]][2].shape[2]

        def calibrated(
            fit_on: str, test: str, cross: bool, ridge: float, pairs=pairs, bands=bands, scale=task.scale
        ) -> np.ndarray:
            calibration = DetailCalibration(bands, KERNEL, 1 + len(BLEND), cross, ridge)
            lr, msi, cube = pairs[fit_on]
            fit_calibration(calibration, [((lr, msi), cube)], scale, DEGREE, WINDOW, BLEND)
            lr, msi, _ = pairs[test]
            out = calibrated_regression(calibration, to_batch(lr), to_batch(msi), scale, DEGREE, WINDOW, BLEND)
            return out[0].numpy().transpose(1, 2, 0)

        rows: dict[str, list[tuple[float, float]]] = {}

        def score(label: str, test: str, prediction: np.ndarray, rows=rows, pairs=pairs) -> None:
            truth = pairs[test][2]
            rows.setdefault(label, []).append((psnr(truth, prediction), sam(truth, prediction)))

        for test in names:
            other = next(name for name in names if name != test)
            lr, msi, _ = pairs[test]
            local = calibrated_regression(None, to_batch(lr), to_batch(msi), task.scale, DEGREE, WINDOW, [])
            score("local regression fusion (training-free)", test, local[0].numpy().transpose(1, 2, 0))
            score("own band, fitted on the other half", test, calibrated(other, test, False, 1e-8))
            score("own band, fitted on the test half (oracle)", test, calibrated(test, test, False, 1e-8))
            score("cross band, fitted on the test half (oracle)", test, calibrated(test, test, True, 1e-8))
            for ridge in RIDGES:
                score(
                    f"cross band, ridge {ridge:g}, fitted on the other half", test, calibrated(other, test, True, ridge)
                )
        table = {
            label: {"psnr": float(np.mean([r[0] for r in runs])), "sam": float(np.mean([r[1] for r in runs]))}
            for label, runs in rows.items()
        }
        whole = np.concatenate([task.scenes.cube(name) for name in names], axis=1)
        results[cube_name] = {
            "config": config_path,
            "halves": names,
            "bands": bands,
            "mean_of_both_folds": table,
            "noise_floor_psnr": noise_floor_psnr(whole),
        }
        base = table["local regression fusion (training-free)"]["psnr"]
        print(f"\n{cube_name} ({bands} bands; noise floor {results[cube_name]['noise_floor_psnr']:.2f} dB)")
        for label, value in table.items():
            print(f"  {label:<55s} {value['psnr']:6.2f} dB ({value['psnr'] - base:+.2f})  SAM {value['sam']:.2f}°")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2) + "\n")
    print(f"\nwrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
