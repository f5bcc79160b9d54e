"""Command line: ``netpet-stats validate``, ``synthetic``, ``keys`` and ``watch``.

The workflow itself runs through Snakemake (see README); the CLI covers the
steps a user runs by hand. ``validate --config X`` reads the configuration exactly
as ``snakemake --configfile X`` does (:func:`netpet_stats.config.load_config`):
``config/config.yaml`` first, then X over it, defaults from the schema.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

from . import __version__


#: What ``netpet-stats --help`` says (plain text; the module docstring is for Sphinx).
DESCRIPTION = """\
netpet-stats: the NETPET score validation workflow's command line.

The analysis itself runs through Snakemake (snakemake --cores 2, see the README).
Here:
  validate    check a cohort against its configuration, as the workflow would,
              and list every problem at once
  synthetic   write the bundled simulated cohort again
  keys        make a federation site's signing key pair (private key for the site,
              public key for the coordinator's configuration)
  watch       a federation site answers every round of the exchange as it appears,
              until the coordinator closes it (the disclosure settings approved once);
              the coordinator publishes every round as soon as its answers are in

validate --config my.yaml reads config/config.yaml of the working folder first and
my.yaml over it, exactly as snakemake --configfile my.yaml does.
"""


#: Warnings about single rows printed by ``validate`` (the rest are in warnings.csv).
SHOWN_WARNINGS = 20


def _validate(config_files: list[str] | None) -> int:
    from .cohort.prepare import check_analysable, prepare_cohort
    from .cohort.problems import CohortValidationError
    from .config import DEFAULT_CONFIGFILE, ConfigError, load_config
    from .steps._runner import VALIDATION_REPORT, report_cohort_problems, shown_path

    files = [str(f) for f in config_files or []]
    base = Path(DEFAULT_CONFIGFILE)
    read = list(dict.fromkeys(([str(base)] if base.exists() or not files else []) + files))
    print("Configuration: " + " then ".join(shown_path(f) for f in read)
          + ("" if base.exists() or not files else
             f" ({base} is not in this folder: run from the project folder for its "
             "defaults, or give a complete configuration)"), file=sys.stderr)
    stale = Path(VALIDATION_REPORT)
    try:
        config = load_config(files or None)
        prepared = prepare_cohort(config)
        check_analysable(prepared, config)
    except ConfigError as exc:
        print(exc, file=sys.stderr)
        return 1
    except CohortValidationError as exc:
        print(report_cohort_problems(exc), file=sys.stderr)
        return 1
    if stale.exists():            # an earlier refusal's report no longer holds
        stale.unlink()
    excluded = prepared.exclusions
    from .steps.cohort import general_warnings

    warnings = prepared.warnings
    for warning in general_warnings(warnings):     # whole cohort or file (units, sheet)
        print(f"Warning: {warning}", file=sys.stderr)
    by_row = warnings[warnings["row"].notna()]
    for r in by_row.head(SHOWN_WARNINGS).itertuples():
        print(f"Warning: {shown_path(r.file)}, row {int(r.row)}: {r.warning}", file=sys.stderr)
    more = len(by_row) - SHOWN_WARNINGS
    n_warn = len(warnings)
    print(f"{len(prepared.data)} rows read; no problems. "
          f"{(excluded['analysis'] == 'all').sum()} rows excluded from all analyses, "
          f"{len(excluded)} exclusion entries in all. "
          + (f"{n_warn} {'warning' if n_warn == 1 else 'warnings'} (values kept but worth "
             "checking), listed above"
             + (f" but for {more} more" if more > 0 else "")
             + "; the workflow writes every one, by file and row, to results/cohort/warnings.csv."
             if n_warn else "No warnings."))
    return 0


def _keys(site: str, out: str) -> int:
    from .federated.errors import ProtocolError
    from .federated.signing import write_key_pair

    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_-]*", site):
        print(f"--site {site!r}: a site name is letters, digits, _ and -, as "
              "federation.sites lists it", file=sys.stderr)
        return 1
    try:
        private, public_file, public = write_key_pair(site, out)
    except (ProtocolError, OSError) as exc:
        print(str(exc), file=sys.stderr)
        return 1
    print(f"Private key: {private} (readable by you alone; it never leaves this machine).\n"
          f"In the site's configuration:\n"
          f"  federation:\n    signing_key: {private}\n"
          f"Public key: {public_file}. Send it to the coordinator, whose configuration lists:\n"
          f"  federation:\n    public_keys:\n      {site}: {public}")
    return 0


def duration(text: str) -> float:
    """Seconds from ``90``, ``90s``, ``15m``, ``12h`` or ``2d`` (argparse type).

    Examples
    --------
    >>> from netpet_stats.cli import duration
    >>> duration("90"), duration("15m"), duration("1.5h")
    (90.0, 900.0, 5400.0)
    """
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([smhd]?)\s*", str(text))
    if not match or float(match[1]) <= 0:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a duration: a positive number of seconds, or with s, m, h or d "
            "(e.g. 30s, 15m, 12h, 2d)")
    return float(match[1]) * {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}[match[2]]


def _watch(config_files: list[str] | None, interval: float, time_limit: float | None,
           approve: str | None) -> int:
    from .cohort.problems import CohortValidationError
    from .config import ConfigError, load_config
    from .federated.errors import ProtocolError
    from .steps._runner import report_cohort_problems
    from .steps.federation_watch import FAILED, watch

    try:
        config = load_config([str(f) for f in config_files or []] or None)
        return watch(config, interval, time_limit, approve,
                     echo=lambda line: print(line, flush=True))
    except ConfigError as exc:
        print(exc, file=sys.stderr)
    except CohortValidationError as exc:
        print(report_cohort_problems(exc), file=sys.stderr)
    except ProtocolError as exc:
        print(f"federation: {exc}", file=sys.stderr)
    except KeyboardInterrupt:
        print("watch stopped (Ctrl-C); run the same command to go on", file=sys.stderr)
    return FAILED


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="netpet-stats", description=DESCRIPTION,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--version", action="version", version=f"netpet-stats {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    val = sub.add_parser("validate", help="check a cohort against its config and list every problem")
    val.add_argument("--config", nargs="+", metavar="FILE",
                     help="configuration file(s), layered over config/config.yaml as "
                          "`snakemake --configfile` layers them")
    syn = sub.add_parser("synthetic", help="regenerate the bundled synthetic cohort")
    syn.add_argument("--seed", type=int, default=164)
    syn.add_argument("--outdir", default="data/synthetic")
    keys = sub.add_parser("keys", help="make a federation site's signing key pair")
    keys.add_argument("--site", required=True, help="the site's name, as federation.sites lists it")
    keys.add_argument("--out", required=True, metavar="DIR",
                      help="folder for <site>.key (private, mode 600) and <site>.pub (public); "
                           "a folder of your own, never under results/ or the exchange folder")
    wat = sub.add_parser("watch", help="a federation site: answer every new round until the "
                                       "exchange closes; the coordinator: publish every round "
                                       "as soon as its answers are in")
    wat.add_argument("--config", nargs="+", metavar="FILE", required=True,
                     help="the site's (federation.role: site) or the coordinator's "
                          "configuration, layered over config/config.yaml as "
                          "`snakemake --configfile` layers it")
    wat.add_argument("--interval", type=duration, default=30.0, metavar="TIME",
                     help="how often to look at the exchange folder (default 30s)")
    wat.add_argument("--time-limit", type=duration, default=None, metavar="TIME",
                     help="stop after this long even if the exchange is still open "
                          "(e.g. 12h, 3d; default: until it closes)")
    wat.add_argument("--approve", metavar="DIGEST",
                     help="approve the consortium's disclosure settings: the digest the first "
                          "run prints (once; a later change of the settings stops the watch)")
    args = parser.parse_args(argv)

    if args.command == "validate":
        return _validate(args.config)
    if args.command == "watch":
        return _watch(args.config, args.interval, args.time_limit, args.approve)
    if args.command == "keys":
        return _keys(args.site, args.out)
    if args.command == "synthetic":
        from .netpet.synthetic import write_synthetic

        paths = write_synthetic(args.outdir, args.seed)
        print("wrote " + ", ".join(map(str, paths)))
        return 0
    return 2


if __name__ == "__main__":
    sys.exit(main())
