"""Where figures come from: HTTP /metrics and /api/health (later the database and Prometheus).

Sources do the I/O and hand the engine plain observations; they never judge."""
