"""The application layer: the `segaudit` command, the whole-audit pipeline and the demo."""
