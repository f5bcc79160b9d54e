"""Command line: ``netpet-stats validate`` and ``netpet-stats synthetic``.

The workflow itself runs through Snakemake (see README); the CLI covers the
steps a user runs by hand. ``validate --config X`` reads the configuration exactly
as ``snakemake --configfile X`` does (:func:`netpet_stats.config.load_config`):
``config/config.yaml`` first, then X over it, defaults from the schema.
"""

from __future__ import annotations

import argparse
import sys

from . import __version__


def _validate(config_files: list[str] | None) -> int:
    from .cohort.prepare import check_analysable, prepare_cohort
    from .cohort.problems import CohortValidationError
    from .config import ConfigError, load_config
    from .steps._runner import report_cohort_problems

    try:
        config = load_config(config_files)
        prepared = prepare_cohort(config)
        check_analysable(prepared, config)
    except ConfigError as exc:
        print(exc, file=sys.stderr)
        return 1
    except CohortValidationError as exc:
        print(report_cohort_problems(exc), file=sys.stderr)
        return 1
    excluded = prepared.exclusions
    from .steps.cohort import general_warnings

    for warning in general_warnings(prepared.warnings):   # whole cohort or file (units, sheet)
        print(f"Warning: {warning}", file=sys.stderr)
    print(f"{len(prepared.data)} rows read; no problems. "
          f"{(excluded['analysis'] == 'all').sum()} rows excluded from all analyses, "
          f"{len(excluded)} exclusion entries in all; {len(prepared.warnings)} warning(s).")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="netpet-stats", description=__doc__)
    parser.add_argument("--version", action="version", version=f"netpet-stats {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    val = sub.add_parser("validate", help="check a cohort against its config and list every problem")
    val.add_argument("--config", nargs="+", metavar="FILE",
                     help="configuration file(s), layered over config/config.yaml as "
                          "`snakemake --configfile` layers them")
    syn = sub.add_parser("synthetic", help="regenerate the bundled synthetic cohort")
    syn.add_argument("--seed", type=int, default=164)
    syn.add_argument("--outdir", default="data/synthetic")
    args = parser.parse_args(argv)

    if args.command == "validate":
        return _validate(args.config)
    if args.command == "synthetic":
        from .netpet.synthetic import write_synthetic

        paths = write_synthetic(args.outdir, args.seed)
        print("wrote " + ", ".join(map(str, paths)))
        return 0
    return 2


if __name__ == "__main__":
    sys.exit(main())
