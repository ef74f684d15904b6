"""``hsinr remote-rgb CUBE -o rgb.png``: the RGB input INSS sees for (a part of) a remote-sensing cube.

    hsinr remote-rgb ../shared/data/remote/jasper_ridge_198.mat --part test -o jasper_test_rgb.png

The RGB is three of the cube's own bands (default: those nearest AVIRIS bands 35/18/8), values unchanged
(reflectance), written as a 16-bit PNG/TIFF so that ``hsinr synthesize`` reads back the same values to within
1/65535. ``--part`` cuts the scene exactly as ``task: inss`` does: ``train`` = the left ``--train-fraction`` of the
columns, ``val`` / ``test`` = the top ``--val-fraction`` of the rows of the remaining right part / the rest of it
(the regions of the task's split.json), ``held-out`` = validation and test together (the right columns), ``all`` =
the whole scene.
"""

from __future__ import annotations

from ..errors import DataError

#: The regions ``--part`` can name (those of ``task: inss``, with ``data.train_fraction`` / ``data.val_fraction``).
PARTS = ("train", "val", "test", "held-out", "all")


def add_parser(subparsers) -> None:
    p = subparsers.add_parser("remote-rgb", help="write the RGB (three cube bands) of a remote-sensing cube for INSS")
    p.add_argument("cube", help="remote-sensing cube (jasper_ridge_198.mat, samson.mat, urban_sub_162.mat)")
    p.add_argument("-o", "--output", required=True, help="RGB image to write (.png or .tif, 16 bits)")
    p.add_argument(
        "--part",
        choices=PARTS,
        default="test",
        help="region of task: inss to keep: train (left columns), val (top of the right columns), test (bottom of "
        "the right columns; default), held-out (val + test), all",
    )
    p.add_argument("--train-fraction", type=float, default=0.5, help="share of columns in the training part (0.5)")
    p.add_argument(
        "--val-fraction", type=float, default=0.5, help="share of the right part's rows in the validation part (0.5)"
    )
    p.add_argument("--loader", help="jasper, samson or urban when the file name does not say")
    p.add_argument(
        "--rgb-wavelengths",
        type=float,
        nargs=3,
        metavar=("R", "G", "B"),
        help="wavelengths (nm) of the bands used as R, G, B (default AVIRIS bands 35/18/8)",
    )
    p.set_defaults(func=run)


def run(args) -> int:
    from ..data.remote import load_remote_cube, rgb_from_bands, split_columns, split_rows
    from ..io import write_rgb

    cube = load_remote_cube(args.cube, args.loader)
    if args.part != "all":
        left, right = split_columns(cube, args.train_fraction)
        cube = left if args.part == "train" else right
        if args.part in ("val", "test"):
            top, bottom = split_rows(right, args.val_fraction)
            cube = top if args.part == "val" else bottom
    if cube.wavelengths is None:
        raise DataError(f"{args.cube}: the cube has no band centres; an RGB needs them to pick its bands")
    rgb = rgb_from_bands(cube.data, cube.wavelengths, args.rgb_wavelengths)
    if rgb.min() < 0 or rgb.max() > 1:
        raise DataError(
            f"{args.cube}: RGB values span {rgb.min():.4g}..{rgb.max():.4g}; a 16-bit image holds 0..1 only"
        )
    write_rgb(args.output, rgb, bits=16)
    print(
        f"wrote {args.output} ({rgb.shape[0]}x{rgb.shape[1]}, {args.part} part, "
        f"values {rgb.min():.4f}..{rgb.max():.4f})"
    )
    return 0
