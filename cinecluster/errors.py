"""One error type for user mistakes: the CLI prints it as one line, the API as {error, detail}."""


class UserError(Exception):
    """A problem the user can fix (bad input, missing file, wrong state); never a traceback."""

    exit_code = 2
    status_code = 400

    def __init__(self, message: str, *, exit_code: int | None = None) -> None:
        super().__init__(message)
        if exit_code is not None:
            self.exit_code = exit_code
