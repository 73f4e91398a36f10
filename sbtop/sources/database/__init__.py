"""Sessions and connection pressure from PostgreSQL or CockroachDB, one polling connection.

The connection is sbtop's own: application_name 'sbtop', read-only, a statement timeout, left
out of every count. It is reused from poll to poll; when it breaks, the next poll reconnects,
and failed connects back off (1, 2, 4 ... 30 s) so a dead database is not hammered. Every failure
becomes a snapshot with a reason, never an exception to the caller.

CockroachDB is detected from version(). There, pg_stat_activity exists but is empty, so the
sessions come from crdb_internal.cluster_sessions and cluster_queries, whose columns differ
between versions: rows are read by column name (see `crdb_snapshot`).

The modules: `source` the connection and its polls, `postgres` and `cockroach` what each
server is asked and how its rows become a snapshot, `backoff` when to try again, `shown` how
the database's text is shown. This package re-exports what callers use.
"""

from __future__ import annotations

from sbtop.sources.database.cockroach import crdb_snapshot
from sbtop.sources.database.postgres import pg_snapshot
from sbtop.sources.database.source import DatabaseSource
from sbtop.sources.settings import DbSettings

__all__ = ["DatabaseSource", "DbSettings", "crdb_snapshot", "pg_snapshot"]
