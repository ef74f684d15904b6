"""``hsinr fuse``: fuse an LR-HSI and an HR-MSI (or RGB) into an HR-HSI with a trained fusion checkpoint."""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from ..errors import DataError

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp")


def add_parser(subparsers) -> None:
    p = subparsers.add_parser(
        "fuse",
        help="fuse a low-resolution HSI and a high-resolution MSI/RGB with a fusion model (INF3, ...)",
        description="Fuse LR-HSI + HR-MSI -> HR-HSI. The HR image must be exactly scale x the LR size, with the band "
        "counts the checkpoint was trained with; values linear as in training (16-bit PNG / 65535, 8-bit / 255).",
    )
    p.add_argument("--hsi", required=True, type=Path, help="low-resolution cube (.mat, .h5, .hdr, .tif, .npy, ...)")
    p.add_argument("--hsi-key", default=None, help="variable holding the LR cube (.mat/.h5/.npz), default: found")
    p.add_argument("--msi", required=True, type=Path, help="high-resolution RGB (.png/.jpg/.bmp) or MSI cube file")
    p.add_argument("--msi-key", default=None, help="variable holding the MSI when it is a cube file")
    p.add_argument("--model", required=True, type=Path, help="fusion checkpoint (hsinr train with task fusion)")
    p.add_argument("-o", "--output", required=True, type=Path, help="output cube file; format from the suffix")
    p.add_argument("--tile", type=int, default=256, help="tile side in HR pixels (default 256)")
    p.add_argument(
        "--overlap",
        type=int,
        default=None,
        help="overlap between tiles in HR pixels (default 18 x scale: exact for the default INF3, whose reach is "
        "about 18 px at x4 and 34 px at x8; the result equals a whole-image pass when overlap/4 >= the reach)",
    )
    p.add_argument("--device", default="cpu", help="torch device, e.g. cpu or cuda (default cpu)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..checkpoint import load_checkpoint
    from ..cube import Cube
    from ..infer import fuse
    from ..io import check_cube_output, read_cube, read_rgb, write_cube
    from ..spectral.degradation import fusion_scale
    from .reconstruct import check_device

    check_device(args.device)
    check_cube_output(args.output)  # before the fusion, not after it
    model, meta = load_checkpoint(args.model)
    if tuple(getattr(model, "input_keys", ())) != ("lr_hsi", "hr_msi"):
        name = meta["spec"]["name"]
        raise DataError(f"{args.model}: model {name!r} is not a fusion model (it takes {model.input_keys})")
    lr = read_cube(args.hsi, key=args.hsi_key).check_finite()
    if args.msi.suffix.lower() in IMAGE_SUFFIXES:
        msi = np.asarray(read_rgb(args.msi), dtype=np.float32)
    else:
        msi = read_cube(args.msi, key=args.msi_key).check_finite().data
    if lr.bands != model.hsi_bands:
        raise DataError(f"{args.hsi}: {lr.bands} bands, but the checkpoint {args.model} expects {model.hsi_bands}")
    if msi.shape[2] != model.msi_bands:
        raise DataError(f"{args.msi}: {msi.shape[2]} bands, but the checkpoint {args.model} expects {model.msi_bands}")
    try:
        fusion_scale(lr.data.shape[:2], msi.shape[:2], getattr(model, "scale", None))
    except DataError as exc:
        raise DataError(f"{args.msi} and {args.hsi}: {exc}") from None
    cube = fuse(lr.data, msi, model, tile=args.tile, overlap=args.overlap, device=args.device)
    wavelengths = lr.wavelengths if lr.wavelengths is not None else meta.get("wavelengths")
    write_cube(args.output, Cube(cube, wavelengths))
    print(f"wrote {args.output}: {cube.shape[0]}x{cube.shape[1]} pixels, {cube.shape[2]} bands")
    return 0
