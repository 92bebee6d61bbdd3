"""The `npusim` command: `main.py` builds the parser, one module per verb does the work."""

from simulator.cli.main import main

__all__ = ["main"]
