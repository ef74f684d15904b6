"""``hsinr degrade CUBE --scale R --response RESP --lr LR --msi MSI``: simulate a fusion test pair from a cube.

The LR-HSI is the cube blurred by the protocol's Gaussian PSF centred on each ``R×R`` block and decimated; the
HR-MSI is ``cube @ srf.T`` (see :mod:`hsinr.spectral.degradation`). ``hsinr fuse`` reads the pair back.
"""

from __future__ import annotations

from pathlib import Path

IMAGE_SUFFIXES = (".png", ".tif", ".tiff")


def add_parser(subparsers) -> None:
    p = subparsers.add_parser(
        "degrade",
        help="simulate a low-resolution HSI and a high-resolution MSI/RGB from a cube (a fusion test pair)",
        description="Simulate LR-HSI + HR-MSI from a cube with the fusion protocol (Gaussian PSF, sigma 0.5 HR px, "
        "centred on each scale x scale block; MSI = cube @ srf.T). A 3-band MSI given a .png/.tif name is written as "
        "a 16-bit image (values must lie in [0, 1]); otherwise as a cube file.",
    )
    p.add_argument("cube", type=Path, help="ground-truth cube (.mat, .h5, .hdr, .tif, .npy, CAVE folder, ...)")
    p.add_argument("--key", default=None, help="variable holding the cube (.mat/.h5/.npz), default: found")
    p.add_argument("--scale", type=int, required=True, help="integer resolution ratio (e.g. 4)")
    p.add_argument(
        "--response",
        required=True,
        help="MSI response: camera file or builtin name (e.g. nikon_d700_cave.mat), or band_average",
    )
    p.add_argument("--lr", required=True, type=Path, help="output LR-HSI cube file (format from the suffix)")
    p.add_argument("--msi", required=True, type=Path, help="output HR-MSI: 16-bit .png/.tif for 3 bands, else a cube")
    p.add_argument("--sigma", type=float, default=0.5, help="PSF standard deviation in HR pixels (default 0.5)")
    p.set_defaults(func=run)


def run(args) -> int:
    import numpy as np

    from ..cube import Cube
    from ..errors import DataError
    from ..io import check_cube_output, read_cube, write_cube, write_rgb
    from ..io.atomic import check_output_folder
    from ..spectral.degradation import degrade_cube

    msi_is_image = args.msi.suffix.lower() in IMAGE_SUFFIXES
    check_cube_output(args.lr)  # both outputs are checked before either is written
    if msi_is_image:
        check_output_folder(args.msi)
    else:
        check_cube_output(args.msi)
    cube = read_cube(args.cube, key=args.key).check_finite()
    lr, msi, wavelengths, response = degrade_cube(cube, args.scale, args.response, sigma=args.sigma)
    if msi_is_image:
        if msi.shape[2] != 3:
            raise DataError(f"{args.msi}: the MSI has {msi.shape[2]} bands; only 3 fit an image, use a cube suffix")
        if msi.min() < 0 or msi.max() > 1:
            raise DataError(
                f"{args.msi}: MSI values span {msi.min():.3g}..{msi.max():.3g}, outside the [0, 1] of a "
                "16-bit image; scale the cube or write the MSI as a cube file (.npy, .mat, ...)"
            )
    write_cube(args.lr, Cube(lr, wavelengths))
    if msi_is_image:
        write_rgb(args.msi, msi, bits=16)
    else:
        write_cube(args.msi, Cube(msi, None))
    height, width = msi.shape[:2]
    print(
        f"wrote {args.lr} ({lr.shape[0]}x{lr.shape[1]}x{lr.shape[2]}) and {args.msi} ({height}x{width}x"
        f"{msi.shape[2]}, response {response.name}); scale {args.scale}, {np.asarray(wavelengths).size} bands"
    )
    return 0
