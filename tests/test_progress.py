"""hsinr.progress: whole lines instead of ``\\r`` updates when the stream is not a terminal; budget wording."""

from __future__ import annotations

import io

from tqdm.auto import tqdm

from hsinr.progress import LineProgress, budget_text, progress_bar


class FakeTerminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_without_a_terminal_one_line_per_bar_and_no_carriage_returns():
    log = io.StringIO()
    for epoch in range(3):
        bar = progress_bar(range(5), desc=f"epoch {epoch + 1}/3 ({budget_text(15)})", unit="step", file=log)
        assert isinstance(bar, LineProgress)
        for _ in bar:
            bar.set_postfix(loss="0.5000")
    lines = log.getvalue().splitlines()
    assert "\r" not in log.getvalue()
    assert len(lines) == 3
    assert lines[0].startswith("epoch 1/3 (budget 15 steps): 5/5 step in ")
    assert lines[2].startswith("epoch 3/3") and lines[2].endswith("loss=0.5000")


def test_line_every_writes_one_line_per_strip_and_none_twice():
    log = io.StringIO()
    with progress_bar(total=12, desc="tiles", unit="tile", line_every=4, file=log) as bar:
        for _ in range(12):
            bar.update(1)
    counts = [line.split(": ")[1].split(" ")[0] for line in log.getvalue().splitlines()]
    assert counts == ["4/12", "8/12", "12/12"]  # the closing line is not repeated


def test_a_partial_last_strip_still_gets_its_line():
    log = io.StringIO()
    bar = progress_bar(total=10, unit="tile", line_every=4, file=log)
    bar.update(10)  # crosses 4 and 8 in one update: one line
    bar.close()
    assert [line.split(" ")[0] for line in log.getvalue().splitlines()] == ["10/10"]


def test_disabled_bar_writes_nothing_but_still_iterates():
    log = io.StringIO()
    assert list(progress_bar(range(4), enabled=False, file=log)) == [0, 1, 2, 3]
    assert log.getvalue() == ""


def test_on_a_terminal_it_is_tqdm():
    bar = progress_bar(range(3), desc="x", file=FakeTerminal())
    assert isinstance(bar, tqdm)
    bar.close()


def test_budget_text_names_every_limit():
    assert budget_text(2000) == "budget 2000 steps"
    assert budget_text(None, 30) == "budget 30 min"
    assert budget_text(2000, 2.5) == "budget 2000 steps or 2.5 min, whichever comes first"
    assert budget_text() == "no budget"
