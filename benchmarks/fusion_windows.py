"""Choosing the window of local regression fusion, and how much of its error its two inputs can still explain.

Usage::

    python benchmarks/fusion_windows.py [--root ../shared/data/cave_256] [--scale 4] [--out FILE.json]

On the seeded 60/20/20 split of the CAVE scenes (``make_split(ratios=(0.6, 0.2, 0.2), seed=0)``: the split of
``configs/fusion_cave_bench.yaml``), each scene's (LR-HSI, HR-MSI) pair is simulated with the protocol
(:func:`hsinr.spectral.degradation.simulate_pair`, Nikon D700 response) and fused by regression fusion, once per
image and in windows of several sizes and strides (:func:`hsinr.models.classical_fusion.local_regression_fusion`).
It prints and writes the mean PSNR (peak 1, mean over bands) and SAM (degrees) over the validation scenes, which
choose the window, and over the test scenes, which are reported for the chosen one only in ``docs/fusion.md``.

For the chosen window (``CHOSEN``) it also writes, per scene, how far the fusion is from agreeing with its inputs:
the RMSE of ``P·x̂ − msi`` (``P`` the response) and of ``D(x̂) − lr`` (``D`` the protocol's blur and decimation), and
the PSNR after 30 rounds of back-projection onto both (``x ← x + U(lr − D x)``, then ``x ← x + P⁺(msi − P x)``, ``U``
the bicubic upsampling, ``P⁺`` the pseudo-inverse). Error that back-projection cannot remove lies in the null space
of both degradations: only a prior learned across scenes can reduce it. Training-free: about two minutes on one core.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import torch

from cave_fusion_protocol import ROOT, argument_parser, seeded_split, simulated_pairs  # benchmarks/, beside this script

DEFAULT_OUT = ROOT / "benchmarks" / "results" / "cpu" / "fusion_windows.json"
#: (window, stride) in HR pixels; None = one map per image.
CANDIDATES = [None, (128, 64), (64, 32), (64, 16), (48, 24), (32, 16)]
CHOSEN = (64, 16)  # the window chosen on the validation scenes (docs/fusion.md)
BACK_PROJECTION_ROUNDS = 30


def input_consistency(fused, lr, msi, srf, scale: int) -> dict[str, float]:
    """RMSE of the fusion's MSI and LR renderings against the inputs, and the fusion after back-projection onto both.

    ``fused`` ``(1, C, H, W)``, ``lr`` ``(1, C, H/r, W/r)``, ``msi`` ``(1, M, H, W)`` tensors (computed in float64),
    ``srf`` ``(M, C)``. Returns ``{"msi_rmse", "lr_rmse", "back_projected"}`` (the last an ``(H, W, C)`` array).
    """
    from hsinr.spectral.degradation import blur_downsample, upsample_bicubic

    fused, lr, msi = fused.double(), lr.double(), msi.double()

    response = torch.from_numpy(np.asarray(srf, dtype=np.float64))
    inverse = torch.linalg.pinv(response)

    def render(x):
        return torch.einsum("mc,nchw->nmhw", response, x)

    result = {
        "msi_rmse": float((render(fused) - msi).square().mean().sqrt()),
        "lr_rmse": float((blur_downsample(fused, scale) - lr).square().mean().sqrt()),
    }
    x = fused.clone()
    for _ in range(BACK_PROJECTION_ROUNDS):
        x = x + upsample_bicubic(lr - blur_downsample(x, scale), scale)
        x = x + torch.einsum("cm,nmhw->nchw", inverse, msi - render(x))
    return result | {"back_projected": x[0].numpy().transpose(1, 2, 0)}


def main(argv: list[str] | None = None) -> int:
    args = argument_parser(__doc__.splitlines()[0], DEFAULT_OUT).parse_args(argv)

    from hsinr.io.atomic import write_text_atomic
    from hsinr.metrics import psnr, sam
    from hsinr.models.classical_fusion import local_regression_fusion, regression_fusion
    from hsinr.spectral import load_response

    torch.set_num_threads(1)
    split = seeded_split(args)
    srf = load_response(args.response).srf
    scores: dict[str, dict[str, list[tuple[float, float]]]] = {}
    consistency: dict[str, dict] = {}
    for subset in ("val", "test"):
        for name, pair, cube in simulated_pairs(args, split[subset], np.float64):
            lr, msi = (torch.from_numpy(a.transpose(2, 0, 1).copy())[None] for a in pair)
            for candidate in CANDIDATES:
                if candidate is None:
                    fused = regression_fusion(lr, msi, args.scale)
                else:
                    fused = local_regression_fusion(lr, msi, args.scale, *candidate)
                pred = fused[0].numpy().transpose(1, 2, 0)
                key = "per image" if candidate is None else f"window {candidate[0]} stride {candidate[1]}"
                scores.setdefault(key, {}).setdefault(subset, []).append((psnr(cube, pred), sam(cube, pred)))
                if candidate == CHOSEN:
                    check = input_consistency(fused, lr, msi, srf, args.scale)
                    consistency[name] = {
                        "subset": subset,
                        "psnr": psnr(cube, pred),
                        "msi_rmse": check["msi_rmse"],
                        "lr_rmse": check["lr_rmse"],
                        "psnr_back_projected": psnr(cube, check["back_projected"]),
                    }
            print(f"{subset} {name} done", flush=True)
    table = {
        key: {
            f"{subset}_{metric}": float(np.mean([v[i] for v in values]))
            for subset, values in per_subset.items()
            for i, metric in enumerate(("psnr", "sam"))
        }
        for key, per_subset in scores.items()
    }
    for key, row in table.items():
        print(f"{key:>22}: " + ", ".join(f"{k} {v:.2f}" for k, v in row.items()))
    for name, row in consistency.items():
        print(f"{name:>26}: " + ", ".join(f"{k} {v:.5g}" for k, v in row.items() if k != "subset"))
    result = {
        "split": split,
        "scale": args.scale,
        "response": args.response,
        "rows": table,
        "consistency_of_chosen_window": consistency,
    }
    write_text_atomic(Path(args.out), json.dumps(result, indent=1))
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
