"""Rule survival_by_group: Kaplan-Meier estimates by group and the log-rank tests."""

from __future__ import annotations

from . import kaplan_meier, logrank
from ._common import load_analysis


def run(config: dict, analysis: str, endpoint: str, out) -> None:
    """The analysis frame read once; its KM estimates and log-rank tests for ``endpoint``.

    ``out`` maps the outputs of :func:`.kaplan_meier.write_estimates` and
    :func:`.logrank.write_tests` to paths.
    """
    data = load_analysis(analysis, config)
    kaplan_meier.write_estimates(config, data, endpoint, out)
    logrank.write_tests(config, data, endpoint, out)
