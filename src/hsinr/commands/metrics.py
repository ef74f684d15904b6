"""``hsinr metrics GT PRED``: the metric table of two cubes (see docs/metrics.md for the contract)."""

from __future__ import annotations

import json

import numpy as np

from ..errors import DataError
from ..io import read_cube
from ..metrics import METRIC_INFO, evaluate_all
from ..spectral import resolve_response


def add_parser(subparsers) -> None:
    p = subparsers.add_parser("metrics", help="compare two cubes: PSNR, SSIM, SAM, ERGAS, RMSE, MRAE")
    p.add_argument("ground_truth", help="reference cube")
    p.add_argument("prediction", help="cube to score")
    p.add_argument("--ratio", type=float, default=1.0, help="ERGAS resolution ratio (1 for spectral SR, 4 for x4)")
    p.add_argument("--rgb", help="input RGB image: adds the back-projection error (needs --response)")
    p.add_argument("--response", help="camera response of --rgb (builtin name or file)")
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")
    p.set_defaults(func=run)


def run(args) -> int:
    gt = read_cube(args.ground_truth).check_finite()
    pred = read_cube(args.prediction).check_finite()
    if gt.shape != pred.shape:
        raise DataError(f"{args.prediction} is {pred.shape} but {args.ground_truth} is {gt.shape} (H, W, C)")
    rgb = srf = None
    if args.rgb:
        from ..io import read_rgb

        if not args.response:
            raise DataError("--rgb needs --response (the camera response the RGB was made with)")
        rgb = read_rgb(args.rgb)
        if rgb.shape[:2] != gt.shape[:2]:
            raise DataError(
                f"{args.rgb} is {rgb.shape[0]}x{rgb.shape[1]} but the cubes are {gt.shape[0]}x{gt.shape[1]}"
            )
        wavelengths = gt.wavelengths if gt.wavelengths is not None else np.linspace(400, 700, gt.bands)
        srf = resolve_response(args.response, wavelengths).srf
    values = evaluate_all(gt.data, pred.data, rgb=rgb, srf=srf, ratio=args.ratio)
    if args.json:
        print(json.dumps(values, indent=2))
        return 0
    width = max(len(k) for k in values)
    for key, value in values.items():
        print(f"{key:<{width}}  {value:10.4f}   {METRIC_INFO[key][0]}")
    return 0
