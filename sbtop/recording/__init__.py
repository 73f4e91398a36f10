"""Recordings: every tick's Assessment (as the difference from the one before), the canary's
state and the actions, in one gzip-compressed JSON-lines file. `record` and the console's
`--record` write them; `replay` and `timeline` read them."""
