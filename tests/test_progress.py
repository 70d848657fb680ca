"""The progress bar draws on a terminal only; scripts and JSON stay clean."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from click.testing import CliRunner

import gradcli.cli.progress as progress
from gradcli.cli.group import cli
from gradcli.cli.progress import ProgressBar

SPEC = str(Path(__file__).parent.parent / "specs" / "quickstart.yaml")


class FakeTTY(io.StringIO):
    """A stream that says it is a terminal."""

    def isatty(self) -> bool:
        return True


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_nothing_is_written_when_the_stream_is_not_a_tty() -> None:
    stream = io.StringIO()
    with ProgressBar("jacobian", stream, delay=0.0, min_interval=0.0) as bar:
        for done in range(1, 11):
            bar(done, 10)
    assert stream.getvalue() == ""


def test_a_terminal_gets_a_bar_that_is_erased_at_the_end() -> None:
    stream = FakeTTY()
    with ProgressBar("jacobian", stream, delay=0.0, min_interval=0.0, width=60) as bar:
        bar(3, 10)
        assert stream.getvalue().startswith("\rjacobian [")
        assert " 30%  3/10" in stream.getvalue()
        bar(10, 10)
        assert "100%  10/10" in stream.getvalue()
        assert "#" * 10 in stream.getvalue()
    text = stream.getvalue()
    assert text.endswith("\r")
    last_line = text.rsplit("\r", 2)[-2]
    assert last_line.strip() == ""  # the bar was overwritten with spaces
    assert max(len(part) for part in text.split("\r")) <= 59  # fits the width


def test_quick_work_draws_nothing_and_redraws_are_throttled() -> None:
    clock, stream = Clock(), FakeTTY()
    bar = ProgressBar("hessian", stream, delay=0.5, min_interval=0.1, clock=clock)
    bar(1, 100)
    assert stream.getvalue() == ""  # before the delay
    clock.now = 0.6
    bar(2, 100)
    drawn = stream.getvalue()
    assert "2/100" in drawn
    clock.now = 0.65
    bar(3, 100)
    assert stream.getvalue() == drawn  # within min_interval: skipped
    clock.now = 0.66
    bar(100, 100)
    assert "100/100" in stream.getvalue()  # the end is always drawn
    bar.close()


def test_a_stream_without_isatty_is_not_a_terminal() -> None:
    class Bare:
        def write(self, text: str) -> None:
            raise AssertionError("nothing may be written")

    bar = ProgressBar("x", Bare(), delay=0.0, min_interval=0.0)  # type: ignore[arg-type]
    bar(1, 2)
    bar.close()


def test_jacobian_and_hessian_report_progress_through_the_bar(
        monkeypatch: pytest.MonkeyPatch) -> None:
    stream = FakeTTY()

    def on_terminal(label: str, *args: object, **kwargs: object) -> ProgressBar:
        return ProgressBar(label, stream, delay=0.0, min_interval=0.0)

    monkeypatch.setattr(progress, "progress_bar", on_terminal)
    for command in ("jacobian", "hessian"):
        result = CliRunner().invoke(cli, [command, SPEC, "--format", "json",
                                          "--chunk-size", "1"])
        assert result.exit_code == 0, result.stderr
        json.loads(result.stdout)  # stdout holds the result only
        assert f"\r{command} [" in stream.getvalue()


def test_the_cli_writes_no_progress_when_stderr_is_not_a_terminal() -> None:
    result = CliRunner().invoke(cli, ["hessian", SPEC, "--format", "json",
                                      "--chunk-size", "1"])
    assert result.exit_code == 0
    assert result.stderr == ""
    assert json.loads(result.stdout)["command"] == "hessian"
