"""Domain errors raised by services and turned into HTTP answers by j3d.lib.api.

Services stay free of HTTP: they raise these (or Django's ValidationError for bad fields), and the
API layer decides the status code.
"""


class DomainError(Exception):
    """A request that is well-formed but cannot be carried out."""


class Conflict(DomainError):
    """The current state of a row forbids the change (answered with 409)."""


class NotFound(DomainError):
    """The object does not exist for this user (answered with 404)."""
