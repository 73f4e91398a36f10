"""What a user asks the actions layer for, and what an action is done with: typed, where they
cross from the console and the CLI to the controller and on to the providers.

StrEnums, so the audit log and the state file still write the words they always wrote
("canary next", "rollback"); `Params.shown()` is the parameters exactly as they are recorded.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any


class Action(enum.StrEnum):
    """What a provider is asked to do (and the key of its command in the config)."""

    CANARY = "canary"
    RESTART = "restart"
    ROLLBACK = "rollback"


class Request(enum.StrEnum):
    """What a user asks for: a key in the console, a subcommand on the command line."""

    CANARY_NEXT = "canary next"
    CANARY_SET = "canary set"
    CANARY_ABORT = "canary abort"
    RESTART = "restart"
    ROLLBACK = "rollback"

    @property
    def action(self) -> Action:
        return Action.CANARY if self.value.startswith("canary") else Action(self.value)


@dataclass(frozen=True, slots=True)
class RollbackTarget:
    """The deploy a rollback goes back to, as the provider listed it, and the deploy it
    leaves (neither is a later rollback's target)."""

    deploy: Mapping[str, Any] = field(default_factory=dict)
    leaves: str | None = None

    @property
    def id(self) -> str | None:
        value = self.deploy.get("id")
        return None if value is None else str(value)


@dataclass(frozen=True, slots=True)
class Params:
    """What an action is done with. A canary step: the flag, the percentage and the one it
    was at when planned (None: unknown). A rollback: the deploys never to go back to, and the
    target once the provider has looked it up."""

    flag: str | None = None
    percent: int | None = None
    from_percent: int | None = None
    skip: tuple[str, ...] | None = None
    target: RollbackTarget | None = None

    def shown(self) -> dict[str, Any]:
        """As the audit log and the state file record them: a rollback target by its id."""
        return self._as_dict(self.target.id if self.target is not None else None)

    def whole(self) -> dict[str, Any]:
        """With the rollback target whole (a refusal at the confirmation has always recorded
        it so)."""
        target = None if self.target is None else {**self.target.deploy,
                                                   "_from": self.target.leaves}
        return self._as_dict(target)

    def _as_dict(self, target: object) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if self.skip is not None:
            out["skip"] = list(self.skip)
        if self.target is not None:
            out["target"] = target
        if self.flag is not None:
            out.update({"flag": self.flag, "percent": self.percent, "from": self.from_percent})
        elif self.percent is not None:
            out["percent"] = self.percent
        return out
