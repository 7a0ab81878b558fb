"""segaudit's audits: metrics, statistics, fairness, privacy, the gate and the `segaudit` command."""

__version__ = "0.1.0"
