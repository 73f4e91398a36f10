"""The README's screen capture and `sbtop check` sample, made by the program itself.

    python docs/capture.py            # rewrites both blocks of README.md in place
    python docs/capture.py --print    # prints them instead

Both come from the simulated backend advanced by hand on a manual clock (no real time, seeded
traffic), so a run gives the same text every time and a change in the README's blocks is a
change in what sbtop prints. The story is `sbtop demo --scenario bad-canary`'s: half a minute
healthy, the canary stepped to 5 %, its (demo's) one-minute soak, the step to 25 %, and a
minute of the optimized routes regressing. The console is Textual's own screenshot of the app
at 120x40, as text; the check sample is `sbtop check`'s text output on the same story.

The backend listens on a free loopback port; the text shows it as 127.0.0.1:8099, the port
`sbtop demo --serve` uses by default. tests/test_readme.py fails when the README's check
sample is not what this prints.
"""

from __future__ import annotations

import asyncio
import dataclasses
import re
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sbtop import check, config  # noqa: E402
from sbtop.clock import ManualClock  # noqa: E402
from sbtop.commands.targets import demo_target  # noqa: E402
from sbtop.console.app import SbtopApp  # noqa: E402
from sbtop.demo.backend import SimulatedBackend  # noqa: E402
from sbtop.session.live import LiveSession  # noqa: E402
from tests.console_harness import svg_text  # noqa: E402

README = ROOT / "README.md"
SHOWN_URL = "http://127.0.0.1:8099"
SIZE = (120, 40)
WINDOW_S = 10.0  # `sbtop check`'s default window


def _backend() -> SimulatedBackend:
    b = SimulatedBackend(port=0, background=False).start()
    b.set(canary_regresses_at=25)  # --scenario bad-canary
    b.render.build_s, b.render.update_s = 0.05, 0.05  # deploys go live at once
    return b


async def _console(b: SimulatedBackend, state_dir: Path) -> str:
    clock = ManualClock()
    # Without the providers' status pages: nothing polls them here (the ticks are taken by
    # hand), and the README's console capture shows the panels.
    wiring = demo_target(b.url, ui=config.UiConfig(), status_pages=False)
    wiring = dataclasses.replace(wiring, identity=dataclasses.replace(
        wiring.identity, base_url=SHOWN_URL))
    session = LiveSession(wiring, clock=clock, deploy=True, state_dir=state_dir)
    app = SbtopApp(session, theme="dark", collecting=False)

    async with app.run_test(size=SIZE) as pilot:
        async def ticks(n: int) -> None:
            for _ in range(n):
                b.advance(1.0)
                clock.advance(1.0)
                await session.tick()
            await pilot.pause()

        async def step_canary(percent: int) -> None:
            await pilot.press("c", "y")
            await app.workers.wait_for_complete()
            await pilot.pause()
            if b.knobs.canary_percent != percent:
                raise SystemExit(f"capture: the canary did not reach {percent} % "
                                 f"(at {b.knobs.canary_percent} %)")

        await app.workers.wait_for_complete()
        await ticks(30)  # healthy
        await step_canary(5)
        await ticks(62)  # the demo's soak at 5 %: one minute
        await step_canary(25)
        await ticks(60)  # the optimized routes regress
        return svg_text(app.export_screenshot(), *SIZE)


async def _check(b: SimulatedBackend) -> str:
    """`sbtop check --url URL` on the backend as it is: two scrapes WINDOW_S apart, judged."""
    clock = ManualClock()
    wiring = config.resolve(config.Config(), url=b.url)
    session = LiveSession(wiring, clock=clock, refresh_s=WINDOW_S, history_s=WINDOW_S,
                          read_only=True, health_every_s=0,
                          judge=check._SpanJudge(wiring, WINDOW_S, clock))
    async with session:
        await session.tick()
        b.advance(WINDOW_S)
        clock.advance(WINDOW_S)
        await session.tick()
    assert session.assessment is not None
    return check.as_text(session.assessment, wiring.base_url)


def captures() -> tuple[str, str]:
    """(the console at 120x40, `sbtop check`'s output), as the README shows them."""
    b = _backend()
    try:
        with tempfile.TemporaryDirectory(prefix="sbtop-capture-") as state:
            screen = asyncio.run(_console(b, Path(state)))
        checked = asyncio.run(_check(b))
    finally:
        b.stop()
    port = b.url.rsplit(":", 1)[1]
    checked = checked.replace(f"127.0.0.1:{port}", "127.0.0.1:8099")
    screen = "\n".join(line.rstrip() for line in screen.splitlines())
    return screen, f"$ sbtop check --url {SHOWN_URL}\n{checked}"


def _block(name: str) -> re.Pattern[str]:
    return re.compile(rf"(<!-- capture:{name} -->\n```\n)(.*?)(```\n<!-- /capture:{name} -->)",
                      re.S)


def readme_block(text: str, name: str) -> str:
    """What the README holds between its capture markers for `name` (console, check)."""
    found = _block(name).search(text)
    if found is None:
        raise SystemExit(f"README.md has no capture:{name} block")
    return found.group(2).removesuffix("\n")


def rewrite(text: str, blocks: dict[str, str]) -> str:
    """`text` with each named capture block's body replaced (docs/plan_capture.py too)."""
    for name, body in blocks.items():
        found = _block(name).search(text)
        if found is None:
            raise SystemExit(f"README.md has no capture:{name} block")
        text = text[:found.start(2)] + body + "\n" + text[found.end(2):]
    return text


def main(argv: list[str]) -> int:
    screen, checked = captures()
    if "--print" in argv:
        print(screen)
        print(checked)
        return 0
    README.write_text(rewrite(README.read_text(encoding="utf-8"),
                              {"console": screen, "check": checked}), encoding="utf-8")
    print(f"rewrote the console and check blocks of {README}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
