"""The configuration: TOML in, typed and validated objects out, the runbook's values as defaults.

Every mistake is reported as one line naming the key path ("targets.prod.timeout_s: expected a
number, got the string '5'"), never a traceback. Secrets never live in the file: it names the
environment variables that hold them, and they are read only when a target is resolved.

The package's modules, each for one thing: `schema` (msgspec Structs), `binding` (TOML
into them, by msgspec), `validation`, `files` (finding and reading the file), `settings` (the
engine's settings from it), `secrets` (credentials from the environment), `resolve` (choosing
the target and applying the command line), `compose` (the composition root: each subsystem's
settings, as a sbtop.wiring.Wiring), `probes` (the checklist as HTTP probes), `values` (the
checks and words they share). The names below are the package's interface: `from sbtop
import config; config.X`. Outside sbtop.config only the commands import it (an import-linter
contract).
"""

from __future__ import annotations

from sbtop.config.compose import gate_settings
from sbtop.config.errors import ConfigError
from sbtop.config.files import (
    default_path,
    find_config,
    load,
    parse,
    permission_warning,
    read,
)
from sbtop.config.probes import probes
from sbtop.config.resolve import instance_names, resolve
from sbtop.config.schema import (
    ActionsConfig,
    AlertConfig,
    AuthConfig,
    CanaryConfig,
    CanaryGateConfig,
    CommandActionsConfig,
    Config,
    DbConfig,
    EngineConfig,
    HealthFieldsConfig,
    HttpActionsConfig,
    MetricsConfig,
    PrometheusConfig,
    RenderConfig,
    StatusPageConfig,
    TargetConfig,
    ThresholdConfig,
    UiConfig,
    VerificationConfig,
    VerifyConfig,
    schema_paths,
)
from sbtop.config.settings import engine_settings, merged_thresholds
from sbtop.config.validation import HTTP_METHODS
from sbtop.config.values import duration_seconds
from sbtop.wiring import Secrets, Wiring

__all__ = [
    "HTTP_METHODS",
    "ActionsConfig",
    "AlertConfig",
    "AuthConfig",
    "CanaryConfig",
    "CanaryGateConfig",
    "CommandActionsConfig",
    "Config",
    "ConfigError",
    "DbConfig",
    "EngineConfig",
    "HealthFieldsConfig",
    "HttpActionsConfig",
    "MetricsConfig",
    "PrometheusConfig",
    "RenderConfig",
    "Secrets",
    "StatusPageConfig",
    "TargetConfig",
    "ThresholdConfig",
    "UiConfig",
    "VerificationConfig",
    "VerifyConfig",
    "Wiring",
    "default_path",
    "duration_seconds",
    "engine_settings",
    "find_config",
    "gate_settings",
    "instance_names",
    "load",
    "merged_thresholds",
    "parse",
    "permission_warning",
    "probes",
    "read",
    "resolve",
    "schema_paths",
]
