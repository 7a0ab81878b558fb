"""The `segaudit` command: a thin layer of argument parsing over functions a notebook can call."""
