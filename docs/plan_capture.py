"""The README's captures of the Plan view (`p`), made by the program itself.

    python docs/plan_capture.py            # rewrites the plan blocks of README.md in place
    python docs/plan_capture.py --print    # prints them instead

The demo's deploy window on the simulated backend advanced by hand on a manual clock, so a run
gives the same text every time: half a minute healthy, the pre-flight checked (the baseline is
not captured yet: that item fails) and the person's items confirmed, phase 1 started with a
typed override, watched for its minute and passed, phase 2 started and watched for 48 s. Then
Textual's own screenshot of the app, as text, at 80x24 and at 120x40 (the pre-flight items
shown with `i`).
"""

from __future__ import annotations

import asyncio
import dataclasses
import os
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sbtop import config  # noqa: E402
from sbtop.clock import ManualClock  # noqa: E402
from sbtop.commands.targets import demo_target  # noqa: E402
from sbtop.console.app import SbtopApp  # noqa: E402
from sbtop.demo.backend import SimulatedBackend  # noqa: E402
from sbtop.session.live import LiveSession  # noqa: E402
from tests.console_harness import svg_text  # noqa: E402

sys.path.insert(0, str(ROOT / "docs"))
from capture import rewrite  # noqa: E402  (the README's blocks are rewritten in one place)

README = ROOT / "README.md"
SHOWN_URL = "http://127.0.0.1:8099"
SIZES = ((80, 24), (120, 40))
CONFIRMED = 4  # the demo's items a person confirms (the first four open ones)


async def _plan_view(size: tuple[int, int], state_dir: Path) -> str:
    b = SimulatedBackend(port=0, background=False).start()
    try:
        clock = ManualClock()
        wiring = demo_target(b.url, ui=config.UiConfig())
        wiring = dataclasses.replace(wiring, identity=dataclasses.replace(
            wiring.identity, base_url=SHOWN_URL))
        session = LiveSession(wiring, clock=clock, deploy=True, state_dir=state_dir)
        app = SbtopApp(session, theme="dark", collecting=False)
        async with app.run_test(size=size) as pilot:
            async def ticks(n: int) -> None:
                for _ in range(n):
                    b.advance(1.0)
                    clock.advance(1.0)
                    await session.tick()
                await pilot.pause()

            async def keys(*pressed: str) -> None:
                await pilot.press(*pressed)
                await app.workers.wait_for_complete()
                await pilot.pause()

            await app.workers.wait_for_complete()
            await ticks(30)
            await keys("p", "f")  # the view; the live items checked
            for _ in range(CONFIRMED):
                await keys("enter")  # the cursor stands on the first open item
            # On the failing item now (the baseline): past the last item, to phase 1.
            await keys("j", "j", "s", *"baseline: the first canary step takes it",
                       "enter")
            await ticks(61)
            await keys("P", "y")
            await keys("s", "y")
            await ticks(48)
            if size[1] >= 40:
                await keys("i")
            return svg_text(app.export_screenshot(), *size)
    finally:
        b.stop()


def captures() -> dict[str, str]:
    os.environ["USER"] = "ana"  # who confirms and acts, as the audit records it
    out: dict[str, str] = {}
    for size in SIZES:
        with tempfile.TemporaryDirectory(prefix="sbtop-capture-") as state:
            screen = asyncio.run(_plan_view(size, Path(state)))
        out[f"plan-{size[0]}x{size[1]}"] = "\n".join(line.rstrip()
                                                     for line in screen.splitlines())
    return out


def main(argv: list[str]) -> int:
    shots = captures()
    if "--print" in argv:
        for body in shots.values():
            print(body)
        return 0
    README.write_text(rewrite(README.read_text(encoding="utf-8"), shots), encoding="utf-8")
    print(f"rewrote the plan blocks of {README}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
