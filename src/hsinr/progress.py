"""Progress bars that suit both a terminal and a log file.

On a terminal (or in a notebook) :func:`progress_bar` is a plain ``tqdm`` bar. When its stream is not a terminal (a
log file, CI, a pipe, ``nohup``), ``\\r`` updates would pile up into one unreadable line, so it is a
:class:`LineProgress` instead: one plain line each ``line_every`` completed units (an epoch's steps, a strip of tiles)
and one when it closes::

    epoch 3/10 (budget 2000 steps): 200/200 step in 12.3 s (16.2 step/s) loss=0.0123

:func:`budget_text` words the budget that really ends a run, for the bar's description.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Iterable, Iterator
from typing import IO, Any

from tqdm.auto import tqdm


def budget_text(steps: int | None = None, minutes: float | None = None) -> str:
    """``"budget 2000 steps"``, ``"budget 30 min"`` or ``"budget 2000 steps or 30 min, whichever comes first"``.

    Args:
        steps: optimiser steps after which the run stops (``None``: no step budget).
        minutes: wall-clock cap in minutes (``None``: no time cap).
    """
    parts = []
    if steps is not None:
        parts.append(f"{int(steps)} steps")
    if minutes is not None:
        parts.append(f"{minutes:g} min")
    if not parts:
        return "no budget"
    return "budget " + " or ".join(parts) + (", whichever comes first" if len(parts) > 1 else "")


class LineProgress:
    """A stand-in for ``tqdm`` that writes whole lines: every ``line_every`` units and when closed.

    Supports the part of tqdm's interface hsinr uses: iteration, ``update``, ``set_postfix``, ``set_description``,
    ``close`` and use as a context manager.
    """

    def __init__(
        self,
        iterable: Iterable | None = None,
        *,
        total: int | None = None,
        desc: str = "",
        unit: str = "it",
        line_every: int | None = None,
        file: IO[str] | None = None,
        disable: bool = False,
    ):
        self.iterable = iterable
        if total is None and iterable is not None and hasattr(iterable, "__len__"):
            total = len(iterable)  # type: ignore[arg-type]
        self.total, self.desc, self.unit = total, desc, unit
        self.line_every = line_every if line_every and line_every > 0 else None
        self.file, self.disable = file, disable
        self.n, self.postfix, self.closed = 0, "", False
        self._last_line_at = 0
        self._started = time.monotonic()

    def __iter__(self) -> Iterator:
        if self.iterable is None:
            raise TypeError("LineProgress without an iterable cannot be iterated; call update() instead")
        try:
            for item in self.iterable:
                yield item
                self.update(1)
        finally:
            self.close()

    def __enter__(self) -> LineProgress:
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self.close()

    def update(self, n: int = 1) -> None:
        """Count ``n`` more completed units; write a line when a multiple of ``line_every`` is crossed."""
        self.n += n
        if self.line_every and self.n // self.line_every > self._last_line_at // self.line_every:
            self._write_line()

    def set_postfix(self, ordered_dict: dict | None = None, refresh: bool = True, **values: Any) -> None:
        """Values shown after the counts (``loss=0.0123``), as tqdm's ``set_postfix``."""
        values = {**(ordered_dict or {}), **values}
        self.postfix = " ".join(f"{key}={value}" for key, value in values.items())

    def set_description(self, desc: str | None = None, refresh: bool = True) -> None:
        self.desc = desc or ""

    def close(self) -> None:
        """Write the final line (unless the last line already showed every unit)."""
        if self.closed:
            return
        self.closed = True
        if self.n != self._last_line_at or self.n == 0:
            self._write_line()

    def line(self) -> str:
        """The current state as one line, without the newline."""
        elapsed = time.monotonic() - self._started
        count = f"{self.n}/{self.total}" if self.total is not None else f"{self.n}"
        rate = f" ({self.n / elapsed:.3g} {self.unit}/s)" if elapsed > 0 and self.n else ""
        text = f"{self.desc}: " if self.desc else ""
        text += f"{count} {self.unit} in {elapsed:.1f} s{rate}"
        return text + (f" {self.postfix}" if self.postfix else "")

    def _write_line(self) -> None:
        self._last_line_at = self.n
        if self.disable:
            return
        stream = self.file if self.file is not None else sys.stderr
        stream.write(self.line() + "\n")
        stream.flush()


def progress_bar(
    iterable: Iterable | None = None,
    *,
    total: int | None = None,
    desc: str = "",
    unit: str = "it",
    enabled: bool = True,
    line_every: int | None = None,
    leave: bool = True,
    file: IO[str] | None = None,
) -> Any:
    """A ``tqdm`` bar when ``file`` (default ``sys.stderr``) is a terminal, else a :class:`LineProgress`.

    Args:
        iterable: what to iterate over (or ``None`` and call ``update``).
        total: number of units (default ``len(iterable)``).
        desc: what runs, naming the budget that ends it (:func:`budget_text`).
        unit: name of one unit (``"step"``, ``"tile"``, ``"scene"``).
        enabled: ``False`` shows nothing (the iterable is still iterated).
        line_every: without a terminal, write a line after each this many units (e.g. the tiles of one strip);
            ``None`` writes only the final line (one per epoch for a per-epoch bar).
        leave: on a terminal, keep the finished bar on screen.
        file: the stream, default ``sys.stderr``.
    """
    stream = file if file is not None else sys.stderr
    is_terminal = bool(getattr(stream, "isatty", lambda: False)())
    in_notebook = type(stream).__module__.startswith("ipykernel")  # tqdm.auto draws a widget there
    if is_terminal or in_notebook or not enabled:
        return tqdm(iterable, total=total, desc=desc, unit=unit, disable=not enabled, leave=leave, file=stream)
    return LineProgress(iterable, total=total, desc=desc, unit=unit, line_every=line_every, file=file)
