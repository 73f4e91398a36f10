"""The one exception of the configuration, apart so every module of the package (and the
starter) can raise it without importing the rest."""

from __future__ import annotations


class ConfigError(Exception):
    """A configuration mistake, already phrased for the person who made it."""
