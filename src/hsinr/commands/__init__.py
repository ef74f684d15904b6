"""One module per subcommand; each defines ``add_parser(subparsers)`` that sets ``func`` on its parser."""


def add_override_option(parser, example: str) -> None:
    """``--set KEY=VALUE`` (repeatable) into ``args.overrides``: config values applied by
    :func:`hsinr.config.load_config` over the YAML file."""
    parser.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help=f"override a config value, e.g. {example}",
    )
