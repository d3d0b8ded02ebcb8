"""``python -m kerasbench ...`` is the ``kerasbench`` command."""

from kerasbench.cli import entry_point

entry_point()
