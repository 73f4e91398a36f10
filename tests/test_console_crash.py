"""A crash of the live console: its report on the screen without the frames' locals (where
the webhook's URL, an API key or a DSN live), and an exit code that is not success."""

from __future__ import annotations

import pytest

from sbtop.console.app import exit_code
from tests.console_harness import Harness

pytestmark = pytest.mark.slow

SECRET = "https://hooks.slack.com/services/T000/B000/XXXXSECRET"


async def test_a_console_crash_report_shows_the_traceback_not_the_locals_and_exits_3(
        capfd: pytest.CaptureFixture[str]) -> None:
    h = Harness()

    def handler_holding_a_secret() -> None:
        url = SECRET  # as the webhook's constructor held it when naming the URL failed
        raise ValueError(f"Port could not be cast to integer value as {url[8:12]!r}")

    try:
        with pytest.raises(ValueError):
            async with h.app.run_test(size=(100, 30)) as pilot:
                h.app.call_later(handler_holding_a_secret)
                await pilot.pause()
                await pilot.pause()
    finally:
        h.close()
    out, err = capfd.readouterr()  # Textual prints its report as the app ends
    report = out + err
    assert "handler_holding_a_secret" in report and "ValueError" in report  # the traceback
    assert "XXXXSECRET" not in report  # no locals
    assert exit_code(h.app) == 3
