"""Figures from Prometheus, for a backend that runs several instances: each round asks for the
rate() vectors the engine makes figures from (sbtop.engine.promql) as one instant query
(sbtop.engine.prom_batch), so they are evaluated at one instant for one request; instances
come from /api/v1/targets and alerts from /api/v1/alerts, every TARGETS_EVERY_S and
ALERTS_EVERY_S (each dated by its read), and the sparklines' history from
/api/v1/query_range. Which metric names exist, and in which job, is asked again every
DETECT_EVERY_S.

A query that fails (a bad query, 422, 503, a timeout) makes the figures it feeds unknown with
the reason; nothing becomes 0 that was not counted as 0. When the one query fails where its
parts alone may not (refused, too large, too slow while Prometheus answers), each part is
asked on its own at the same instant, and part by part until the next detection.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from sbtop import bounded, untrusted
from sbtop.clock import SYSTEM, Clock
from sbtop.engine.burn import BURN_EVERY_S
from sbtop.engine.burn_promql import burn_parts
from sbtop.engine.names import counter_names
from sbtop.engine.observations import ExternalAlert, InstanceStatus, PromSnapshot
from sbtop.engine.prom_batch import StrayRows, batch_query, split_batch
from sbtop.engine.promql import (
    ALERTS_EVERY_S,
    DETECT_EVERY_S,
    RATE_S,
    TARGETS_EVERY_S,
    Scope,
    Vector,
    choose_scope,
    detect_query,
    figure_expr,
    message_names,
    present_by_job,
    round_queries,
    window_text,
)
from sbtop.engine.settings import EngineSettings
from sbtop.engine.shape import Shape, choose

# The settings live apart (no httpx there, for the config); importers name them from here too.
from sbtop.sources.settings import DEFAULT_MAX_ANSWER_BYTES as DEFAULT_MAX_ANSWER_BYTES  # noqa: PLC0414
from sbtop.sources.settings import PromSettings as PromSettings  # noqa: PLC0414

if TYPE_CHECKING:
    import httpx

T = TypeVar("T")


class PromError(untrusted.Message):
    """Prometheus could not be read; the message may quote its error, made safe. `refused`:
    Prometheus answered, refusing the query itself (bad_data, execution: HTTP 400 or 422)."""

    refused = False


class PromRefused(PromError):
    refused = True


class PromTooLarge(PromError):
    """The answer was over prometheus.max_answer_bytes: Prometheus answered, sbtop refused it."""


class PromUnanswered(PromError):
    """No complete answer within timeout_s, the request sent. `answering`: the answer's head
    came (Prometheus had evaluated the query; its body was too slow)."""

    def __init__(self, message: str, answering: bool) -> None:
        super().__init__(message)
        self.answering = answering


@dataclass
class _Detected:
    """What the last detection found: the scope, the names with series, the names declared,
    and the shape they make (the request counter's status label included)."""

    at: float
    scope: Scope
    present: set[str]
    declared: set[str]
    shape: Shape
    # How many bucket layouts the instances' histograms have (for the history), asked once
    # a detection: the console's start-up asks three quantiles' history at once.
    layouts: int | None = None


class PrometheusSource:
    def __init__(self, settings: PromSettings, engine: EngineSettings,
                 clock: Clock = SYSTEM) -> None:
        self.s = settings
        self.engine = engine
        self.clock = clock
        self._client: httpx.AsyncClient | None = None
        self._detected: _Detected | None = None
        self._targets_read: _Read[list[_Target]] | None = None
        self._alerts_read: _Read[tuple[ExternalAlert, ...]] | None = None
        self._sent = 0
        self._untagged = False  # the server drops the parts' tag: ask each part alone
        # The one query failed where its parts alone might not (refused, too large, too slow):
        # the detection it failed under, and why. Until the next detection, each part is asked
        # alone, not the one query again first (1 + N requests a round, every round).
        self._unbatched: tuple[_Detected, str] | None = None
        self._burn_t: float | None = None  # when the burn parts were last asked (monotonic)

    async def __aenter__(self) -> PrometheusSource:
        import httpx

        self._client = httpx.AsyncClient(
            base_url=self.s.url.rstrip("/"), timeout=httpx.Timeout(self.s.timeout_s),
            headers=self.s.headers, auth=self.s.basic_auth, trust_env=False,
            follow_redirects=False)
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    async def _detect(self, at: float) -> _Detected:
        """Which candidate names exist in which job, the scope that follows, and which names
        the chosen targets declare (a counter with no sample yet has no series)."""
        now = self.clock.now()[0]
        d = self._detected
        if d is not None and now - d.at < DETECT_EVERY_S:
            return d
        vector = await self._vector(detect_query(self.engine, self.s.selector), at)
        by_job = present_by_job(vector)
        scope = choose_scope(self.engine, self.s.selector, by_job)
        present = by_job[scope.job] if scope.job else set().union(*by_job.values())
        declared: set[str] = set()
        labels: dict[str, list[str]] = {}
        if scope.refusal is None:
            n = self.engine.names
            asked = [x for x in (*counter_names(n.requests_counter), n.latency_histogram + "_count")
                     if x in present]
            found = await asyncio.gather(*(self._label_names(x, scope.selector, at)
                                           for x in asked))
            labels = {x: got for x, got in zip(asked, found, strict=True) if got is not None}
            if not message_names(self.engine, present):
                # A labelled counter with no sample yet has no series, only its TYPE line:
                # the targets' metadata knows it (then it counts 0).
                declared = await self._declared(scope.selector)
        shape = choose(self.engine.names, present | declared, labels)
        self._detected = _Detected(now, scope, present, declared, shape)
        return self._detected

    async def _label_names(self, name: str, selector: str, at: float) -> list[str] | None:
        """The label names on `name`'s series over the last RATE (a label renamed by an older
        deploy is not the app's any more); None when Prometheus cannot say."""
        match = name + ("{" + selector + "}" if selector else "")
        try:
            data = await self._get("/api/v1/labels", {
                "match[]": match, "start": f"{at - RATE_S:.3f}", "end": f"{at:.3f}"}, want=list)
            with _shape("labels"):
                return [str(x) for x in data]
        except PromError:
            return None  # the configured label order serves (rules and history only)

    async def _declared(self, selector: str) -> set[str]:
        """The message counters the chosen targets declare; empty when Prometheus cannot say."""
        names = [x for c in self.engine.names.message_counters for x in counter_names(c)]
        match = "{" + selector + "}" if selector else "{}"
        found = await asyncio.gather(*(self._get(
            "/api/v1/targets/metadata", {"match_target": match, "metric": x, "limit": "20"},
            want=list) for x in names), return_exceptions=True)
        return {x for x, got in zip(names, found, strict=True)
                if isinstance(got, list) and got}

    async def observe(self) -> PromSnapshot:
        t, wall = self.clock.now()
        started = time.perf_counter()
        self._sent = 0
        window = self.engine.window_s
        # Every query of a round is evaluated at one instant, so the figures agree with each
        # other and with anyone who asks Prometheus for that instant.
        at = round(wall, 3)
        # The targets and the alerts change at Prometheus's own pace (a scrape, a rule
        # evaluation): read every TARGETS_EVERY_S / ALERTS_EVERY_S, each dated by its read.
        targets = (asyncio.create_task(self._targets())
                   if _due(self._targets_read, t, TARGETS_EVERY_S) else None)
        alerts = (asyncio.create_task(self._alerts())
                  if _due(self._alerts_read, t, ALERTS_EVERY_S) else None)
        vectors: dict[str, Vector] = {}
        failures: dict[str, str] = {}
        error = None
        detected: _Detected | None = None
        try:
            detected = await self._detect(at)
        except Exception as e:  # PromError, or anything else: nothing can be read
            error = _why(e)
        burn_at = None
        if detected is not None and detected.scope.refusal is None:
            queries = round_queries(self.engine, detected.scope.selector, detected.present,
                                    window)
            # The burn rates' ranges reach 6 h: in the same one query, every BURN_EVERY_S.
            burn = burn_parts(self.engine, detected.scope.selector, detected.shape)
            if burn and (self._burn_t is None or t - self._burn_t >= BURN_EVERY_S):
                queries = {**queries, **burn}
                burn_at, self._burn_t = at, t
            vectors, failures = await self._round(queries, at, detected)
            if queries and len(failures) == len(queries):
                error = next(iter(failures.values()))
        await asyncio.gather(*(x for x in (targets, alerts) if x is not None),
                             return_exceptions=True)
        if targets is not None:
            self._targets_read = _read(targets, t, wall)
        if alerts is not None:
            self._alerts_read = _read(alerts, t, wall)
        tread, aread = self._targets_read, self._alerts_read
        if error is not None:
            # Prometheus could not be read: nothing kept from earlier rounds stands for
            # this one, and the next round reads everything again.
            self._targets_read = self._alerts_read = None
            tread = tread if targets is not None else None
            aread = aread if alerts is not None else None
        problems = []
        scope = detected.scope if detected is not None else Scope(self.s.selector)
        instances: tuple[InstanceStatus, ...] = ()
        if tread is not None and tread.error is None:
            instances = tuple(InstanceStatus(i.name, i.up, i.error) for i in tread.value
                              if scope.covers(i.labels))
        elif tread is not None:  # the figures may still be good: no instance list, said so
            problems.append(f"Prometheus targets unavailable ({tread.error}): instances "
                            "unknown")
        external: tuple[ExternalAlert, ...] = ()
        alerts_error = None
        if aread is not None and aread.error is None:
            external = aread.value
        elif aread is not None:
            alerts_error = aread.error
        return PromSnapshot(
            t, wall, error=error, window_s=window, at=at, selector=scope.selector,
            scope_note=scope.note, refusal=scope.refusal,
            present=frozenset(detected.present if detected else ()),
            declared=frozenset(detected.declared if detected else ()),
            vectors=vectors, failures=failures, instances=instances, alerts=external,
            alerts_error=alerts_error, part_by_part=self._part_by_part(detected),
            elapsed_ms=(time.perf_counter() - started) * 1000.0, queries=self._sent,
            problems=() if error else tuple(problems),
            targets_read_at=tread.wall if tread is not None else None,
            alerts_read_at=aread.wall if aread is not None else None, burn_at=burn_at)

    async def _round(self, queries: Mapping[str, str], at: float, detected: _Detected
                     ) -> tuple[dict[str, Vector], dict[str, str]]:
        """The round's vectors from one query (sbtop.engine.prom_batch), split into its parts.
        When that query fails where its parts alone may not, each part is asked on its own at
        the same instant, so only what a part failing alone feeds is unknown, with its own
        reason: Prometheus refuses it (a part it cannot evaluate: too many samples, a bad
        expression), its answer is over max_answer_bytes (the parts' sum is; each may not be),
        or it times out while Prometheus answers (the parts run side by side, each with its
        own timeout_s). Then part by part until the next detection, so a part that fails every
        round costs N requests a round, not 1 + N. So too, for good, when the answer's series
        lack the tag (a look-alike server). A batch unanswered because Prometheus is not
        answering (a connection refused, 503, a timeout and a trivial query timing out too) is
        not asked again in pieces: that would only add load."""
        if not queries:
            return {}, {}
        if not self._untagged and not self._unbatched_under(detected):
            try:
                rows = await self._vector(batch_query(queries), at)
                return split_batch(rows, queries), {}
            except StrayRows:
                # A server that speaks the API but drops the tag (labels starting with `__`)
                # from its answers: from now on, each part on its own, as before batching.
                self._untagged = True
            except PromError as e:
                if len(queries) == 1 or not await self._parts_may_serve(e, at):
                    return {}, dict.fromkeys(queries, _why(e))
                self._unbatched = (detected, _why(e))
            except Exception as e:
                return {}, dict.fromkeys(queries, _why(e))
        jobs = {key: asyncio.create_task(self._vector(expr, at))
                for key, expr in queries.items()}
        await asyncio.gather(*jobs.values(), return_exceptions=True)
        vectors: dict[str, Vector] = {}
        failures: dict[str, str] = {}
        for key, job in jobs.items():
            try:
                vectors[key] = job.result()
            except Exception as e:
                failures[key] = _why(e)
        return vectors, failures

    async def _parts_may_serve(self, e: PromError, at: float) -> bool:
        """Whether the parts asked alone may answer where their one query did not."""
        if e.refused or isinstance(e, PromTooLarge):
            return True
        if isinstance(e, PromUnanswered):
            if e.answering:
                return True
            # Slow to evaluate, or not answering at all? A trivial query at the same instant
            # tells them apart for one request, not N to a Prometheus that is down.
            try:
                await self._vector("vector(1)", at)
            except Exception:
                return False
            return True
        return False

    def _unbatched_under(self, detected: _Detected) -> bool:
        """Whether the one query failed since this detection (then each part is asked alone)."""
        return self._unbatched is not None and self._unbatched[0] is detected

    def _part_by_part(self, detected: _Detected | None) -> str | None:
        """Why this round's parts are asked one by one, not as one query (None: one query)."""
        if self._untagged:
            return "the server drops the parts' tag from its answers"
        if detected is not None and self._unbatched is not None \
                and self._unbatched_under(detected):
            return (f"the one query failed ({self._unbatched[1]}); each part asked alone "
                    f"until the next detection (every {DETECT_EVERY_S:g} s)")
        return None

    async def shape(self) -> Shape:
        """What the app exports, as Prometheus holds it now (for `sbtop rules`), with the
        latency histogram's bucket bounds, so the latency SLO's rule reads the bound the
        console reads (the threshold, or the nearest above it: sbtop.engine.burn)."""
        self._detected = None
        at = round(self.clock.now()[1], 3)
        d = await self._detect(at)
        if d.scope.refusal is not None:
            raise PromError(d.scope.refusal)
        if not d.shape.histogram:
            return d.shape
        bounds = await self._bounds(d.scope.selector, at)
        return d.shape if bounds is None else replace(d.shape, bounds=bounds)

    async def _bounds(self, selector: str, at: float) -> tuple[float, ...] | None:
        """The finite bucket bounds of the app's latency histogram now; None when Prometheus
        cannot say (the rules then read the threshold's own bucket, and say so)."""
        h = self.engine.names.latency_histogram
        sel = "{" + selector + "}" if selector else ""
        try:
            rows = await self._vector(f"group by (le) ({h}_bucket{sel})", at)
        except PromError:
            return None
        found = set()
        for labels, _v in rows:
            try:
                found.add(float(labels.get("le", "")))
            except ValueError:
                continue  # not a bound
        finite = tuple(sorted(b for b in found if math.isfinite(b)))
        return finite or None

    @property
    def scope(self) -> Scope | None:
        return self._detected.scope if self._detected is not None else None

    async def history(self, key: str, seconds: float, step: float) -> list[tuple[float, float]]:
        """(wall, value) points of a figure over the last `seconds`, for the sparklines."""
        d = await self._detect(round(self.clock.now()[1], 3))
        if d.scope.refusal is not None:
            return []
        expr = figure_expr(key, self.engine, d.scope.selector, d.shape,
                           window_text(self.engine.window_s))
        if expr is None:
            return []
        if key.startswith("latency_"):
            if d.layouts is None:
                d.layouts = await self._layouts(d.scope.selector)
            if d.layouts > 1:
                return []  # a quantile over two bucket layouts would be wrong at every point
        end = self.clock.now()[1]
        data = await self._get("/api/v1/query_range", {
            "query": expr, "start": f"{end - seconds:.3f}", "end": f"{end:.3f}",
            "step": f"{max(1.0, step):g}"})
        with _shape("query_range"):
            series = data.get("result") or []
            if not series:
                return []
            return [(float(stamp), _float(value)) for stamp, value in series[0].get("values", [])]

    async def _layouts(self, selector: str) -> int:
        """How many bucket layouts the instances' latency histograms have now."""
        h = self.engine.names.latency_histogram
        sel = "{" + selector + "}" if selector else ""
        at = round(self.clock.now()[1], 3)
        rows = await self._vector(f"group by (instance, le) ({h}_bucket{sel})", at)
        bounds: dict[str, set[str]] = {}
        for labels, _v in rows:
            bounds.setdefault(labels.get("instance", ""), set()).add(labels.get("le", ""))
        return len({frozenset(b) for b in bounds.values()})

    async def _vector(self, expr: str, at: float) -> Vector:
        data = await self._get("/api/v1/query", {"query": expr, "time": f"{at:.3f}"})
        with _shape("query"):
            if data.get("resultType") not in ("vector", "scalar"):
                raise PromError(f"unexpected result type {data.get('resultType')!r}")
            if data.get("resultType") == "scalar":
                return (({}, _float(data["result"][1])),)
            return tuple((_labels(item.get("metric", {})), _float(item["value"][1]))
                         for item in data.get("result", []))

    async def _targets(self) -> list[_Target]:
        data = await self._get("/api/v1/targets", {"state": "active"})
        out = []
        with _shape("targets"):
            for t in data.get("activeTargets", []):
                labels = _labels(t.get("labels", {}))
                out.append(_Target(untrusted.line(labels.get("instance",
                                                             t.get("scrapeUrl", "?"))),
                                   t.get("health") == "up", _text(t.get("lastError")), labels))
        return sorted(out, key=lambda x: x.name)

    async def _alerts(self) -> tuple[ExternalAlert, ...]:
        data = await self._get("/api/v1/alerts", {})
        out = []
        with _shape("alerts"):
            for a in data.get("alerts", []):
                labels = a.get("labels", {})
                if not isinstance(labels, dict):
                    labels = {}
                out.append(ExternalAlert(
                    name=untrusted.line(labels.get("alertname", "?")),
                    state=untrusted.line(a.get("state", "?")),
                    since=_text(a.get("activeAt")), severity=_text(labels.get("severity")),
                    summary=_text((a.get("annotations") or {}).get("summary")),
                    labels=_labels(labels)))
        return tuple(out)

    async def _get(self, path: str, params: dict[str, str], want: type = dict) -> Any:
        import httpx

        assert self._client is not None, "use PrometheusSource as an async context manager"
        self._sent += 1
        try:
            r = await bounded.request(self._client, "GET", path, params=params,
                                      deadline_s=self.s.timeout_s,
                                      max_bytes=self.s.max_answer_bytes)
        except bounded.Unanswered as e:
            # A head without its body: Prometheus evaluated the query (not a gateway's 5xx).
            answering = e.status is not None and e.status < 500
            raise PromUnanswered(str(e), answering=answering) from None
        except bounded.TooLarge as e:
            raise PromTooLarge(f"answer too large: {e} (raise prometheus.max_answer_mb)"
                            ) from None
        except httpx.ConnectTimeout:
            raise PromError(f"no connection within {self.s.timeout_s:g} s") from None
        except httpx.HTTPError as e:
            raise PromError(f"unreachable ({type(e).__name__})") from None
        try:
            body = r.json()
        except (ValueError, RecursionError):
            raise PromError(f"HTTP {r.status}, not JSON (is this Prometheus?)") from None
        if not isinstance(body, dict):
            raise PromError(f"HTTP {r.status}, not a Prometheus API answer")
        if r.status >= 400 or body.get("status") != "success":
            kind = body.get("errorType") or f"HTTP {r.status}"
            refused = r.status in (400, 422) or kind in ("bad_data", "execution")
            raise (PromRefused if refused else PromError)(
                f"{kind}: {str(body.get('error') or '')[:200]}")
        data = body.get("data") or want()
        if not isinstance(data, want):
            kind = "an object" if want is dict else "a list"
            raise PromError(f"malformed answer: data is not {kind}")
        return data


@contextlib.contextmanager
def _shape(what: str) -> Iterator[None]:
    """An answer of the wrong shape is an error in words, never an exception in the tick."""
    try:
        yield
    except (KeyError, IndexError, TypeError, AttributeError, ValueError) as e:
        raise PromError(f"malformed {what} answer ({type(e).__name__})") from None


@dataclass(frozen=True)
class _Read(Generic[T]):
    """One read of a slow-moving answer: when (monotonic, for the cadence; wall, for the age
    shown) and what came back, or why nothing did."""

    t: float
    wall: float
    value: T
    error: str | None


def _read(job: asyncio.Task[T], t: float, wall: float) -> _Read[Any]:
    try:
        return _Read(t, wall, job.result(), None)
    except Exception as e:
        return _Read(t, wall, None, _why(e))


def _due(last: _Read[Any] | None, t: float, every_s: float) -> bool:
    return last is None or t - last.t >= every_s


@dataclass(frozen=True)
class _Target:
    name: str
    up: bool
    error: str | None
    labels: Mapping[str, str] = field(default_factory=dict)


def _labels(value: Any) -> dict[str, str]:
    """A label set from an answer, strings to strings made safe to show (alert names, route
    and instance labels are anyone's text), whatever an odd answer holds."""
    if not isinstance(value, dict):
        return {}
    return untrusted.labels({k: v if isinstance(v, str) else json.dumps(v)[:200]
                             for k, v in value.items()})


def _float(text: Any) -> float:
    try:
        return float(text)  # Prometheus sends numbers as strings, so NaN and Inf survive
    except (TypeError, ValueError):
        return math.nan


def _why(e: BaseException) -> str:
    # PromError's text is made safe when raised; any other may quote an answer too.
    return str(e) if isinstance(e, PromError) else untrusted.line(f"{type(e).__name__}: {e}")


def _text(value: Any) -> str | None:
    """A field Prometheus sends as a string, whatever an odd answer holds: safe text or None."""
    if value is None or value == "":
        return None
    return untrusted.line(value if isinstance(value, str) else json.dumps(value)[:200])
