"""The survival engine: arrays and frames in, results out.

Kaplan-Meier, log-rank tests, the Efron Cox model with its covariate coding,
competing risks (Aalen-Johansen, Gray's test, Fine-Gray),
Harrell's and Uno's concordance, association tests and Table 1, with the compiled
loops behind them. It knows nothing of configuration files, NETPET or centres,
and imports nothing from the rest of the package.
"""
