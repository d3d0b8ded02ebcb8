"""``python -m kerasbench.cli`` = ``kerasbench``."""

from kerasbench.cli import entry_point

entry_point()
