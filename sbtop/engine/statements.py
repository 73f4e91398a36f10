"""The database's own view of latency: per-statement counters (pg_stat_statements, or
CockroachDB's statement statistics) turned into rates over the window. Pure, like the rest of
the engine.

The counters only grow between resets, like a Prometheus counter, so each poll is compared
with the one before: a statement whose calls went down was reset (or evicted and counted
again) and counts from zero; a changed reset mark (pg_stat_statements_info.stats_reset) means
every counter restarted. The differences of the polls inside the window are summed: calls/s,
time spent per second, and the mean over the window (time / calls), never the mean since the
server started.

The "repeated similar queries" hint divides a statement's calls/s by the target's requests/s:
far above 1 is the N+1 pattern (a query run once per row of another). It assumes the app is
the database's main client; with no request rate there is no hint, and the view says why.
"""

from __future__ import annotations

import collections
import dataclasses
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

# Statements kept in each ranking (the console's view lists them; check prints five).
TOP = 10
CHECK_TOP = 5
# Fewer calls than this in the window: too few to call a pattern (one request's worth).
HINT_MIN_CALLS = 20


@dataclass(frozen=True, slots=True)
class StatementCounters:
    """One normalised statement's counters since the last reset, as the server keeps them."""

    id: str  # queryid (PostgreSQL) or fingerprint id (CockroachDB)
    text: str | None  # the normalised text, made safe to show; None: not read this poll
    calls: int
    total_ms: float  # execution time, summed over the calls
    # Which of the statement's counters this is, when the server keeps several (per role on
    # PostgreSQL; per hour, plan, app and node on CockroachDB): each grows on its own, so
    # each is compared with itself, and a part that ages out takes nothing away.
    part: str = ""


@dataclass(frozen=True, slots=True)
class StatementsPoll:
    """One read of the statement statistics. `unavailable` set: none could be read, and it
    says why and how to fix it (not an error of the database: the sessions are unaffected)."""

    t: float
    wall: float
    source: str = "pg_stat_statements"
    rows: tuple[StatementCounters, ...] = ()
    reset_mark: str | None = None  # when the server last reset every counter, as it says
    unavailable: str | None = None
    hidden: int = 0  # statements of other roles this role may not see
    capped: int | None = None  # the row limit, when the answer reached it
    elapsed_ms: float | None = None
    # pg_stat_statements_info.dealloc (PostgreSQL 14+): how often the full table dropped its
    # least-run statements since the reset; and its size, pg_stat_statements.max.
    evictions: int | None = None
    max_statements: int | None = None
    # Why the statements' texts could not be read this time (the figures stand without them).
    texts_failed: str | None = None


@dataclass(frozen=True, slots=True)
class StatementStat:
    """One statement over the window."""

    id: str
    text: str | None
    calls: int
    total_ms: float
    calls_per_s: float
    total_ms_per_s: float  # milliseconds of execution per second of wall time
    mean_ms: float | None  # None without calls in the window
    calls_per_request: float | None  # None without a known request rate


@dataclass(frozen=True, slots=True)
class StatementsView:
    """What the console and check show: the statements with the most time and the highest
    mean over the window, or the reason there are none."""

    source: str = "pg_stat_statements"
    window_s: float | None = None
    by_total: tuple[StatementStat, ...] = ()
    by_mean: tuple[StatementStat, ...] = ()
    by_calls: tuple[StatementStat, ...] = ()
    reason: str | None = None  # no figures: why
    hint: str | None = None  # "12.4 calls per request: N+1?" and which statement
    hint_id: str | None = None
    # Why there is no N+1 hint when there could be one (the request rate is unknown).
    hint_reason: str | None = None
    notes: tuple[str, ...] = ()
    polled_wall: float | None = None
    statements: int = 0  # statements that ran in the window
    read_ms: float | None = None  # what the latest read cost the database and sbtop


@dataclass(frozen=True, slots=True)
class _Step:
    t0: float
    t1: float
    deltas: Mapping[str, tuple[int, float]]
    evictions: int = 0  # the table dropped statements this often between the two reads


_Ranked = tuple[float, tuple[StatementStat, ...], tuple[StatementStat, ...],
                tuple[StatementStat, ...], int]


class StatementsTracker:
    """Polls in, differences kept over the window; `view()` ranks them."""

    def __init__(self, window_s: float) -> None:
        self.window_s = window_s
        self._prev: StatementsPoll | None = None
        self._prev_rows: dict[tuple[str, str], StatementCounters] = {}
        self._steps: collections.deque[_Step] = collections.deque()
        self._texts: dict[str, str] = {}
        self._latest: StatementsPoll | None = None
        self._reset_wall: float | None = None  # the latest reset seen between polls
        self._ranked_for: StatementsPoll | None = None
        self._ranking: _Ranked | None = None

    @property
    def latest(self) -> StatementsPoll | None:
        return self._latest

    def observe(self, poll: StatementsPoll) -> None:
        self._latest = poll
        if poll.unavailable is not None:
            # Nothing to compare with once it comes back: start again from a baseline.
            self._prev, self._prev_rows = None, {}
            self._steps.clear()
            return
        rows = {(r.id, r.part): r for r in poll.rows}
        for r in poll.rows:
            if r.text:
                self._texts[r.id] = r.text
        # Texts of statements no longer listed are dropped: bounded by the server's own limit.
        listed = {r.id for r in poll.rows}
        for gone in [k for k in self._texts if k not in listed]:
            del self._texts[gone]
        prev = self._prev
        if prev is not None and poll.t > prev.t:
            everything_reset = poll.reset_mark != prev.reset_mark
            if everything_reset:
                self._reset_wall = poll.wall
            evicted = _evictions(prev, poll, everything_reset)
            deltas: dict[str, tuple[int, float]] = {}
            for key, r in rows.items():
                before = self._prev_rows.get(key)
                if before is None and prev.capped is not None and not everything_reset:
                    # The answer was cut at the limit: this one may have been past it, with
                    # its whole history; counting that as the last interval would lie.
                    continue
                if (before is None or everything_reset or r.calls < before.calls
                        or r.total_ms < before.total_ms):
                    if before is not None and not everything_reset and not evicted:
                        # Fewer calls than before: reset, or dropped and back (said apart
                        # when the server counts its drops).
                        self._reset_wall = poll.wall
                    calls, total = r.calls, r.total_ms  # counted from zero since the reset
                else:
                    calls, total = r.calls - before.calls, r.total_ms - before.total_ms
                if calls > 0 or total > 0:
                    had = deltas.get(r.id, (0, 0.0))
                    deltas[r.id] = (had[0] + calls, had[1] + total)
            self._steps.append(_Step(prev.t, poll.t, deltas, evicted))
        elif prev is not None:
            return  # the same instant again (a replayed poll): nothing new
        self._prev, self._prev_rows = poll, rows
        # Whole steps inside the window; at least the latest, when the window is shorter
        # than the polls are apart.
        while len(self._steps) > 1 and self._steps[0].t0 < poll.t - self.window_s - 1e-9:
            self._steps.popleft()

    def view(self, requests_per_s: float | None, calls_per_request_hint: float,
             requests_reason: str | None = None) -> StatementsView:
        poll = self._latest
        if poll is None:
            return StatementsView(reason="statement statistics not read yet")
        if poll.unavailable is not None:
            return StatementsView(source=poll.source, reason=poll.unavailable,
                                  polled_wall=poll.wall)
        notes = []
        if poll.hidden:
            notes.append(f"{poll.hidden} statements of other roles hidden: grant "
                         "pg_read_all_stats to see them")
        if poll.capped is not None:
            notes.append(f"only the {poll.capped} statements with the most time are read "
                         "(the limit): a statement new in the window past it is not counted")
        if self._reset_wall is not None and poll.wall - self._reset_wall <= self.window_s:
            notes.append("statement statistics reset in the window: counted from the reset")
        if poll.texts_failed is not None:
            notes.append(f"statement texts cannot be read: {poll.texts_failed} (a statement "
                         "of a database in another encoding; pg_stat_statements_reset() "
                         "clears it)")
        evicted = sum(step.evictions for step in self._steps)
        if evicted:
            size = f" (pg_stat_statements.max = {poll.max_statements})" if (
                poll.max_statements is not None) else ""
            notes.append(f"the statements table was full{size} and dropped its least-run "
                         f"statements {evicted} times in the window: their calls are not all "
                         "counted (raise pg_stat_statements.max)")
        if not self._steps:
            return StatementsView(source=poll.source, polled_wall=poll.wall, notes=tuple(notes),
                                  reason="first read of the statement statistics: rates "
                                  "need a second one")
        span, by_total, by_mean, by_calls, count = self._ranked(poll)
        rate = requests_per_s if requests_per_s is not None and math.isfinite(
            requests_per_s) and requests_per_s > 0 else None
        hint = hint_id = hint_reason = None
        if rate is None:
            hint_reason = f"{requests_reason or 'request rate unknown'}: no N+1 hint"
        else:
            by_total, by_mean, by_calls = (tuple(_per_request(s, rate) for s in ranked)
                                           for ranked in (by_total, by_mean, by_calls))
            # The most calls is the most calls per request: the one request rate divides all.
            worst = by_calls[0] if by_calls else None
            if (worst is not None and worst.calls >= HINT_MIN_CALLS
                    and (worst.calls_per_request or 0.0) >= calls_per_request_hint):
                hint = f"{worst.calls_per_request:.1f} calls per request: N+1?"
                hint_id = worst.id
        return StatementsView(source=poll.source, window_s=span, by_total=by_total,
                              by_mean=by_mean, by_calls=by_calls, hint=hint, hint_id=hint_id,
                              hint_reason=hint_reason, notes=tuple(notes),
                              polled_wall=poll.wall, statements=count,
                              read_ms=poll.elapsed_ms)

    def _ranked(self, poll: StatementsPoll) -> _Ranked:
        """The window's sums, ranked: once per read (the console asks every tick, and a
        server may list thousands of statements)."""
        if self._ranked_for is poll and self._ranking is not None:
            return self._ranking
        span = self._steps[-1].t1 - self._steps[0].t0
        sums: dict[str, list[float]] = {}
        for step in self._steps:
            for key, (calls, total) in step.deltas.items():
                acc = sums.setdefault(key, [0, 0.0])
                acc[0] += calls
                acc[1] += total
        stats = [_stat(key, int(c), tot, span, self._texts.get(key))
                 for key, (c, tot) in sums.items()]
        self._ranking = (
            span,
            tuple(sorted(stats, key=lambda s: (-s.total_ms, s.id))[:TOP]),
            tuple(sorted([s for s in stats if s.mean_ms is not None],
                         key=lambda s: (-(s.mean_ms or 0.0), s.id))[:TOP]),
            tuple(sorted(stats, key=lambda s: (-s.calls, s.id))[:TOP]),
            len(stats))
        self._ranked_for = poll
        return self._ranking


def _evictions(prev: StatementsPoll, poll: StatementsPoll, everything_reset: bool) -> int:
    """How often the table dropped statements between two reads: the dealloc counter's
    growth, or all of it since a reset (which zeroes it); 0 when the server does not say."""
    if poll.evictions is None:
        return 0
    if everything_reset or prev.evictions is None:
        return poll.evictions if everything_reset else 0
    return max(0, poll.evictions - prev.evictions)


def _stat(key: str, calls: int, total: float, span: float, text: str | None) -> StatementStat:
    per_s = calls / span if span > 0 else 0.0
    return StatementStat(
        id=key, text=text, calls=calls, total_ms=total, calls_per_s=per_s,
        total_ms_per_s=total / span if span > 0 else 0.0,
        mean_ms=total / calls if calls else None, calls_per_request=None)


def _per_request(s: StatementStat, requests_per_s: float) -> StatementStat:
    return dataclasses.replace(s, calls_per_request=s.calls_per_s / requests_per_s)


def _num(x: float | None, digits: int = 3) -> float | None:
    return None if x is None or not math.isfinite(x) else round(x, digits)


def stat_dict(s: StatementStat) -> dict[str, Any]:
    return {"id": s.id, "query": s.text, "calls": s.calls, "calls_per_s": _num(s.calls_per_s),
            "mean_ms": _num(s.mean_ms), "total_ms_per_s": _num(s.total_ms_per_s),
            "calls_per_request": _num(s.calls_per_request, 2)}


def statements_dict(v: StatementsView) -> dict[str, Any]:
    """check --json's "statements": the top five by total time and by mean, or a reason."""
    return {
        "source": v.source,
        "window_s": _num(v.window_s),
        "reason": v.reason,
        "top_total": [stat_dict(s) for s in v.by_total[:CHECK_TOP]],
        "top_mean": [stat_dict(s) for s in v.by_mean[:CHECK_TOP]],
        "hint": v.hint,
        "hint_id": v.hint_id,
        **({"hint_reason": v.hint_reason} if v.hint_reason else {}),
        "notes": list(v.notes),
        "read_ms": _num(v.read_ms, 1),
    }


def brief(s: StatementStat) -> str:
    """One statement's figures in words: '41 ms/s, 12.0 calls/s, mean 3.4 ms'."""
    mean = "-" if s.mean_ms is None else f"{s.mean_ms:.1f} ms"
    per_request = ("" if s.calls_per_request is None
                   else f", {s.calls_per_request:.1f} per request")
    return f"{s.total_ms_per_s:.0f} ms/s, {s.calls_per_s:.1f} calls/s, mean {mean}{per_request}"


def statement_lines(v: StatementsView) -> list[str]:
    """check's lines: the top statement by total time and by mean, the hint, or why not."""
    if v.reason is not None:
        return [f"statements: {v.reason}"]
    if not v.by_total:
        return [f"statements: none ran in the last {v.window_s or 0:.0f} s"]
    top, slow = v.by_total[0], v.by_mean[0] if v.by_mean else None
    out = [f"statements: most time {brief(top)}: {top.text or top.id}"]
    if slow is not None and slow.id != top.id:
        out.append(f"statements: highest mean {brief(slow)}: {slow.text or slow.id}")
    if v.hint is not None:
        suspect = next((s for s in v.by_calls + v.by_total if s.id == v.hint_id), None)
        text = suspect.text if suspect is not None and suspect.text else v.hint_id
        out.append(f"statements: {v.hint} {text}")
    out += [f"statements: {n}" for n in v.notes]
    return out
