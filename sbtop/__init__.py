"""sbtop: htop for a web backend in the middle of a deploy."""

__version__ = "0.1.0"

import sys as _sys

# httpx imports its command-line client at import time when click is installed (it is, for
# other tools): click, pygments and rich's progress bars, ~25 ms and ~3 MB that sbtop never
# uses. Marking the module absent makes httpx skip it (its own fallback for a missing extra).
if "httpx" not in _sys.modules:
    _sys.modules.setdefault("httpx._main", None)  # type: ignore[arg-type]
