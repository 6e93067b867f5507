"""User-facing errors: the CLI turns these into one line and exit code 2, with no traceback."""


class HmtlError(Exception):
    """Bad usage or bad input. The message names the file, row or key at fault. It is always
    one line: line breaks that come with user data (a column name, a cell) are shown escaped."""

    def __init__(self, message: object = ""):
        text = str(message).replace("\r", "\\r").replace("\n", "\\n")
        super().__init__(text)
