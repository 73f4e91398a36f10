"""Database: sessions by state, connection pressure, the oldest transaction, lock waits.

`enter` opens the sessions view (the longest-running queries, and cancelling one)."""

from __future__ import annotations

from textual.app import ComposeResult

from sbtop import format
from sbtop.console import marks
from sbtop.console.marks import esc
from sbtop.console.messages import SessionsRequested
from sbtop.console.widgets.panel import Line, Panel, Rows
from sbtop.engine.assessment import Assessment
from sbtop.engine.detail import Detail
from sbtop.engine.keys import Fig
from sbtop.engine.statements import StatementsView
from sbtop.session.snapshot import Snapshot


class DatabasePanel(Panel):
    title = "Database"

    def __init__(self, *, dsn_given: bool, id: str | None = None) -> None:
        super().__init__(id=id)
        self._dsn_given = dsn_given
        self.add_class("-no-statements")

    def compose(self) -> ComposeResult:
        if self._dsn_given:
            yield Line("[$text-muted]connecting…[/]", id="db-conns")
            yield Line(id="db-states")
            yield Line(id="db-extra")
            # The top statement, or the N+1 hint (not at 80x24: key S shows them there);
            # no room taken while there are none (not read, or no database).
            yield Line(id="db-statements")
        else:
            # One widget for both lines: it sits beside the lines that change every tick, and
            # the compositor visits every widget there on each frame.
            rows = Rows()
            rows.set(["no database configured",
                      "[$text-muted]set dsn_env on the target, or --dsn[/]"])
            yield rows

    def draw(self, a: Assessment, s: Snapshot) -> None:
        if not self._dsn_given:
            self.set_state("-unknown", None)
            return
        f = a.figures
        conns = f.get(Fig.DB_CONNECTIONS_PCT)
        sessions = f.get(Fig.DB_SESSIONS)
        source = a.sources.get("db")
        if source is not None and not source.up:
            # Down says so first, whatever older values are kept below it.
            reason = esc(source.error or "")
            self.query_one("#db-conns", Line).set(f"[b $warning]DOWN[/] {reason}")
            d = sessions.detail if sessions is not None and sessions.stale_s is not None else None
            self.query_one("#db-states", Line).set(
                f"[$text-muted]last seen: {d.active} active, {d.idle or 0} idle"
                f" ({format.duration(sessions.stale_s or 0)} ago)[/]"
                if d is not None and d.active is not None and sessions else
                "[$text-muted]retrying by itself[/]")
            self.query_one("#db-extra", Line).set("")
            self.query_one("#db-statements", Line).set("")
            self.set_class(True, "-no-statements")
            self.set_state("-down", "DOWN")
            return
        pool = f.get(Fig.DB_POOL_PCT)
        first = marks.figure(conns, label="conns") if conns is not None and (
            conns.value is not None) else "[$text-muted]conns: no limit known[/]"
        if pool is not None:
            first += "  " + marks.figure(pool, label="pool")
        elif sessions is not None and sessions.value is not None and conns is not None:
            cap = conns.detail.capacity
            if cap:
                first += f" [$text-muted]{conns.detail.sessions}/{cap}[/]"
        if source is not None and source.elapsed_ms:
            # The poll's own cost, in sight: sbtop must not be the load it is watching.
            first += f"  [$text-muted]poll {source.elapsed_ms:.0f} ms[/]"
        self.query_one("#db-conns", Line).set(first)
        d = sessions.detail if sessions is not None else Detail()
        states = (f"[$text-muted]act[/] {_count(d.active)} [$text-muted]idle[/] "
                  f"{_count(d.idle)} [$text-muted]txn[/] {_count(d.idle_in_transaction)}"
                  f" [$text-muted]abort[/] {_count(d.idle_in_transaction_aborted)} "
                  f"[$text-muted]wait[/] {_count(d.waiting)}")
        if sessions is not None and sessions.stale_s is not None:
            states += " [b $warning]STALE[/]"
        self.query_one("#db-states", Line).set(states)
        self.query_one("#db-extra", Line).set(self._extra(a))
        # The connections' line is always shown: the panel's width is read from it.
        width = self.query_one("#db-conns", Line).size.width or 10_000
        self.query_one("#db-statements", Line).set(statements_line(a.statements, width))
        self.set_class(a.statements is None, "-no-statements")
        if sessions is not None and sessions.stale_s is not None:
            self.set_state("-stale", f"STALE: {source.error if source else ''}"[:40])
        else:
            self.judge(a, (Fig.DB_CONNECTIONS_PCT, Fig.DB_POOL_PCT))

    def action_chart(self) -> None:
        if self._dsn_given:
            self.post_message(SessionsRequested())
        else:
            self.app.notify("no database configured: give --dsn or set dsn_env")

    @staticmethod
    def _extra(a: Assessment) -> str:
        snap = a.db
        if snap is None:
            return ""
        if snap.hidden:
            # First: the counts above are only as good as what this role may see.
            return f"[b $warning]{snap.hidden} sessions hidden[/] (grant pg_read_all_stats)"
        if snap.blocked:
            pairs = ", ".join(f"{b}←{by}" for b, by in snap.blocked[:3])
            more = f" +{len(snap.blocked) - 3}" if len(snap.blocked) > 3 else ""
            return f"[b $warning]blocked[/] {esc(pairs)}{more}"
        if snap.oldest_xact is not None and snap.oldest_xact.duration_s is not None:
            o = snap.oldest_xact
            return (f"[$text-muted]oldest txn[/] {format.duration(o.duration_s or 0)} "
                    f"[$text-muted]pid[/] {esc(o.id)}")
        return "[$text-muted]no open transaction, no lock waits[/]"


def statements_line(v: StatementsView | None, width: int = 10_000) -> str:
    """The N+1 hint when there is one, else the statement with the most time, else why none.
    A reason longer than `width` keeps its first clause ('pg_stat_statements is not
    installed') and points at S, whose view says the rest (how to enable it)."""
    if v is None:
        return ""
    if v.reason is not None:
        head = v.reason.split(": ", 1)[0]
        for said in (v.reason, f"{head} (S for more)", head):
            if len(f"stmts: {said}") <= width:
                break
        return f"[$text-muted]stmts: {esc(said)}[/]"
    if v.hint is not None:
        suspect = next((s for s in v.by_calls if s.id == v.hint_id), None)
        text = suspect.text if suspect is not None and suspect.text else v.hint_id or ""
        return f"[b]{esc(v.hint)}[/] {esc(text)}"
    if not v.by_total:
        return "[$text-muted]stmts: none ran in the window[/]"
    top = v.by_total[0]
    mean = "-" if top.mean_ms is None else f"{top.mean_ms:.1f} ms"
    return (f"[$text-muted]top[/] {top.total_ms_per_s:.0f} ms/s [$text-muted]mean[/] {mean} "
            f"{esc(top.text or top.id)}")


def _count(n: int | None) -> str:
    return "-" if n is None else str(n)
