"""The dashboard's own error type, so the command line can report it in one line without the
dashboard importing the command line."""


class DashboardError(Exception):
    """The dashboard cannot start as asked; the message is the one line the user sees."""
