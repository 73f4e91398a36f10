"""sbtop: htop for a web backend in the middle of a deploy."""

__version__ = "0.1.0"
