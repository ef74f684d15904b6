"""Habits of a maintained library: no print() in library code, one version, logging configured by the CLI."""

from __future__ import annotations

import ast
import importlib.metadata
import logging
from pathlib import Path

import hsinr
from hsinr.cli import configure_logging, main

PACKAGE = Path(hsinr.__file__).parent
# Library modules that still print; this list may only shrink (use logging.getLogger(__name__) instead).
STILL_PRINTING = {"demo.py"}


def printing_modules() -> set[str]:
    found = set()
    for path in PACKAGE.rglob("*.py"):
        relative = path.relative_to(PACKAGE).as_posix()
        if relative == "cli.py" or relative.startswith("commands/"):
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "print":
                found.add(relative)
    return found


def test_library_code_logs_instead_of_printing():
    assert printing_modules() <= STILL_PRINTING


def test_the_version_is_written_once(capsys):
    assert importlib.metadata.version("hsinr") == hsinr.__version__
    try:
        main(["--version"])
    except SystemExit as exit_:
        assert exit_.code == 0
    assert capsys.readouterr().out.strip() == f"hsinr {hsinr.__version__}"


def test_cli_logging_shows_info_as_module_and_message_on_stderr(capsys):
    logger = logging.getLogger("hsinr")
    saved = logger.handlers[:], logger.level, logger.propagate
    try:
        configure_logging()
        configure_logging()  # idempotent: one handler, one line per message
        logging.getLogger("hsinr.benchmark").info("fold %d/%d", 1, 2)
        logging.getLogger("hsinr.benchmark").debug("not shown at INFO")
        assert capsys.readouterr().err == "[benchmark] fold 1/2\n"
    finally:
        logger.handlers[:], logger.level, logger.propagate = saved
