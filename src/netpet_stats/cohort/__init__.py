"""A user's cohort in, the canonical analysis frame out.

``read`` (files), ``problems`` (every input problem, reported at once, never an
identifier), ``dates`` (times from dates), ``prepare`` (checking, scoring and
grouping) and ``ledger`` (who enters which analysis, and the patient flow).
"""
