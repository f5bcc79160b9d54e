"""The federation's one error type (a module of its own: every rule's runner imports it)."""


class ProtocolError(ValueError):
    """A bundle that breaks the protocol (schema, round, settings, site)."""
