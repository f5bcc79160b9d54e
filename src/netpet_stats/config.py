"""The one configuration loader, used by the Snakemake workflow and the CLI alike.

A run's configuration is built in three layers, exactly as Snakemake builds it:

1. the defaults of the JSON schema (``schemas/config.schema.yaml``, the only place
   defaults live);
2. the user's YAML files, in the order given, each merged into the one before it
   (nested mappings key by key, as Snakemake's ``update_config``); without a file,
   the project's ``config/config.yaml``;
3. ``--config key=value`` overrides.

The result is validated against the schema. A key the schema does not know is an
error that names the closest valid key (``cohort.tabel``: did you mean ``table``?),
never ignored; so are the cross-key inconsistencies the schema cannot express.
All problems are listed at once in one :class:`ConfigError`.
"""

from __future__ import annotations

import copy
import difflib
import errno
import json
import os
import shutil
from functools import lru_cache
from pathlib import Path

import yaml

SCHEMA_PATH = Path(__file__).with_name("schemas") / "config.schema.yaml"
#: The configuration a run uses when the user names none (relative to the working directory).
DEFAULT_CONFIGFILE = "config/config.yaml"


class ConfigError(Exception):
    """Every problem of a configuration, one line each."""

    def __init__(self, problems: list[str], source: str = "the configuration"):
        self.problems = list(problems)
        self.source = source
        lines = [f"{source}: {len(self.problems)} configuration problem(s):"]
        lines += [f"  {p}" for p in self.problems]
        super().__init__("\n".join(lines))


@lru_cache(maxsize=1)
def load_schema() -> dict:
    """The configuration's JSON schema (draft 2020-12), with its defaults.

    Parsed by libyaml when PyYAML has it (ten times faster: this runs at every
    Snakemake start), else by the pure-Python safe loader; the same data either way.
    """
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    return yaml.load(SCHEMA_PATH.read_text(encoding="utf-8"), Loader=loader)


def _deref(schema: dict, root: dict) -> dict:
    ref = schema.get("$ref")
    if ref and ref.startswith("#/$defs/"):
        # Keywords beside the reference (a default, a description) still apply.
        return {**root["$defs"][ref.removeprefix("#/$defs/")],
                **{k: v for k, v in schema.items() if k != "$ref"}}
    return schema


def _object_branch(schema: dict, root: dict) -> dict | None:
    """The schema of a mapping value: the schema itself, or its object ``oneOf`` branch."""
    schema = _deref(schema, root)
    if "properties" in schema or isinstance(schema.get("additionalProperties"), dict):
        return schema
    for branch in schema.get("oneOf", []) + schema.get("anyOf", []):
        branch = _deref(branch, root)
        if branch.get("type") == "object":
            return branch
    return None


def merge(base: dict, override: dict) -> dict:
    """``override`` merged into a copy of ``base``: mappings key by key, anything else replaced.

    The rule of Snakemake's ``update_config``, so that a file means the same to
    ``snakemake --configfile`` and to ``netpet-stats validate --config``.
    """
    out = copy.deepcopy(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def _fill_defaults(value: dict, schema: dict, root: dict) -> dict:
    """``value`` with the schema's defaults for every absent key, recursively."""
    schema = _object_branch(schema, root)
    if schema is None or not isinstance(value, dict):
        return value
    props = schema.get("properties", {})
    extra = schema.get("additionalProperties")
    out = {}
    # Fixed keys in the schema's order, then user-named keys in the user's order.
    for key, sub in props.items():
        sub = _deref(sub, root)
        if key in value:
            out[key] = _fill_defaults(value[key], sub, root)
        elif "default" in sub:
            out[key] = _fill_defaults(copy.deepcopy(sub["default"]), sub, root)
    for key, item in value.items():
        if key not in props:
            out[key] = _fill_defaults(item, extra, root) if isinstance(extra, dict) else item
    return out


def block_defaults(name: str, **given) -> dict:
    """A top-level block of the configuration with the schema's defaults filled in.

    For building a configuration in code (tests, the public API) without
    repeating a default the schema owns.

    Examples
    --------
    >>> block_defaults("figures", dpi=50)["width"]
    'double'
    """
    root = load_schema()
    return _fill_defaults(dict(given), root["properties"][name], root)


def _path(parts) -> str:
    return ".".join(str(p) for p in parts) or "(top level)"


#: Settings users look for that the workflow deliberately does not have, and why.
NOT_OFFERED: dict[str, str] = {}


def _unknown_keys(value, schema: dict, root: dict, where: tuple = ()) -> list[str]:
    """Keys the schema does not know, each with the closest valid key if there is one."""
    schema = _object_branch(schema, root) if isinstance(value, dict) else None
    if schema is None:
        return []
    props = schema.get("properties", {})
    extra = schema.get("additionalProperties", True)
    problems = []
    for key, item in value.items():
        if key in props:
            problems += _unknown_keys(item, props[key], root, (*where, key))
        elif extra is False:
            close = difflib.get_close_matches(str(key), list(props), n=1, cutoff=0.6)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            hint = f"; {NOT_OFFERED[_path((*where, key))]}" if _path(
                (*where, key)) in NOT_OFFERED else hint
            valid = ", ".join(props)
            problems.append(f"{_path((*where, key))}: unknown key{hint} (valid keys here: "
                            f"{valid})")
        elif isinstance(extra, dict):
            problems += _unknown_keys(item, extra, root, (*where, key))
    return problems


def _schema_problems(config: dict, root: dict) -> list[str]:
    import jsonschema

    validator = jsonschema.Draft202012Validator(root)
    out = []
    for err in sorted(validator.iter_errors(config), key=lambda e: [str(p) for p in e.path]):
        if err.validator == "additionalProperties" and err.validator_value is False:
            continue  # reported by _unknown_keys, with a suggestion
        if err.validator == "uniqueItems":
            seen, twice = set(), []
            for item in err.instance:
                key = json.dumps(item, sort_keys=True) if not isinstance(item, (int, float)) \
                    else float(item)
                if key in seen and item not in twice:
                    twice.append(item)
                seen.add(key)
            out.append(f"{_path(err.path)}: {err.instance} gives "
                       f"{', '.join(map(str, twice))} more than once; list each value once")
            continue
        out.append(f"{_path(err.path)}: {err.message}")
    return out


# ----------------------------------------------------------------------------- time units

#: The unit in which the schema writes the defaults of time settings (``default_unit``).
DEFAULTS_UNIT = "months"


def unit_length_days(unit: str, days_per_month: float) -> float:
    """Length of one ``unit`` (days, weeks, months, years) in days; a year is 12 months."""
    return {"days": 1.0, "weeks": 7.0, "months": float(days_per_month),
            "years": 12.0 * float(days_per_month)}[unit]


def _time_default_keys(schema: dict, root: dict, where: tuple = ()):
    """Every setting whose schema default is written in months (``default_unit``)."""
    schema = _object_branch(schema, root) if schema else None
    for key, sub in ((schema or {}).get("properties") or {}).items():
        sub = _deref(sub, root)
        if "default_unit" in sub:
            yield (*where, key), sub
        else:
            yield from _time_default_keys(sub, root, (*where, key))


def _in_unit(value, unit: str, days_per_month: float):
    factor = unit_length_days(DEFAULTS_UNIT, days_per_month) / unit_length_days(
        unit, days_per_month)
    return [v * factor for v in value] if isinstance(value, list) else value * factor


def _days_per_month(config: dict) -> float:
    dates = (config.get("cohort") or {}).get("dates") or {}
    return float(dates.get("days_per_month", 30.4375))


def _time_defaults_in_unit(given: dict, resolved: dict, root: dict) -> None:
    """Time settings the user left at their defaults, moved to ``analysis_time_unit``.

    The schema writes them in months (landmarks at 12, 24, 36 and 60 months; a
    curve step and a federation grid of one month). With ``analysis_time_unit:
    days`` they are converted (12 months = 365.25 days), so that the defaults
    mean what they say whatever the unit; a value the user wrote is theirs, in
    their unit, and is left alone. In place; :func:`time_default_notes` says so.
    """
    unit = resolved.get("analysis_time_unit", DEFAULTS_UNIT)
    if unit == DEFAULTS_UNIT:
        return
    for path, sub in _time_default_keys(root, root):
        user, node = given, resolved
        for key in path[:-1]:
            user = user.get(key) if isinstance(user, dict) else None
            node = node.get(key) if isinstance(node, dict) else None
        if not isinstance(node, dict) or path[-1] not in node or (
                isinstance(user, dict) and path[-1] in user):
            continue
        if node[path[-1]] == sub["default"]:
            node[path[-1]] = _in_unit(sub["default"], unit, _days_per_month(resolved))


def time_default_notes(config: dict) -> list[str]:
    """What became of the time defaults (written in months) in another analysis unit.

    One note per setting left at its default when ``analysis_time_unit`` is not
    months, giving the values used, for the log, the console and the warnings
    table.

    Examples
    --------
    >>> cfg = resolve({**load_config(), "analysis_time_unit": "years", "kaplan_meier": {}})
    >>> cfg["kaplan_meier"]["landmarks"]
    [1.0, 2.0, 3.0, 5.0]
    >>> print(time_default_notes(cfg)[0])
    kaplan_meier.landmarks: not set; its default in months, 12, 24, 36, 60, is 1, 2, 3, 5 in years (and competing_risks.horizons, which follow the landmarks)
    """
    unit = config.get("analysis_time_unit", DEFAULTS_UNIT)
    if unit == DEFAULTS_UNIT:
        return []
    root = load_schema()
    notes = []
    for path, sub in _time_default_keys(root, root):
        node = config
        for key in path:
            node = node.get(key) if isinstance(node, dict) else None
        default = sub["default"]
        if node is None or node != _in_unit(default, unit, _days_per_month(config)):
            continue
        shown = ", ".join(f"{v:g}" for v in (default if isinstance(default, list) else [default]))
        used = ", ".join(f"{v:.6g}" for v in (node if isinstance(node, list) else [node]))
        also = (" (and competing_risks.horizons, which follow the landmarks)"
                if path == ("kaplan_meier", "landmarks") and
                (config.get("competing_risks") or {}).get("horizons") is None else "")
        notes.append(f"{_path(path)}: not set; its default in {DEFAULTS_UNIT}, {shown}, is "
                     f"{used} in {unit}{also}")
    return notes


def resolve(config: dict, source: str = "the configuration") -> dict:
    """Defaults filled in from the schema, then every problem checked; the resolved config.

    Raises
    ------
    ConfigError
        Listing unknown keys (with the closest valid key), schema violations and
        cross-key inconsistencies, all at once.
    """
    root = load_schema()
    if config is None:
        config = {}
    if not isinstance(config, dict):
        raise ConfigError([f"(top level): expected a mapping of keys, got {type(config).__name__}"],
                          source)
    problems = _unknown_keys(config, root, root)
    resolved = _fill_defaults(config, root, root)
    problems += _schema_problems(resolved, root)
    if not problems:
        problems += _cohort_time_units(resolved)
    if not problems:
        _time_defaults_in_unit(config, resolved, root)
    if not problems:
        problems += cross_key_problems(resolved)
    if problems:
        raise ConfigError(list(dict.fromkeys(problems)), source)
    return resolved


def _cohort_time_units(resolved: dict) -> list[str]:
    """``cohort.time_units`` (the table's unit of each endpoint's time) over
    ``endpoints.<name>.time_unit``: a cohort's units belong to its cohort section.

    Examples
    --------
    >>> from netpet_stats.config import load_config
    >>> load_config(overrides={"cohort": {"time_units": {"os": "days"}}})["endpoints"]["os"]
    {'label': 'Overall survival', 'definition': None, 'time_unit': 'days'}
    """
    problems = []
    endpoints = resolved.get("endpoints") or {}
    for ep, unit in (resolved.get("cohort", {}).get("time_units") or {}).items():
        if ep not in endpoints:
            problems.append(f"cohort.time_units.{ep}: not an endpoint (expected one of "
                            f"{sorted(endpoints)})")
        elif endpoints[ep].get("derive"):
            problems.append(f"cohort.time_units.{ep}: endpoint {ep!r} is derived from others "
                            "and has no time column; give the units of the endpoints it is "
                            "derived from")
        else:
            endpoints[ep]["time_unit"] = unit
    return problems


def read_yaml(path: str | Path) -> dict:
    """One configuration file; a file that is not a YAML mapping is a ConfigError."""
    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(["a symbolic link to a file that does not exist" if path.is_symlink()
                           else "no such file"], str(path)) from None
    except OSError as exc:
        why = ("a symbolic link loop: the link leads back to itself" if exc.errno == errno.ELOOP
               else f"cannot be read ({exc.strerror or type(exc).__name__})")
        raise ConfigError([why], str(path)) from None
    except yaml.YAMLError as exc:
        raise ConfigError([f"not valid YAML ({exc})"], str(path)) from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError([f"expected a mapping of keys, got {type(data).__name__}"], str(path))
    return data


def load_config(paths: list[str | Path] | None = None, overrides: dict | None = None,
                base: str | Path | None = DEFAULT_CONFIGFILE) -> dict:
    """Read, layer and resolve configuration files exactly as ``snakemake --configfile`` does.

    The workflow's ``configfile:`` is ``config/config.yaml``; Snakemake reads it
    first and merges each ``--configfile`` into it. This function does the same,
    so ``netpet-stats validate --config X`` and ``snakemake --configfile X`` accept
    or refuse the same file alike.

    Parameters
    ----------
    paths
        The user's files, later ones over earlier ones.
    overrides
        Values given as ``--config key=value``, applied last.
    base
        The workflow's own config file, read first when it exists (``None``: none).
        Without ``paths`` it must exist.

    Returns
    -------
    dict
        The resolved configuration, every default filled in from the schema.

    Raises
    ------
    ConfigError
        Every problem at once (unknown keys with the closest valid key, schema
        violations, names that refer to nothing).

    Examples
    --------
    >>> from netpet_stats.config import load_config
    >>> cfg = load_config()   # config/config.yaml of the project
    >>> cfg["kaplan_meier"]["conf_type"], cfg["figures"]["dpi"]
    ('log', 200)
    """
    files = [str(p) for p in paths or []]
    if base is not None and (Path(base).exists() or not files):
        files = [str(base), *files]
    config: dict = {}
    for path in files:
        config = merge(config, read_yaml(path))
    if overrides:
        config = merge(config, overrides)
    return resolve(config, " + ".join(files) or "the configuration")


# --------------------------------------------------------------------------------------
# What the configuration asks for, and checks the schema cannot express
# --------------------------------------------------------------------------------------


def model_specs(config: dict) -> dict[str, dict]:
    """All Cox models the configuration asks for: univariable ones and named ones."""
    specs = {}
    for cov in config["cox"]["univariable"]:
        specs[f"univariable_{cov}"] = {"covariates": [cov], "strata": [], "cluster": None,
                                       "label": config["covariates"][cov]["label"]}
    for name, spec in config["cox"]["models"].items():
        specs[name] = {"covariates": list(spec["covariates"]),
                       "strata": list(spec.get("strata", [])),
                       "cluster": spec.get("cluster"),
                       "label": spec.get("label", name)}
    return specs


def analysed_models(config: dict) -> dict[str, dict]:
    """The Cox models this run analyses: :func:`model_specs`, or at a site of a
    federation (``federation.role: site``) the primary model alone, the only one
    its answers compute (so its exclusion ledger and flow count that one)."""
    specs = model_specs(config)
    if (config.get("federation") or {}).get("role") == "site":
        name = config["cox"]["primary_model"]
        return {name: specs[name]} if name in specs else {}
    return specs


def cross_key_problems(config: dict) -> list[str]:
    """Names that must refer to something defined elsewhere in the configuration."""
    problems = []
    covariates = config["covariates"]
    known_columns = set(covariates) | {"centre"}
    for cov in config["cox"]["univariable"]:
        if cov not in covariates:
            problems.append(f"cox.univariable: {cov!r} is not in covariates "
                            f"(expected one of {sorted(covariates)})")
    for name, spec in config["cox"]["models"].items():
        for key in ("covariates", "strata"):
            for cov in spec.get(key, []):
                if key == "covariates" and cov not in covariates:
                    problems.append(f"cox.models.{name}.{key}: {cov!r} is not in covariates "
                                    f"(expected one of {sorted(covariates)})")
                elif key == "strata" and cov not in known_columns:
                    problems.append(f"cox.models.{name}.strata: {cov!r} is not a covariate or "
                                    "'centre'")
        if config["cox"].get("ties") == "exact" and spec.get("cluster"):
            problems.append(f"cox.models.{name}.cluster: {spec['cluster']!r} with cox.ties: exact; "
                            "robust SEs need score residuals, which the exact method does not "
                            "have (R's coxph stops); set cox.ties: efron or breslow, or remove "
                            "the cluster")
    specs = model_specs(config) if not problems else {}
    if config["cox"]["primary_model"] not in config["cox"]["models"]:
        problems.append(f"cox.primary_model: {config['cox']['primary_model']!r} is not in "
                        f"cox.models (expected one of {sorted(config['cox']['models'])})")
    conc = config["concordance"]
    for name in conc["models"]:
        if specs and name not in specs:
            problems.append(f"concordance.models: {name!r} is not a model (expected one of "
                            f"{sorted(specs)})")
    for pair in conc["comparisons"]:
        for item in pair:
            if item.startswith("model:"):
                if specs and item.removeprefix("model:") not in specs:
                    problems.append(f"concordance.comparisons: {item!r} names no model "
                                    f"(expected model:<one of {sorted(specs)}>)")
            elif item not in covariates:
                problems.append(f"concordance.comparisons: {item!r} is not a covariate")
    problems += [f"{where}: uses {name!r}, but cohort.columns.{name} is null (the table has "
                 f"no such column); remove {name!r} there, or map cohort.columns.{name} to a "
                 "column" for where, name in unmapped_columns(config)]
    problems += font_problems(config["figures"]["font_family"])
    problems += competing_risks_problems(config)
    problems += federation_problems(config)
    problems += delayed_entry_problems(config)
    return problems + (validation_config_problems(config) if specs else [])


def federation_problems(config: dict) -> list[str]:
    """A site or coordinator run without what its role needs."""
    fed = config.get("federation") or block_defaults("federation")
    role = fed["role"]
    if role == "none":
        return []
    problems = []
    if not fed["exchange"]:
        problems.append(f"federation.exchange: role {role!r} needs the exchange folder shared "
                        "with the other sites and the coordinator")
    if role == "site" and not fed["site"]:
        problems.append("federation.site: role 'site' needs this site's name, as the "
                        "coordinator lists it in federation.sites")
    if fed["storage"] == "fs" and shutil.which("rsync") is None:
        problems.append("federation.storage: the fs storage plugin copies with rsync, which is "
                        "not installed here (Debian: apt-get install rsync); install it, or set "
                        "federation.storage: null to use the exchange folder as a plain path")
    if role == "coordinator" and len(fed["sites"]) < 2:
        problems.append(f"federation.sites: role 'coordinator' needs the names of at least two "
                        f"sites (got {fed['sites']})")
    ties = config["cox"].get("ties", "efron")
    if ties == "exact":
        problems.append(f"cox.ties: 'exact' with federation.role {role!r}; the federated fit "
                        "exchanges Efron's or Breslow's sums (the exact likelihood's sums are "
                        "refused past a size a large site reaches): set cox.ties: efron or "
                        "breslow, or analyse with exact ties outside the federation")
    folder = os.path.normpath(config.get("output_folder") or ".")
    problems += signing_problems(fed, os.path.join(folder, "results"))
    name = config["cox"]["primary_model"]
    model = config["cox"]["models"].get(name, {})
    if model and "centre" not in model.get("strata", []):
        problems.append(f"federation: cox.primary_model {name!r} is not stratified by centre "
                        f"(strata: {model.get('strata', [])}); a federated analysis needs the "
                        "primary model stratified by centre (it decomposes exactly over sites)")
    return problems


def _within(path: str, folder: str) -> bool:
    return (os.path.abspath(path) + os.sep).startswith(os.path.abspath(folder) + os.sep)


def signing_problems(fed: dict, results: str = "results") -> list[str]:
    """Keys of a federated role: the site's private key, the coordinator's public keys.

    ``results``: the analysis's results folder, where a private key must never be.
    """
    problems = []
    role, keys = fed["role"], fed.get("public_keys") or {}
    key_file = os.path.expanduser(fed.get("signing_key") or "")
    if role == "site" and key_file:
        if _within(key_file, results) or "results" in Path(key_file).parts:
            problems.append(f"federation.signing_key: {key_file} is under a results/ folder, "
                            "which is shared; keep the private key in a folder of your own")
        elif fed["exchange"] and _within(key_file, fed["exchange"]):
            problems.append(f"federation.signing_key: {key_file} is inside the exchange folder, "
                            "which the other sites and the coordinator read; keep the private "
                            "key in a folder of your own")
        elif not os.path.isfile(key_file):
            problems.append(f"federation.signing_key: {key_file} does not exist (make the key "
                            "pair with: netpet-stats keys --site NAME --out FOLDER)")
    if role == "coordinator":
        unknown = sorted(set(keys) - set(fed["sites"]))
        if unknown:
            problems.append(f"federation.public_keys: keys for {unknown}, which are not among "
                            f"federation.sites {fed['sites']}")
        required = fed.get("require_signatures")
        if required or (required is None and keys):
            without = [s for s in fed["sites"] if s not in keys]
            if without:
                problems.append(
                    f"federation.public_keys: no public key for {without}; signed answers are "
                    + ("required (federation.require_signatures: true)" if required else
                       "required as soon as any key is listed")
                    + ": add each site's key (its <site>.pub), or set "
                    "federation.require_signatures: false to accept their answers unsigned")
        owners: dict[str, list[str]] = {}
        for site, key in keys.items():
            owners.setdefault(key, []).append(site)
        for sites in owners.values():
            if len(sites) > 1:
                problems.append(f"federation.public_keys: {sites} have the same key (each site "
                                "needs its own, or one could sign for another)")
    return problems


#: Name of the competing-risks analysis (progression vs death first) in the exclusion
#: ledger and the patient flow.
CR_ANALYSIS = "competing_risks"


def derived_endpoints(config: dict) -> list[str]:
    """Endpoints built from others (``derive``), not read from the table."""
    return [ep for ep, spec in config["endpoints"].items() if spec.get("derive")]


def competing_risks_settings(config: dict) -> dict | None:
    """The competing-risks analysis to run, or ``None`` when it does not run.

    ``enabled: auto`` runs it when both the progression and the death endpoint are
    configured (read from the table, not derived); ``horizons`` default to the
    Kaplan-Meier landmarks.

    Examples
    --------
    >>> from netpet_stats.config import competing_risks_settings, load_config
    >>> competing_risks_settings(load_config())["progression"]
    'ttp'
    """
    cr = config.get("competing_risks") or block_defaults("competing_risks")
    if cr["enabled"] is False:
        return None
    read = [ep for ep in config["endpoints"] if ep not in derived_endpoints(config)]
    if not (cr["progression"] in read and cr["death"] in read):
        return None
    horizons = cr["horizons"] or (config.get("kaplan_meier")
                                  or block_defaults("kaplan_meier"))["landmarks"]
    return {**cr, "horizons": [h for h in horizons if h > 0]}


def competing_risks_problems(config: dict) -> list[str]:
    """Names in ``competing_risks`` and derived endpoints that refer to nothing."""
    cr = config.get("competing_risks") or block_defaults("competing_risks")
    derived = derived_endpoints(config)
    read = [ep for ep in config["endpoints"] if ep not in derived]
    problems = []
    missing = [f"{role} endpoint {cr[role]!r}" for role in ("progression", "death")
               if cr[role] not in read]
    if cr["progression"] == cr["death"]:
        problems.append(f"competing_risks: progression and death are both {cr['death']!r}; "
                        "they must be two endpoints (e.g. progression: ttp, death: os)")
    elif missing and cr["enabled"] is True:
        problems.append(f"competing_risks.enabled is true, but the {' and the '.join(missing)} "
                        f"{'is' if len(missing) == 1 else 'are'} not among the endpoints read "
                        f"from the table {read}; name them in competing_risks.progression / "
                        "competing_risks.death, or set competing_risks.enabled: auto or false")
    for ep in derived:
        if missing:
            problems.append(f"endpoints.{ep}.derive: progression_or_death needs the "
                            f"{' and the '.join(missing)} among the endpoints read from the "
                            f"table {read} (named in competing_risks.progression / .death)")
    models = config["cox"]["models"]
    for name in cr["models"]:
        if name not in models:
            problems.append(f"competing_risks.models: {name!r} is not in cox.models "
                            f"(expected one of {sorted(models)})")
    return problems


def font_problems(family: str) -> list[str]:
    """A figure font that is not installed (matplotlib would silently fall back)."""
    if family == "DejaVu Sans":      # shipped with matplotlib: always there
        return []
    from matplotlib import font_manager

    installed = sorted({f.name for f in font_manager.fontManager.ttflist})
    if family in installed:
        return []
    close = difflib.get_close_matches(family, installed, n=3)
    hint = f" (did you mean {', '.join(map(repr, close))}?)" if close else ""
    return [f"figures.font_family: {family!r} is not installed on this machine{hint}; "
            f"expected one of the {len(installed)} installed fonts, e.g. 'DejaVu Sans', or "
            "install the font and rerun"]


#: Analysis variables the workflow derives rather than reads from a column.
DERIVED_VARIABLES = frozenset({"netpet_group"})


def delayed_entry(config: dict) -> str | None:
    """How patients enter the risk set late (left truncation), or ``None`` (at time zero).

    ``"scan"``: time from ``cohort.dates.time_zero`` with entry at the scan
    ``cohort.dates.entry`` names; ``"column"``: the entry-time column
    ``cohort.columns.entry_time``.
    """
    ccfg = config.get("cohort", {})
    if ccfg.get("times", "given") == "dates":
        return "scan" if (ccfg.get("dates") or {}).get("entry", "time_zero") != "time_zero" \
            else None
    return "column" if (ccfg.get("columns") or {}).get("entry_time") else None


def delayed_entry_problems(config: dict) -> list[str]:
    """Analyses not defined here for delayed entry or case weights that the configuration asks for.

    Kaplan-Meier, log-rank, Cox models and concordance take delayed entry (R
    ``Surv(entry, time, event)``) and case weights (R ``weights =``); the analyses
    listed are refused, all at once, rather than run as if every patient were at
    risk from time zero with weight 1. The competing-risks analysis runs (the
    Aalen-Johansen incidences and cause-specific Cox models take entry and weights;
    its Gray's test and Fine-Gray rows say why they are not computed), but a setting
    only Gray's test reads (``competing_risks.gray_strata``) is refused.
    """
    how = delayed_entry(config)
    weighted = bool((config.get("cohort", {}).get("columns") or {}).get("weight"))
    if how is None and not weighted:
        return []
    where = " and ".join(
        ([f"delayed entry ({'cohort.dates.entry' if how == 'scan' else 'cohort.columns.entry_time'})"]
         if how else []) + (["case weights (cohort.columns.weight)"] if weighted else []))
    problems = []
    if config.get("validation", {}).get("mode", "none") != "none":
        problems.append(
            f"validation.mode: {config['validation']['mode']!r} with {where}: "
            "prediction-model validation at horizons (calibration, time-dependent AUC, Brier, "
            "bootstrap optimism) is not implemented for left-truncated or weighted data; set "
            "validation.mode: none")
    cr = competing_risks_settings(config)
    if cr is not None and cr.get("gray_strata"):
        # the competing-risks analysis runs (Aalen-Johansen, cause-specific Cox take entry
        # and weights); Gray's test is not computed, so a setting only it reads is refused
        problems.append(
            f"competing_risks.gray_strata: {cr['gray_strata']!r} with {where}: it stratifies "
            "Gray's test, which is not computed for left-truncated or weighted data (R "
            "cmprsk::cuminc takes neither); set competing_risks.gray_strata: null")
    if how is not None and config.get("concordance", {}).get("uno"):
        problems.append(f"concordance.uno with {where}: Uno's C needs the censoring "
                        "distribution of right-censored data (R concordance refuses timewt = "
                        "'n/G2' for (entry, time) data); set concordance.uno: false")
    if config.get("missing_data", {}).get("method") == "multiple_imputation":
        problems.append(f"missing_data.method: 'multiple_imputation' with {where}: the "
                        "imputation model's Nelson-Aalen hazard (White & Royston 2009) is not "
                        "defined here for left-truncated or weighted data; set "
                        "missing_data.method: complete_case")
    if config.get("federation", {}).get("role", "none") != "none":
        problems.append(f"federation.role with {where}: the federated protocol sums "
                        "unweighted right-censored risk sets only; set federation.role: none")
    return problems


def unmapped_columns(config: dict) -> list[tuple[str, str]]:
    """Every analysis that uses a variable whose column is ``null`` (not in the table).

    An optional column may be set to ``null`` when a cohort does not have it;
    the analyses that use it must then leave it out. Listed all at once, each
    with what to change; nothing is dropped silently. A site of a federation
    (``federation.role: site``) runs only the primary model, so only its
    covariates and strata must be columns: a Table 1 variable the site does not
    record is released as "not recorded at this site".

    Returns
    -------
    list of (setting, variable)
    """
    ccfg = config.get("cohort", {})
    columns = ccfg.get("columns", {}) or {}
    centre_given = bool(ccfg.get("tables") or ccfg.get("folder"))

    def unmapped(name: str) -> bool:
        if name in DERIVED_VARIABLES or (name == "centre" and centre_given):
            return False
        if name == "age" and columns.get("date_of_birth"):
            return False   # age is derived from the date of birth and the scan date
        return name in columns and not columns[name]

    cox, conc = config.get("cox", {}), config.get("concordance", {})
    if (config.get("federation") or {}).get("role") == "site":
        # a federation site computes the primary model only (its request says so), and
        # releases a Table 1 variable it does not record as that fact
        model = cox.get("primary_model")
        spec = cox.get("models", {}).get(model, {})
        uses = [(f"cox.models.{model}.covariates", v) for v in spec.get("covariates", [])]
        uses += [(f"cox.models.{model}.strata", v) for v in spec.get("strata", [])]
        return [(where, name) for where, name in uses if name and unmapped(name)]
    uses = [("cox.univariable", v) for v in cox.get("univariable", [])]
    for model, spec in cox.get("models", {}).items():
        uses += [(f"cox.models.{model}.covariates", v) for v in spec.get("covariates", [])]
        uses += [(f"cox.models.{model}.strata", v) for v in spec.get("strata", [])]
    uses += [("table1.variables", v) for v in config.get("table1", {}).get("variables", [])]
    uses += [("concordance.predictors", v) for v in conc.get("predictors", [])]
    uses += [("concordance.comparisons", v) for pair in conc.get("comparisons", [])
             for v in pair if not v.startswith("model:")]
    uses += [(f"association.{k}", config.get("association", {}).get(k))
             for k in ("row", "column")]
    return [(where, name) for where, name in uses if name and unmapped(name)]


def validation_config_problems(config: dict) -> list[str]:
    """Inconsistencies of the ``validation`` block that the JSON schema cannot see.

    Every problem at once, each naming the key and what was expected.
    """
    v = config.get("validation") or {}
    if v.get("mode", "none") == "none":
        return []
    problems = []
    specs = model_specs(config)
    if v.get("endpoint") not in config["endpoints"]:
        problems.append(f"validation.endpoint: {v.get('endpoint')!r} is not one of the endpoints "
                        f"{sorted(config['endpoints'])}")
    named = {"validation.model": v.get("model")}
    if v.get("added_value"):
        named.update({f"validation.added_value.{role}": v["added_value"][role]
                      for role in ("base", "extended")})
    for key, name in named.items():
        if v.get("mode") != "develop" and key != "validation.model":
            continue  # validate mode reads the frozen files, not the specs
        if name not in specs:
            problems.append(f"{key}: model {name!r} is not in cox.models "
                            f"(expected one of {sorted(config['cox']['models'])})")
        elif specs[name]["strata"] and v.get("mode") == "develop":
            problems.append(f"{key}: model {name!r} is stratified by {specs[name]['strata']}; "
                            "a model frozen for new cohorts must be unstratified")
    return problems


#: The folder of the bundled simulated cohorts (relative to the project): data in it
#: are simulated by netpet_stats.netpet.synthetic, never real patients.
SIMULATED_DATA_FOLDER = ("data", "synthetic")


def cohort_input_paths(config: dict) -> list[str]:
    """Every cohort file the configuration names (table, per-centre tables or folder, lesions)."""
    cohort = config["cohort"]
    paths = [cohort.get("table"), cohort.get("folder"), cohort.get("lesions"),
             *[t["path"] for t in cohort.get("tables") or []]]
    return [str(p) for p in paths if p]


def cohort_is_simulated(config: dict) -> bool:
    """Whether the report must call the cohort simulated.

    ``cohort.simulated`` as the user declares it; left at null, the cohort is
    simulated exactly when every input file lies in the bundled ``data/synthetic/``
    folder (so that a user's own table named over the shipped configuration is
    never called simulated, and the bundled one always is).

    >>> cohort_is_simulated({"cohort": {"table": "data/synthetic/cohort.csv"}})
    True
    >>> cohort_is_simulated({"cohort": {"table": "/home/me/netpet.xlsx"}})
    False
    >>> cohort_is_simulated({"cohort": {"table": "my.csv", "simulated": True}})
    True
    """
    declared = config["cohort"].get("simulated")
    if declared is not None:
        return bool(declared)
    paths = cohort_input_paths(config)
    k = len(SIMULATED_DATA_FOLDER)

    def bundled(path: str) -> bool:
        parts = Path(path).parts
        return any(parts[i:i + k] == SIMULATED_DATA_FOLDER for i in range(len(parts)))

    return bool(paths) and all(bundled(p) for p in paths)


def cox_ties(config: dict) -> str:
    """The Cox models' tie method (``cox.ties``), with the schema's default where a
    configuration built by hand for the library leaves it out.

    >>> cox_ties({"cox": {}}), cox_ties({"cox": {"ties": "breslow"}})
    ('efron', 'breslow')
    """
    return config["cox"].get("ties") or block_defaults("cox")["ties"]
