"""Command line: ``netpet-stats validate`` and ``netpet-stats synthetic``.

The workflow itself runs through Snakemake (see README); the CLI covers the
steps a user runs by hand.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import yaml

from .cohort import CohortValidationError, format_problems, prepare_cohort


def _load_config(path: str) -> dict:
    with open(path, encoding="utf-8") as fh:
        config = yaml.safe_load(fh)
    schema_path = Path(__file__).resolve().parents[2] / "workflow" / "schemas" / "config.schema.yaml"
    if schema_path.exists():
        import jsonschema

        schema = yaml.safe_load(schema_path.read_text(encoding="utf-8"))
        validator = jsonschema.Draft202012Validator(schema)
        errors = sorted(validator.iter_errors(config), key=lambda e: list(e.path))
        if errors:
            lines = [f"{path}: the configuration has {len(errors)} problem(s):"]
            lines += [f"  {'/'.join(map(str, e.path)) or '(top level)'}: {e.message}" for e in errors]
            raise SystemExit("\n".join(lines))
    return config


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="netpet-stats", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    val = sub.add_parser("validate", help="check a cohort against its config and list every problem")
    val.add_argument("--config", default="config/config.yaml")
    syn = sub.add_parser("synthetic", help="regenerate the bundled synthetic cohort")
    syn.add_argument("--seed", type=int, default=164)
    syn.add_argument("--outdir", default="data/synthetic")
    args = parser.parse_args(argv)

    if args.command == "validate":
        config = _load_config(args.config)
        try:
            prepared = prepare_cohort(config)
        except CohortValidationError as exc:
            from .workflow_step import write_validation_report

            path = write_validation_report(exc)
            print(f"{format_problems(exc.problems, limit=10)}\n\nFull report: {path}",
                  file=sys.stderr)
            return 1
        excluded = prepared.exclusions
        print(f"{len(prepared.data)} rows read; no problems. "
              f"{(excluded['analysis'] == 'all').sum()} rows excluded from all analyses, "
              f"{len(excluded)} exclusion entries in all; {len(prepared.warnings)} warning(s).")
        return 0
    if args.command == "synthetic":
        from .synthetic import write_synthetic

        paths = write_synthetic(args.outdir, args.seed)
        print("wrote " + ", ".join(map(str, paths)))
        return 0
    return 2


if __name__ == "__main__":
    sys.exit(main())
