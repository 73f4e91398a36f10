"""The live console: the only part of sbtop that imports Textual."""
