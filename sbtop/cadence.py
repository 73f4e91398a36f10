"""How often the faces show what changes every tick but is read slowly.

Not the engine's business (it judges every tick alike): a display cadence. It is shared because
a recording keeps the route table exactly as often as the console redraws it, so a replay shows
the tables the live console showed, and no more bytes than that.
"""

from __future__ import annotations

# The route table changes every tick and is read row by row: the console redraws it this
# often (cheaper on a slow link), and a recording keeps it as often, no more.
ROUTES_REDRAW_S = 5.0

# The console's second scrape, this long after its first when the refresh is longer: the first
# rates and quantiles (increases between two scrapes, over their actual time apart, and under
# the engine's minimum of requests like any other) come that much sooner. After it, the ticks
# keep the refresh's grid from the first.
SECOND_SCRAPE_S = 0.5
