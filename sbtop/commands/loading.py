"""The config file of one run, read at most once and passed down to whatever needs it.

The rule, the same for every command: a command that needs the config (a target, its secrets,
its thresholds, ui.read_only) refuses a broken one, in one line, exit 3; `demo` and `replay`,
which take only the ui settings (theme, refresh) from it, say
`sbtop: warning: config error: ...: using the defaults` on stderr and go on. Never silent.
`init` and `timeline` do not read it at all.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING

from sbtop.commands.usage import UsageError

if TYPE_CHECKING:
    from sbtop.config import Config, UiConfig


class ConfigFile:
    """The config file the run names (--config, else $SBTOP_CONFIG, else the XDG path if it
    exists, else none), parsed on first use and never again."""

    def __init__(self, option: str | None) -> None:
        self.option = option
        self.reads = 0  # how often the file was parsed (at most once: tests hold us to it)
        self._path: Path | None = None
        self._config: Config | None = None
        self._names_secrets = False
        self._error: str | None = None
        self._said = False  # the permission warning, or the broken file's, said already

    def load(self) -> Config:
        """The config, or UsageError for a broken one; a file readable by others that names
        secrets is warned about."""
        from sbtop import config

        cfg = self._read()
        if cfg is None:
            raise UsageError(f"config error: {self._error}")
        if self._path is not None and not self._said:
            self._said = True
            warning = config.permission_warning(self._path, cfg, self._names_secrets)
            if warning:
                print(f"sbtop: {warning}", file=sys.stderr)
        return cfg

    def ui_or_defaults(self) -> UiConfig:
        """The ui settings, or the defaults with a warning when the file is broken: for the
        faces that take nothing else from it."""
        from sbtop.config import UiConfig

        cfg = self._read()
        if cfg is not None:
            return cfg.ui
        if not self._said:
            self._said = True
            print(f"sbtop: warning: config error: {self._error}: using the defaults",
                  file=sys.stderr)
        return UiConfig()

    def _read(self) -> Config | None:
        from sbtop import config

        if self.reads == 0:
            self.reads += 1
            self._path = config.find_config(self.option)
            try:
                self._config, self._names_secrets = config.read(self._path)
            except config.ConfigError as e:
                self._error = str(e)
        return self._config
