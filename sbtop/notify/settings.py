"""What the notifier and the console's help are told: plain values, no I/O."""

from __future__ import annotations

from dataclasses import dataclass, field

# The desktop notifications' two spellings: OSC 777 (VTE, kitty, foot, WezTerm, rxvt) and
# OSC 9 (iTerm2, Windows Terminal, WezTerm, ConEmu). Terminals ignore the one they do not know.
DESKTOP_SEQUENCES = ("777", "9")


@dataclass(frozen=True)
class NotifySettings:
    bell: bool = True
    desktop: tuple[str, ...] = DESKTOP_SEQUENCES  # empty: no desktop notification
    webhook_url: str | None = field(default=None, repr=False)  # the URL is the secret
    webhook_env: str = ""  # the variable it was read from, to name it in messages
    webhook_timeout_s: float = 5.0
    webhook_every_s: float = 60.0  # at most one message a kind in this time; more are summed
    # The webhook named in its config but its variable empty: said once, the rest works.
    problem: str = ""

    @property
    def any(self) -> bool:
        return self.bell or bool(self.desktop) or self.webhook_url is not None


@dataclass(frozen=True)
class Contacts:
    """The runbook's section 9: who is on call, where to talk, where to tell customers."""

    primary: str = ""
    secondary: str = ""
    escalation: str = ""
    slack_channel: str = ""
    status_page: str = ""

    def lines(self) -> list[str]:
        """One line for the people, one for where to talk; nothing when none is set."""
        people = [f"{k} {v}" for k, v in (("primary", self.primary),
                                          ("secondary", self.secondary),
                                          ("escalation", self.escalation)) if v]
        places = [f"{k} {v}" for k, v in (("Slack", self.slack_channel),
                                          ("status page", self.status_page)) if v]
        out = []
        if people:
            out.append("On call: " + ", ".join(people))
        if places:
            out.append("Tell: " + ", ".join(places))
        return out
