"""``hsinr info CUBE``: describe a cube file (shape, bands, wavelengths, value range)."""

from __future__ import annotations

import numpy as np

from ..io import read_cube


def add_parser(subparsers) -> None:
    p = subparsers.add_parser("info", help="describe a hyperspectral cube file (shape, bands, range)")
    p.add_argument("path", help="cube file or CAVE scene folder")
    p.add_argument("--key", help="variable to read from a .mat/.h5/.npz file")
    p.set_defaults(func=run)


def run(args) -> int:
    cube = read_cube(args.path, key=args.key)
    data = cube.data
    h, w, c = data.shape
    print(f"file:        {args.path}")
    print(f"shape:       {h} x {w} x {c} (rows x columns x bands)")
    if cube.wavelengths is not None:
        wl = cube.wavelengths
        step = f", step {np.median(np.diff(wl)):.3g} nm" if wl.size > 1 else ""
        print(f"wavelengths: {wl[0]:.1f}-{wl[-1]:.1f} nm{step}")
    else:
        print("wavelengths: not stored in the file")
    print(f"scale:       stored values / {cube.scale:g}")
    finite = np.isfinite(data)
    print(f"range:       min {np.nanmin(data):.6g}, max {np.nanmax(data):.6g}, mean {np.nanmean(data):.6g}")
    if not finite.all():
        print(f"non-finite:  {int((~finite).sum())} NaN/Inf values")
    return 0
