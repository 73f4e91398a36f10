"""A Prometheus selector's label matchers, read and applied as PromQL applies them: they
scope a round's instances and Prometheus's alerts, and the config and `sbtop rules` check a
selector with them."""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping
from dataclasses import dataclass

# A label matcher as PromQL writes it: the value in double or single quotes (with escapes) or
# in backquotes (raw).
_MATCHER = re.compile(
    r"""\s*([A-Za-z_][A-Za-z0-9_]*)\s*(=~|!~|!=|=)\s*"""
    r"""("(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|`[^`]*`)\s*(,|$)""")


@dataclass(frozen=True, slots=True)
class Matcher:
    """One label matcher of a selector, applied as PromQL applies it."""

    name: str
    op: str  # "=", "!=", "=~", "!~"
    value: str

    def __call__(self, labels: Mapping[str, str]) -> bool:
        got = str(labels.get(self.name, ""))
        if self.op == "=":
            return got == self.value
        if self.op == "!=":
            return got != self.value
        try:
            hit = re.fullmatch(self.value, got) is not None
        except re.error:
            return True  # Prometheus would have refused the query; hide nothing
        return hit if self.op == "=~" else not hit


@functools.lru_cache(maxsize=16)
def selector_matchers(selector: str) -> tuple[Matcher, ...]:
    """The selector's label matchers (=, !=, =~, !~); SelectorError when it is not a list of
    them (a selector sbtop cannot read could not scope alerts and instances)."""
    text = selector.strip()
    if text.startswith("{") and text.endswith("}"):
        text = text[1:-1]
    out: list[Matcher] = []
    pos = 0
    while pos < len(text) and text[pos:].strip():
        m = _MATCHER.match(text, pos)
        if m is None:
            raise SelectorError(f"not label matchers like job=\"studybuddy\": {selector!r}")
        name, op, quoted = m.group(1), m.group(2), m.group(3)
        value = quoted[1:-1]
        if quoted[0] != "`":
            value = re.sub(r"\\(.)", r"\1", value)
        out.append(Matcher(name, op, value))
        pos = m.end()
    return tuple(out)


class SelectorError(ValueError):
    pass
