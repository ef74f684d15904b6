"""One module per subcommand; each defines ``add_parser(subparsers)`` that sets ``func`` on its parser."""
