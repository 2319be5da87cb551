"""One error type for user mistakes: the CLI prints it as one line, the API as {error, detail}."""


class UserError(Exception):
    """A problem the user can fix (bad input, missing file, wrong state); never a traceback."""

    exit_code = 2
    status_code = 400

    def __init__(self, message: str, *, exit_code: int | None = None) -> None:
        super().__init__(message)
        if exit_code is not None:
            self.exit_code = exit_code


def first_line(error: BaseException) -> str:
    """The first line of an error's message (a driver error's own, not SQLAlchemy's wrapper),
    for a one-line log entry."""
    message = str(getattr(error, "orig", None) or error).strip()
    return message.splitlines()[0] if message else type(error).__name__
