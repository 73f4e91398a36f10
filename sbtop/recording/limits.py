"""What a recording can make the reader hold at most, whatever is in it: a line over MAX_LINE is
skipped unread, the whole text is read up to MAX_TEXT, and the per-tick arrays, the series and
the events kept stop at their own caps (the recording says what was not read, and why).
"""

MiB = 1024 * 1024
# One line: far above any tick sbtop writes (a whole snapshot with a large route table is a
# few hundred KiB); a line longer is not a recording's, and is skipped without being held.
MAX_LINE = 8 * MiB
# The whole text: over 20 days of 1 s ticks; a gzip bomb stops here instead of at the disk's
# or the patience's end.
MAX_TEXT = 4 * 1024 * MiB
# Text from a whole snapshot to the last change built on it (sbtop writes a snapshot every 60
# ticks): what one seek reads at most, and what changes can pile onto one snapshot.
MAX_SPAN = 16 * MiB
MAX_TICKS = 1_000_000  # 11.5 days of 1 s ticks: bounds the per-tick arrays
MAX_SERIES = 32  # figures with a per-tick array (sbtop makes about 15)
MAX_EVENT_BYTES = 4 * MiB  # events kept in memory (an action is a few hundred bytes)
