"""The one exception family a user can fix: bad settings, data, device or run folder."""


class UsageError(Exception):
    """Printed as one line (`mnist-tui: <message>`), exit status 2, no traceback."""
