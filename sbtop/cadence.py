"""How often the faces show what changes every tick but is read slowly.

Not the engine's business (it judges every tick alike): a display cadence. It is shared because
a recording keeps the route table exactly as often as the console redraws it, so a replay shows
the tables the live console showed, and no more bytes than that.
"""

from __future__ import annotations

# The route table changes every tick and is read row by row: the console redraws it this
# often (cheaper on a slow link), and a recording keeps it as often, no more.
ROUTES_REDRAW_S = 5.0


def routes_due(last_t: float | None, now_t: float, had_routes: bool) -> bool:
    """Whether the route table is drawn, and kept by a recording, anew at `now_t`: once
    ROUTES_REDRAW_S has passed since the last one, at once when time went back (a replay
    sought), and every tick while the last one had no route to show (the first routes come
    with the second scrape, half a second in: a panel still saying "waiting for a second
    scrape" would contradict the figures beside it)."""
    return last_t is None or not had_routes or not 0 <= now_t - last_t < ROUTES_REDRAW_S

# The console's second scrape, this long after its first when the refresh is longer: the first
# rates and quantiles (increases between two scrapes, over their actual time apart, and under
# the engine's minimum of requests like any other) come that much sooner. After it, the ticks
# keep the refresh's grid from the first.
SECOND_SCRAPE_S = 0.5
