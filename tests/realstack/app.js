// A small Express app instrumented the ways StudyBuddy-like teams really do it, for sbtop's
// tests against the ecosystem's own packages (express 5, prom-client 15, express-prom-bundle 8,
// socket.io 4). One shape per process:
//
//   hand-status       hand-written prom-client middleware (the runbook's shape): histogram
//                     http_request_duration_seconds{method,route,status_code} and counter
//                     http_requests_total{method,route,status}; gauge active_websocket_connections
//   hand-status-code  the same, the counter labelled status_code
//   bundle            express-prom-bundle: no request counter, the histogram by
//                     method/path/status_code with its coarse default buckets; the socket gauge
//                     socket_io_connected and socket_io_events_received_total{event}
//
// Every shape calls collectDefaultMetrics (process_resident_memory_bytes,
// nodejs_eventloop_lag_seconds, process_start_time_seconds, ...).
//
// Cohorts (hand shapes only, off unless PERF_OPTIMIZATIONS_ENABLED is set): the runbook's flag
// drawn per request, `variant` = "optimized" for that share and "baseline" for the rest, put on
// the histogram and the counter as a label; the optimized path's /api/work takes
// SBTOP_TEST_OPTIMIZED_SLOWDOWN times as long (default 1), a slow canary on demand.
//
// GET /api/work?ms=N&status=S answers S after N ms. GET /api/health answers Express-style JSON
// without a memory limit. Anything else is a 404 whose route label is the raw path, as
// unmatched routes are in many apps. Prints "listening PORT" once it listens.
"use strict";

const http = require("http");
const express = require("express");
const client = require("prom-client");
const { Server } = require("socket.io");

const shape = process.argv[2] || "hand-status";
const port = Number(process.argv[3] || 0);
if (!["hand-status", "hand-status-code", "bundle"].includes(shape)) {
  console.error(`unknown shape ${shape}`);
  process.exit(2);
}

const app = express();
const register = client.register;
let sockets = null;

// POST /__test/metrics-delay?ms=N&times=K&agent=A: the next K answers of /metrics to a
// client whose User-Agent contains A come N ms late (a slow instance, or a first scrape that
// times out), Prometheus's scrapes untouched. Mounted first, so no metric counts it.
let metricsDelay = { ms: 0, times: 0, agent: "" };
app.post("/__test/metrics-delay", (req, res) => {
  metricsDelay = {
    ms: Number(req.query.ms || 0), times: Number(req.query.times || 1),
    agent: String(req.query.agent || ""),
  };
  res.json(metricsDelay);
});
app.use("/metrics", (req, _res, next) => {
  if (metricsDelay.times <= 0 || !(req.get("user-agent") || "").includes(metricsDelay.agent)) {
    return next();
  }
  metricsDelay.times -= 1;
  setTimeout(next, metricsDelay.ms);
});

if (shape === "bundle") {
  const promBundle = require("express-prom-bundle");
  app.use(promBundle({
    includeMethod: true,
    includePath: true,
    promClient: { collectDefaultMetrics: {} },
  }));
  sockets = {
    connected: new client.Gauge({ name: "socket_io_connected", help: "connected sockets" }),
    received: new client.Counter({
      name: "socket_io_events_received_total", help: "events received", labelNames: ["event"],
    }),
  };
} else {
  client.collectDefaultMetrics();
  const statusLabel = shape === "hand-status" ? "status" : "status_code";
  const flag = process.env.PERF_OPTIMIZATIONS_ENABLED;
  const cohorts = flag !== undefined && flag !== "";
  const extra = cohorts ? ["variant"] : [];
  const duration = new client.Histogram({
    name: "http_request_duration_seconds",
    help: "Duration of HTTP requests in seconds",
    labelNames: ["method", "route", "status_code", ...extra],
  });
  const requests = new client.Counter({
    name: "http_requests_total",
    help: "Total number of HTTP requests",
    labelNames: ["method", "route", statusLabel, ...extra],
  });
  app.use((req, res, next) => {
    // Scrapes are not traffic (express-prom-bundle leaves its own route out too).
    if (req.path === "/metrics") return next();
    const end = duration.startTimer();
    const labels = {};
    if (cohorts) {
      // The runbook's flag, drawn once per request; the handlers read res.locals.variant.
      const variant = Math.random() * 100 < parseInt(flag, 10) ? "optimized" : "baseline";
      res.locals.variant = variant;
      labels.variant = variant;
    }
    res.on("finish", () => {
      const route = req.route ? req.baseUrl + req.route.path : req.path;
      end({ method: req.method, route, status_code: res.statusCode, ...labels });
      requests.inc({ method: req.method, route, [statusLabel]: res.statusCode, ...labels });
    });
    next();
  });
  app.get("/metrics", async (_req, res) => {
    res.set("Content-Type", register.contentType);
    res.end(await register.metrics());
  });
  sockets = {
    connected: new client.Gauge({
      name: "active_websocket_connections", help: "open WebSocket connections",
    }),
    received: new client.Counter({
      name: "websocket_messages_total", help: "messages received", labelNames: ["event"],
    }),
  };
}

app.get("/api/work", (req, res) => {
  const slowdown = res.locals.variant === "optimized"
    ? Number(process.env.SBTOP_TEST_OPTIMIZED_SLOWDOWN || 1) : 1;
  const ms = Math.max(0, Number(req.query.ms || 0)) * slowdown;
  const status = Number(req.query.status || 200);
  setTimeout(() => res.status(status).json({ ok: status < 400, ms }), ms);
});

app.get("/api/health", (_req, res) => {
  const m = process.memoryUsage();
  res.json({ status: "ok", uptime: process.uptime(), memory: { rss: m.rss, heapUsed: m.heapUsed } });
});

app.use((req, res) => res.status(404).json({ error: "not found", path: req.path }));

const server = http.createServer(app);
const io = new Server(server);
io.on("connection", (socket) => {
  sockets.connected.inc();
  socket.onAny((event) => sockets.received.inc({ event }));
  socket.on("disconnect", () => sockets.connected.dec());
});

server.listen(port, "127.0.0.1", () => {
  console.log(`listening ${server.address().port}`);
});
for (const sig of ["SIGTERM", "SIGINT"]) {
  process.on(sig, () => { io.close(); server.close(); process.exit(0); });
}
