"""``hsinr benchmark CONFIG``: several methods, one dataset and protocol → Table-I-style table and figures."""

from __future__ import annotations

from pathlib import Path

from ..config import load_config
from . import add_override_option


def add_parser(subparsers) -> None:
    p = subparsers.add_parser("benchmark", help="train and evaluate a list of methods under one protocol")
    p.add_argument("config", help="benchmark YAML (see configs/table1_cave.yaml)")
    p.add_argument("-o", "--out", help="output folder (default runs/<config name>)")
    add_override_option(p, "--set train.max_minutes=5")
    p.add_argument("--retrain", action="store_true", help="train again even where a best.pt exists")
    p.add_argument(
        "--only",
        action="append",
        metavar="LABEL",
        help="train only this method (repeatable) and evaluate nothing; run once more without it for the table",
    )
    p.add_argument("--device", default="cpu", help="device for training and evaluation (cpu, cuda)")
    p.add_argument("--quiet", action="store_true")
    p.set_defaults(func=run)


def run(args) -> int:
    from ..benchmark import run_benchmark, slug
    from ..report import format_markdown
    from .reconstruct import check_device

    check_device(args.device)
    config = load_config(args.config, args.overrides)
    out = Path(args.out or Path("runs") / slug(config.get("name", Path(args.config).stem)))
    result = run_benchmark(
        config, out, progress=not args.quiet, reuse=not args.retrain, only=args.only, device=args.device
    )
    if args.only:
        print(f"trained {', '.join(args.only)} in {out}/runs/")
        return 0
    print(format_markdown(result["rows"], config.get("name"), result["protocol"]))
    print(f"tables and figures written to {out}/")
    return 0
