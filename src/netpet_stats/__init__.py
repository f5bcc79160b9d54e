"""netpet-stats: reproducible survival-analysis validation of the NETPET score.

The generic survival-validation core (``kaplan_meier``, ``logrank``, ``cox``,
``concordance``, ``association``, ``baseline``) works for any endpoint, grouping,
covariates and strata; ``netpet`` holds everything specific to the score, and
``cohort`` turns a user's table into the canonical analysis frame.
"""

__version__ = "0.1.0"
