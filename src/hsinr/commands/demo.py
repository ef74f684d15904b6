"""``hsinr demo``: synthetic data → train INR-HSISR and baselines → evaluate → report (no downloads)."""

from __future__ import annotations


def add_parser(subparsers) -> None:
    p = subparsers.add_parser("demo", help="run the whole tool on embedded synthetic data and write a report")
    p.add_argument("-o", "--out", default="demo-report", help="output folder (default demo-report/)")
    p.add_argument("--quick", action="store_true", help="fewer steps and methods (about 85 seconds on 2 cores)")
    p.add_argument(
        "--cave",
        help="folder of real CAVE cubes to evaluate on too (default ../shared/data/cave_256, else "
        "../shared/data/cave, when present)",
    )
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    p.set_defaults(func=run)


def run(args) -> int:
    from ..demo import run_demo

    run_demo(args.out, quick=args.quick, cave=args.cave, progress=not args.quiet)
    return 0
