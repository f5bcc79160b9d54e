"""A user's cohort in, the canonical analysis frame out.

``read`` (files), ``problems`` (every input problem, reported at once, never an
identifier), ``distinct`` (a column's cells by distinct value, read once each),
``dates`` (times from dates), ``prepare`` (checking, scoring and grouping) and
``ledger`` (who enters which analysis, and the patient flow).
"""
