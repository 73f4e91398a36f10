"""One round's PromQL as one query: every part (the buckets, the counts, the messages, the
gauges) is tagged with a label naming it and the parts are joined with `or`, so Prometheus
evaluates them all at one instant for one HTTP request; the answer is split back into the
parts' vectors, each exactly what its own query would have answered.

The tag is `__sbtop`: labels starting with two underscores are reserved, so no stored series
carries one, and `or` never drops a series of one part for matching another (their tags
differ).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from sbtop.engine.promql import Vector, label_value

TAG = "__sbtop"


def batch_query(parts: Mapping[str, str]) -> str:
    """The parts' expressions as one query, each part's series tagged with its key."""
    return " or ".join(f'label_replace({expr}, "{TAG}", {label_value(key)}, "", "")'
                       for key, expr in parts.items())


class StrayRows(ValueError):
    """The answer holds a series no part was asked for (not what Prometheus answers)."""


def split_batch(rows: Iterable[tuple[Mapping[str, str], float]], keys: Iterable[str]
                ) -> dict[str, Vector]:
    """Each asked part's vector, its tag taken off. A part with no series is an empty vector,
    as its own query would have answered (the window's figures then say why, never 0)."""
    out: dict[str, list[tuple[Mapping[str, str], float]]] = {k: [] for k in keys}
    for labels, value in rows:
        part = out.get(labels.get(TAG, ""))
        if part is None:
            raise StrayRows("a series without the tag of a part asked for")
        part.append(({k: v for k, v in labels.items() if k != TAG}, value))
    return {k: tuple(v) for k, v in out.items()}
