"""The simulated backend with its Render-shaped control plane, and a config acting on it: what
the tests of the actions (the command line, the brakes, the state directory) share."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from sbtop.demo.backend import SimulatedBackend
from sbtop.demo.render_api import API_KEY, SERVICE_ID


@contextlib.contextmanager
def serving(rps: float | None = 200, build_s: float = 0.1, update_s: float = 0.1, *,
            background: bool = True) -> Iterator[SimulatedBackend]:
    """The backend on loopback; its deploys take build_s + update_s to go live. Without
    background traffic, the test advances it by hand; rps None keeps the backend's own."""
    b = SimulatedBackend(port=0, background=background).start()
    if rps is not None:
        b.set(rps=rps)
    b.render.build_s, b.render.update_s = build_s, update_s
    try:
        yield b
    finally:
        b.stop()


def render_config(path: Path, b: SimulatedBackend, *, production: bool = False,
                  memory_limit_mb: float | None = 512, mode: int | None = None) -> Path:
    """Target `demo` on the backend, acting through its Render API (key in $SB_RENDER_KEY)."""
    memory = f"memory_limit_mb = {memory_limit_mb}\n" if memory_limit_mb is not None else ""
    path.write_text(f"""
[targets.demo]
base_url = "{b.url}"
production = {str(production).lower()}
{memory}
[targets.demo.render]
service_id = "{SERVICE_ID}"
api_key_env = "SB_RENDER_KEY"
api_url = "{b.render_url}"
""")
    if mode is not None:
        path.chmod(mode)
    return path


def render_env(state: Path) -> dict[str, str]:
    return {"SB_RENDER_KEY": API_KEY, "SBTOP_STATE_DIR": str(state)}


def audit(state: Path) -> list[dict[str, Any]]:
    """Every line of the state directory's audit log (none when there is none yet)."""
    path = state / "audit.jsonl"
    return [json.loads(x) for x in path.read_text().splitlines()] if path.exists() else []
