"""``hsinr synth -n 20 --size 256 -o DIR``: write a synthetic dataset from measured spectra."""

from __future__ import annotations

from ..cube import default_wavelengths


def add_parser(subparsers) -> None:
    p = subparsers.add_parser("synth", help="generate synthetic hyperspectral scenes (a 'folder' dataset)")
    p.add_argument("-n", "--count", type=int, default=20, help="number of scenes")
    p.add_argument("--size", type=int, default=256, help="scene side in pixels")
    p.add_argument("-o", "--out", required=True, help="output folder")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--kind", choices=("natural", "remote"), default="natural")
    p.add_argument("--bands", type=int, default=31, help="band count, evenly spaced over --range")
    p.add_argument("--range", nargs=2, type=float, default=(400.0, 700.0), metavar=("START", "STOP"), help="nm")
    p.add_argument("--response", default="srgb", help="camera response for the RGB images")
    p.add_argument("--noise", type=float, default=0.0, help="sensor noise level (see hsinr.data.synthetic)")
    p.set_defaults(func=run)


def run(args) -> int:
    from ..data.synthetic import write_synthetic_dataset

    paths = write_synthetic_dataset(
        args.out,
        count=args.count,
        size=args.size,
        seed=args.seed,
        wavelengths=default_wavelengths(args.bands, *args.range),
        srf_spec=args.response,
        kind=args.kind,
        noise=args.noise,
    )
    print(f"wrote {len(paths)} scenes to {args.out}/ (read them with the 'folder' dataset)")
    return 0
