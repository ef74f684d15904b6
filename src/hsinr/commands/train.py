"""``hsinr train CONFIG``: train a model with the project's one training loop."""

from __future__ import annotations

import json
import os
from pathlib import Path

from ..config import load_config
from ..errors import ConfigError
from . import add_override_option


def add_parser(subparsers) -> None:
    p = subparsers.add_parser("train", help="train a model from a YAML config (see configs/)")
    p.add_argument("config", help="YAML experiment file")
    p.add_argument("-o", "--run-dir", help="output folder (default runs/<config name>)")
    add_override_option(p, "--set train.epochs=5 --set model.args.cell_size=8")
    p.add_argument("--resume", action="store_true", help="continue from <run-dir>/last.pt (same settings)")
    p.add_argument(
        "--allow-changed",
        action="store_true",
        help="with --resume: accept settings that changed since the run started (a warning names them; the run then "
        "no longer continues exactly)",
    )
    p.add_argument(
        "--overwrite",
        action="store_true",
        help="replace the run already in <run-dir> (its checkpoints and history are deleted)",
    )
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    p.set_defaults(func=run)


def run(args) -> int:
    from ..train import train

    config = load_config(args.config, args.overrides)
    run_dir = Path(args.run_dir or Path("runs") / config.get("name", Path(args.config).stem))
    if args.allow_changed and not args.resume:
        raise ConfigError("--allow-changed applies to --resume only")
    summary = train(
        config,
        run_dir,
        resume=args.resume,
        progress=not args.quiet,
        overwrite=args.overwrite,
        allow_changed=args.allow_changed,
    )
    if os.environ.get("RANK", "0") == "0":  # under torchrun, one summary (rank 0's, which validated)
        print(json.dumps(summary, indent=2))
    return 0
