"""``hsinr render CUBE -o rgb.png``: render a cube to RGB with a camera response (eq. 4)."""

from __future__ import annotations

import numpy as np

from ..cube import default_wavelengths
from ..errors import DataError
from ..io import read_cube, write_rgb
from ..spectral import render_rgb, resolve_response
from ..spectral.encoding import ENCODINGS, encode_rgb


def add_parser(subparsers) -> None:
    p = subparsers.add_parser("render", help="render a cube to an RGB image with a camera response")
    p.add_argument("path", help="cube file or CAVE scene folder")
    p.add_argument("-o", "--output", required=True, help="RGB image to write (.png, .tif, .jpg)")
    p.add_argument(
        "--response",
        default="cie1964_xyz",
        help="builtin response name or file (.csv/.npy/.mat/.npz, 'file.npz:Camera name' for camspec)",
    )
    p.add_argument("--key", help="variable to read from a .mat/.h5/.npz cube file")
    p.add_argument("--bits", type=int, default=8, choices=(8, 16), help="bit depth of the PNG/TIFF written")
    p.add_argument(
        "--encoding",
        choices=ENCODINGS,
        help="values written: srgb (clipped to [0, 1], then the sRGB transfer function: what a camera "
        "writes) or linear (clipped); default srgb for 8 bits, linear for 16 bits, the choice "
        "'hsinr reconstruct --input auto' reads back",
    )
    p.add_argument("--exposure", type=float, help="scale so this percentile (0-100) of the RGB becomes 1")
    p.add_argument("--white-balance", action="store_true", help="make the cube's mean spectrum render grey")
    p.add_argument("--wavelengths", help="band centres when the file has none: 'start:stop:count' (default 400:700:C)")
    p.set_defaults(func=run)


def parse_wavelengths(spec: str | None, bands: int) -> np.ndarray:
    """``"400:700:31"`` → band centres; ``None`` → 400..700 nm over ``bands`` bands."""
    if spec is None:
        return default_wavelengths(bands)
    try:
        start, stop, count = spec.split(":")
        values = default_wavelengths(int(count), float(start), float(stop))
    except ValueError:
        raise DataError(f"--wavelengths {spec!r}: expected start:stop:count, e.g. 400:700:31") from None
    if values.size != bands:
        raise DataError(f"--wavelengths gives {values.size} bands but the cube has {bands}")
    return values


def run(args) -> int:
    cube = read_cube(args.path, key=args.key).check_finite()
    if cube.bands < 2:
        raise DataError(
            f"{args.path}: the cube has {cube.bands} band; rendering RGB needs a spectral cube (2 bands or more)"
        )
    wavelengths = cube.wavelengths if cube.wavelengths is not None else parse_wavelengths(args.wavelengths, cube.bands)
    response = resolve_response(args.response, wavelengths)
    rgb = render_rgb(
        cube.data,
        response,
        white_balance=args.white_balance,
        exposure=None if args.exposure is None else f"p{args.exposure}",
    )
    encoding = args.encoding or ("srgb" if args.bits == 8 else "linear")
    write_rgb(args.output, encode_rgb(rgb, encoding), bits=args.bits)
    print(f"wrote {args.output} ({rgb.shape[0]}x{rgb.shape[1]}, response {response.name}, {encoding} {args.bits}-bit)")
    return 0
