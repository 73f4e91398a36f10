"""A quick writer of the classic text format for the simulated backend's registry.

prometheus_client's generate_latest spends about 7 µs a line validating and escaping names
that never change; the demo serves its page every second inside `sbtop demo`, where that cost
would be charged to the console. This writer formats each label set once and reuses it. Like
prom-client (which the backend imitates), it writes no `_created` samples.
"""

from __future__ import annotations

import math
from typing import Any

_label_cache: dict[tuple[tuple[str, str], ...], str] = {}


def _escape(v: str) -> str:
    return v.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _labels(items: tuple[tuple[str, str], ...]) -> str:
    text = _label_cache.get(items)
    if text is None:
        if len(_label_cache) > 50_000:
            _label_cache.clear()
        text = "{" + ",".join(f'{k}="{_escape(v)}"' for k, v in items) + "}" if items else ""
        _label_cache[items] = text
    return text


def _value(v: float) -> str:
    if v == math.inf:
        return "+Inf"
    if v == -math.inf:
        return "-Inf"
    if math.isnan(v):
        return "NaN"
    if v.is_integer() and abs(v) < 1e15:
        return str(int(v)) + ".0"
    return repr(v)


def text_page(registry: Any) -> bytes:
    out: list[str] = []
    for family in registry.collect():
        name = family.name + ("_total" if family.type == "counter" else "")
        out.append(f"# HELP {name} {family.documentation}\n# TYPE {name} {family.type}\n")
        for s in family.samples:
            if s.name.endswith("_created"):
                continue
            out.append(f"{s.name}{_labels(tuple(s.labels.items()))} {_value(float(s.value))}\n")
    return "".join(out).encode()
