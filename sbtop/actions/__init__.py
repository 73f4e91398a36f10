"""Actions that touch production: canary steps, restarts, rollbacks. No Textual here: the
console and the CLI call the same code."""
