"""User-facing errors: the CLI turns these into one line and exit code 2, with no traceback."""


class HmtlError(Exception):
    """Bad usage or bad input. The message names the file, row or key at fault."""
