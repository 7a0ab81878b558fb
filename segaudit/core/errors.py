"""The error types the CLI maps to exit codes: bad user input (2) and work that partly failed and can be resumed (4)."""

from __future__ import annotations

from pathlib import Path


class InputError(Exception):
    """Input that is wrong in a way the user can fix: names the file, row and field where it can.

    Library code raises it; `segaudit` prints the message and exits with code 2.
    """

    def __init__(
        self,
        message: str,
        *,
        path: str | Path | None = None,
        row: int | None = None,
        field: str | None = None,
    ) -> None:
        self.message = message
        self.path = None if path is None else Path(path)
        self.row = row
        self.field = field
        super().__init__(str(self))

    def __str__(self) -> str:
        where = []
        if self.path is not None:
            where.append(str(self.path))
        if self.row is not None:
            where.append(f"row {self.row}")
        if self.field is not None:
            where.append(f"field '{self.field}'")
        return f"{': '.join(where)}: {self.message}" if where else self.message


class PartialFailure(Exception):
    """Work that failed in part for reasons outside the input (a worker or a cluster node died for good) while
    the rest is kept, so that running the same command again resumes it.

    Library code raises a subclass (e.g. audit.privacy.executors.ShadowsFailed); `segaudit` prints the message
    and exits with code 4.
    """
