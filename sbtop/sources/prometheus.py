"""Figures from Prometheus, for a backend that runs several instances: each figure is a PromQL
instant query over the window, instances come from /api/v1/targets, alerts from
/api/v1/alerts, and the sparklines' history from /api/v1/query_range.

A query that fails (a bad query, 422, 503, a timeout) or returns nothing makes that figure
unknown with the reason; it never becomes 0.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
import re
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import httpx

from sbtop.clock import SYSTEM, Clock
from sbtop.engine.observations import ExternalAlert, InstanceStatus, PromSnapshot
from sbtop.engine.promql import PROM_FIGURES, figure_expr
from sbtop.engine.settings import EngineSettings


@dataclass(frozen=True)
class PromSettings:
    url: str
    selector: str = ""  # label matchers for every metric, e.g. job="studybuddy"
    timeout_s: float = 5.0
    headers: dict[str, str] = field(default_factory=dict, repr=False)
    basic_auth: tuple[str, str] | None = field(default=None, repr=False)


class PromError(Exception):
    pass


def _window(seconds: float) -> str:
    return f"{max(1, round(seconds))}s"


class PrometheusSource:
    def __init__(self, settings: PromSettings, engine: EngineSettings,
                 clock: Clock = SYSTEM) -> None:
        self.s = settings
        self.engine = engine
        self.clock = clock
        self._client: httpx.AsyncClient | None = None

    async def __aenter__(self) -> PrometheusSource:
        self._client = httpx.AsyncClient(
            base_url=self.s.url.rstrip("/"), timeout=httpx.Timeout(self.s.timeout_s),
            headers=self.s.headers, auth=self.s.basic_auth, trust_env=False,
            follow_redirects=False)
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    def queries(self) -> dict[str, str]:
        window = _window(self.engine.window_s)
        out = {}
        for key in PROM_FIGURES:
            expr = figure_expr(key, self.engine, self.s.selector)
            if expr is not None:
                out[key] = expr.replace("[5m]", f"[{window}]")
        h = self.engine.names.latency_histogram
        sel = f"{{{self.s.selector}}}" if self.s.selector else ""
        out["_requests"] = f"sum(increase({h}_count{sel}[{window}]))"
        out["_p95_by_instance"] = (f"histogram_quantile(0.95, sum by (instance, le) "
                                   f"(rate({h}_bucket{sel}[{window}]))) * 1000")
        return out

    async def observe(self) -> PromSnapshot:
        t, wall = self.clock.now()
        started = time.perf_counter()
        queries = self.queries()
        jobs = {key: asyncio.create_task(self._vector(expr)) for key, expr in queries.items()}
        targets = asyncio.create_task(self._targets())
        alerts = asyncio.create_task(self._alerts())
        await asyncio.gather(*jobs.values(), targets, alerts, return_exceptions=True)
        values: dict[str, float | None] = {}
        reasons: dict[str, str] = {}
        errors = []
        for key, job in jobs.items():
            try:
                result = job.result()
            except Exception as e:  # PromError, or anything else: that figure is unknown
                text = str(e) if isinstance(e, PromError) else f"{type(e).__name__}: {e}"
                errors.append(text)
                values[key], reasons[key] = None, f"Prometheus: {text}"
                continue
            if key == "_p95_by_instance":
                continue
            if not result:
                values[key] = None
                reasons[key] = "Prometheus: the query returned nothing"
                continue
            v = result[0][1]
            values[key] = v if math.isfinite(v) else None
            if values[key] is None:
                reasons[key] = "Prometheus: no value (no traffic in the window?)"
        p95_by: dict[str, float] = {}
        if "_p95_by_instance" in jobs and not jobs["_p95_by_instance"].exception():
            for labels, v in jobs["_p95_by_instance"].result():
                if math.isfinite(v):
                    p95_by[labels.get("instance", "?")] = v
        all_failed = bool(errors) and len(errors) >= len(jobs)
        problems = []
        try:
            instances = tuple(
                InstanceStatus(i.name, i.up, i.error, p95_by.get(i.name)) for i in targets.result())
        except Exception as e:  # the figures may still be good: no instance list, said so
            instances = ()
            problems.append(f"Prometheus targets unavailable ({_why(e)}): instances unknown")
        try:
            external = alerts.result()
        except Exception as e:
            external = ()
            problems.append(f"Prometheus alerts unavailable ({_why(e)})")
        return PromSnapshot(
            t, wall, error=errors[0] if all_failed else None, values=values, reasons=reasons,
            requests=values.get("_requests"), instances=instances, alerts=external,
            elapsed_ms=(time.perf_counter() - started) * 1000.0,
            problems=() if all_failed else tuple(problems))

    async def history(self, key: str, seconds: float, step: float) -> list[tuple[float, float]]:
        """(wall, value) points of a figure over the last `seconds`, for the sparklines."""
        expr = self.queries().get(key)
        if expr is None:
            return []
        end = self.clock.now()[1]
        data = await self._get("/api/v1/query_range", {
            "query": expr, "start": f"{end - seconds:.3f}", "end": f"{end:.3f}",
            "step": f"{max(1.0, step):g}"})
        with _shape("query_range"):
            series = data.get("result") or []
            if not series:
                return []
            return [(float(stamp), _float(value)) for stamp, value in series[0].get("values", [])]

    async def _vector(self, expr: str) -> list[tuple[dict[str, str], float]]:
        data = await self._get("/api/v1/query", {"query": expr})
        with _shape("query"):
            if data.get("resultType") not in ("vector", "scalar"):
                raise PromError(f"unexpected result type {data.get('resultType')!r}")
            if data.get("resultType") == "scalar":
                return [({}, _float(data["result"][1]))]
            return [(dict(item.get("metric", {})), _float(item["value"][1]))
                    for item in data.get("result", [])]

    async def _targets(self) -> list[_Target]:
        data = await self._get("/api/v1/targets", {"state": "active"})
        wanted = _matchers(self.s.selector)
        out = []
        with _shape("targets"):
            for t in data.get("activeTargets", []):
                labels = t.get("labels", {})
                if not all(m(labels) for m in wanted):
                    continue
                out.append(_Target(str(labels.get("instance", t.get("scrapeUrl", "?"))),
                                   t.get("health") == "up", _text(t.get("lastError"))))
        return sorted(out, key=lambda x: x.name)

    async def _alerts(self) -> tuple[ExternalAlert, ...]:
        data = await self._get("/api/v1/alerts", {})
        out = []
        with _shape("alerts"):
            for a in data.get("alerts", []):
                labels = a.get("labels", {})
                out.append(ExternalAlert(
                    name=str(labels.get("alertname", "?")), state=str(a.get("state", "?")),
                    since=_text(a.get("activeAt")), severity=_text(labels.get("severity")),
                    summary=_text((a.get("annotations") or {}).get("summary"))))
        return tuple(out)

    async def _get(self, path: str, params: dict[str, str]) -> Any:
        assert self._client is not None, "use PrometheusSource as an async context manager"
        try:
            r = await self._client.get(path, params=params)
        except httpx.TimeoutException:
            raise PromError(f"no answer within {self.s.timeout_s:g} s") from None
        except httpx.HTTPError as e:
            raise PromError(f"unreachable ({type(e).__name__})") from None
        try:
            body = r.json()
        except ValueError:
            raise PromError(f"HTTP {r.status_code}, not JSON (is this Prometheus?)") from None
        if not isinstance(body, dict):
            raise PromError(f"HTTP {r.status_code}, not a Prometheus API answer")
        if r.status_code >= 400 or body.get("status") != "success":
            kind = body.get("errorType") or f"HTTP {r.status_code}"
            raise PromError(f"{kind}: {str(body.get('error') or '')[:200]}")
        data = body.get("data") or {}
        if not isinstance(data, dict):
            raise PromError("malformed answer: data is not an object")
        return data


@contextlib.contextmanager
def _shape(what: str) -> Iterator[None]:
    """An answer of the wrong shape is an error in words, never an exception in the tick."""
    try:
        yield
    except (KeyError, IndexError, TypeError, AttributeError, ValueError) as e:
        raise PromError(f"malformed {what} answer ({type(e).__name__})") from None


@dataclass(frozen=True)
class _Target:
    name: str
    up: bool
    error: str | None


def _float(text: Any) -> float:
    try:
        return float(text)  # Prometheus sends numbers as strings, so NaN and Inf survive
    except (TypeError, ValueError):
        return math.nan


def _why(e: BaseException) -> str:
    return str(e) if isinstance(e, PromError) else f"{type(e).__name__}: {e}"


def _text(value: Any) -> str | None:
    """A field Prometheus sends as a string, whatever an odd answer holds: text or None."""
    if value is None or value == "":
        return None
    return value if isinstance(value, str) else json.dumps(value)[:200]


_MATCHER = re.compile(r'\s*([A-Za-z_][A-Za-z0-9_]*)\s*(=~|!~|!=|=)\s*"((?:[^"\\]|\\.)*)"\s*,?')


def _matchers(selector: str) -> list[Callable[[Mapping[str, str]], bool]]:
    """The selector's label matchers (=, !=, =~, !~), to pick the targets as PromQL would."""
    out: list[Callable[[Mapping[str, str]], bool]] = []
    for name, op, raw in _MATCHER.findall(selector):
        value = re.sub(r"\\(.)", r"\1", raw)

        def match(labels: Mapping[str, str], name: str = name, op: str = op,
                  value: str = value) -> bool:
            got = str(labels.get(name, ""))
            if op == "=":
                return got == value
            if op == "!=":
                return got != value
            try:
                hit = re.fullmatch(value, got) is not None
            except re.error:
                return True  # Prometheus would have refused the query; hide no target
            return hit if op == "=~" else not hit

        out.append(match)
    return out
