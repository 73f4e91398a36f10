"""The UI-free session: what is collected (or replayed), judged and published once a tick.

A Session owns the tick loop, the history, the recorder, the controller and the canary state;
faces (the Textual console, `sbtop record`, `sbtop check`) subscribe to its snapshots or run it
for a number of ticks. Nothing here imports Textual."""
