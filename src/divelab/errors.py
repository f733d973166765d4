"""Errors a user can cause. The CLI prints them as one line ``error: …`` and exits with 2."""


class UserError(Exception):
    """A mistake the user can fix: the message says what is wrong and what to do."""


class DataError(UserError):
    """Data that is missing, unreadable or corrupt; the message names the file."""


class CheckpointError(UserError):
    """A checkpoint that is missing, corrupt, or belongs to another run."""
