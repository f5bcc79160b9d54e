"""Orchestration: one module per rule group, called by ``workflow/scripts/<rule>.py``.

A step reads the files its rule declares as input, calls the engine, the
validation layer and presentation, and writes the files its rule declares as
output; it reads no other file. :func:`rule_context` sends logging and warnings
to the rule's log and turns the errors a user can cause (a cohort or frozen
model that does not fit the configuration) into one readable message.
"""

from ._runner import rule_context

__all__ = ["rule_context"]
