// A paced load generator that logs every request, so a test knows the truth.
//
//   node load.js PLAN_JSON LOG_FILE
//
// PLAN_JSON: {"targets": [{"name": "a", "url": "http://127.0.0.1:P", "rps": 40,
//              "cycle": [{"ms": 40, "status": 200}, ...]}, ...],
//             "sockets": [{"url": "...", "clients": 7, "msgs_per_s": 2}]}
// Each target gets `rps` requests a second, walking its cycle in order (so a cycle of 20 with
// one 500 is exactly 5 % 5xx), each GET /api/work?ms=..&status=.. sent at its scheduled time
// whatever the earlier ones are doing. Every answer is one JSON line in LOG_FILE:
// {"t": name, "start": epoch_ms, "end": epoch_ms, "status": 200}. socket.io clients connect and
// send events. Prints "ready" once every socket is connected; SIGTERM stops it.
"use strict";

const fs = require("fs");
const http = require("http");
const { io } = require("socket.io-client");

const plan = JSON.parse(process.argv[2]);
const log = fs.createWriteStream(process.argv[3], { flags: "a" });
const agent = new http.Agent({ keepAlive: true, maxSockets: 256 });
const timers = [];

function send(target, step) {
  const start = Date.now();
  const url = `${target.url}/api/work?ms=${step.ms}&status=${step.status}`;
  const req = http.get(url, { agent }, (res) => {
    res.resume();
    res.on("end", () => {
      log.write(JSON.stringify({ t: target.name, start, end: Date.now(), status: res.statusCode, ms: step.ms }) + "\n");
    });
  });
  req.on("error", () => {
    log.write(JSON.stringify({ t: target.name, start, end: Date.now(), status: null, ms: step.ms }) + "\n");
  });
}

for (const target of plan.targets || []) {
  let i = 0;
  const began = Date.now();
  let sent = 0;
  // Catch up to the schedule every 10 ms: the rate holds whatever the timer's jitter.
  timers.push(setInterval(() => {
    const due = Math.floor(((Date.now() - began) / 1000) * target.rps);
    while (sent < due) {
      send(target, target.cycle[i % target.cycle.length]);
      i += 1;
      sent += 1;
    }
  }, 10));
}

const clients = [];
let pending = 0;
for (const s of plan.sockets || []) {
  for (let k = 0; k < s.clients; k += 1) {
    pending += 1;
    const c = io(s.url, { transports: ["websocket"], reconnection: true });
    c.once("connect", () => {
      pending -= 1;
      if (pending === 0) console.log("ready");
    });
    if (s.msgs_per_s > 0) {
      timers.push(setInterval(() => { if (c.connected) c.emit("chat", "hi"); }, 1000 / s.msgs_per_s));
    }
    clients.push(c);
  }
}
if (pending === 0) console.log("ready");

process.on("SIGTERM", () => {
  timers.forEach(clearInterval);
  clients.forEach((c) => c.close());
  log.end(() => process.exit(0));
});
