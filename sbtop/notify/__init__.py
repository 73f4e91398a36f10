"""Who knows: notifications of what changed (an alert fired or resolved, the canary gate turned
red, a watch period ended, an action finished) by the terminal's bell, a desktop notification
(OSC 777 and OSC 9, which travel over SSH) and a Slack-shaped webhook. The events are found
by the engine (sbtop.engine.transitions); sending them is here."""
