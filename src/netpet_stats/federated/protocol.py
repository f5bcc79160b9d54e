"""The exchange between sites and a coordinator, round by round, through a folder.

Rounds (``<exchange>/round_NNN/``): the coordinator writes ``request.json``; each
site answers with ``<site>.json``. Every file is a small JSON bundle validated
against ``schemas/federation_bundle.schema.yaml`` when written and when read.

1. ``describe``: each site states, per endpoint, whether it has at least
   ``min_cell`` patients and events (else it is refused and says only that), the
   levels of the model's categorical covariates present, its log-rank sums by group
   (overall and for each pair of groups), its Table 1 counts (small cells
   suppressed), if the configuration opts in its Kaplan-Meier counts, and its own
   Cox fit of each model (the primary model and the primary model without each of
   its terms, for drop1), coded with its own levels.
2. ``cox`` (from round 2): the coordinator publishes the design (levels of every
   categorical covariate over all sites) and, for each endpoint and model, the
   coefficients at which to evaluate. In round 2 these are the inverse-variance
   mean of the sites' own fits (the start of Newton-Raphson), and the primary model
   is also evaluated at zero (the null likelihood and the score test); each later
   round is one Newton-Raphson step. Each answer is the log partial likelihood (Efron's
   or Breslow's ties, ``cox.ties``), score
   and information at the coefficients (and, for the primary model, the sandwich sum
   and the concordance sums). A site refused for every endpoint is not asked.
3. ``done``: every model has converged (largest summed score below 1e-9); the
   coordinator writes the pooled tables.

The coordinator keeps no state of its own: each run regenerates the requests from
its settings and the answers (the Newton iteration is deterministic), so a run can
be repeated, moved to another machine or audited from the exchange folder alone.
Every answer quotes the SHA-256 of the request it answers; an answer to any other
request is refused.
"""

from __future__ import annotations

import hashlib
import json
import os
from functools import lru_cache
from itertools import combinations
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

from ..survival.cox import Term, design_matrix, stratum_labels
from ..survival.kaplan_meier import km_from_counts, km_table, step_at
from ..validation import external, frozen_model
from . import aggregates, signing
from .disclosure import (RULE_AGGREGATE, RULE_COUNT, RULE_DEVIATION, RULE_DISCLOSIVE,
                         RULE_GRID, RULE_MISSING_SMALL, RULE_PRESENCE, RULE_REFUSED,
                         RULE_ROUNDED, RULE_SETTING, RULE_SMALL_CATEGORY, RULE_SMALL_GROUP,
                         RULE_GROUP_SECONDARY, RULE_SUPPRESSED, Release, suppress_counts, to_json)
from .errors import ProtocolError

PROTOCOL = "netpet-stats federation 1"
SCHEMA_PATH = Path(__file__).resolve().parents[1] / "schemas" / "federation_bundle.schema.yaml"
#: Largest summed score at which the pooled Cox fit is declared converged.
TOLERANCE = 1e-9
#: Suffix of the evaluation of the primary model at zero (null likelihood, score test).
NULL = "|null"


# ----------------------------------------------------------------------------- files


def round_dir(exchange: str | Path, round_: int) -> Path:
    return Path(exchange) / f"round_{round_:03d}"


def request_path(exchange, round_: int) -> Path:
    return round_dir(exchange, round_) / "request.json"


def answer_path(exchange, round_: int, site: str) -> Path:
    return round_dir(exchange, round_) / f"{site}.json"


def latest_round(exchange) -> int:
    """Number of the newest published request (0 if none)."""
    rounds = [int(p.parent.name.split("_")[1]) for p in Path(exchange).glob("round_*/request.json")]
    return max(rounds, default=0)


@lru_cache(maxsize=1)
def _bundle_validator():
    """The bundle schema, read once per process (a coordinator reads every answer)."""
    import jsonschema

    schema = yaml.load(SCHEMA_PATH.read_text(encoding="utf-8"),
                       Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    return jsonschema.Draft7Validator(schema)


def validate_bundle(bundle: dict, where: str) -> None:
    """Check a bundle against the schema; refuse it naming the file and every problem."""
    errors = sorted(_bundle_validator().iter_errors(bundle),
                    key=lambda e: list(map(str, e.path)))
    if errors:
        lines = [f"  {'/'.join(map(str, e.path)) or '(top)'}: {_schema_message(e)}"
                 for e in errors]
        raise ProtocolError(f"{where}: not a valid federation bundle:\n" + "\n".join(lines))


def _schema_message(error) -> str:
    """What a field breaks, quoting at most a short value (a bundle can hold matrices)."""
    value = repr(error.instance)
    value = value if len(value) <= 60 else value[:57] + "..."
    if error.validator in ("additionalProperties", "required"):
        return error.message[:200]
    return f"{value} breaks the rule {error.validator}: {error.validator_value!r}"[:300]


def write_bundle(bundle: dict, path: str | Path) -> None:
    """Validate and write a bundle (sorted keys, so reruns are byte-identical).

    The file appears whole or not at all (written beside it, then renamed): a site
    or coordinator watching the exchange folder never reads half a bundle.
    """
    validate_bundle(bundle, str(path))
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    part = path.with_name(path.name + ".part")
    part.write_text(json.dumps(bundle, indent=1, sort_keys=True, allow_nan=False) + "\n",
                    encoding="utf-8")
    os.replace(part, path)


def read_bundle(path: str | Path) -> dict:
    """Read and validate a bundle."""
    bundle = _read_json(path)
    validate_bundle(bundle, str(path))
    return bundle


def _read_json(path: str | Path) -> dict:
    try:
        bundle = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ProtocolError(f"{path}: cannot be read as JSON ({exc})") from None
    if not isinstance(bundle, dict):
        raise ProtocolError(f"{path}: not a federation bundle (a JSON {type(bundle).__name__})")
    return bundle


def read_answer(path: str | Path, round_: int, site: str, keys: dict[str, str],
                required: bool) -> dict:
    """Read a site's answer, checking its signature before anything else of it is used.

    ``round_`` and ``site`` are where the answer was found (its round folder and
    file name); ``keys`` the coordinator's public keys by site and ``required``
    whether an unsigned answer is refused (:mod:`netpet_stats.federated.signing`).
    A changed answer, one signed with another key, or an unsigned one where
    signatures are required is refused naming the round and the site.
    """
    bundle = _read_json(path)
    problem = signing.verify(bundle, site, round_, keys, required)
    if problem:
        raise ProtocolError(problem)
    validate_bundle(bundle, str(path))
    return bundle


# ----------------------------------------------------------------------------- settings


def make_spec(config: dict, groups: list[str], frozen: dict | None = None) -> dict:
    """The analysis every site runs, from the coordinator's configuration.

    The primary Cox model must be stratified by centre (a stratified analysis
    decomposes exactly over centres; a model with a common baseline hazard does
    not). ``frozen``: a frozen model (:func:`netpet_stats.validation.frozen_model.load`)
    that every site validates on its own patients, per centre, at its last horizon.
    """
    fed = config["federation"]
    name = config["cox"]["primary_model"]
    model = config["cox"]["models"][name]
    covs = list(model["covariates"])
    strata = list(model.get("strata", []))
    if "centre" not in strata:
        raise ProtocolError(
            f"federation: cox.primary_model {name!r} is not stratified by centre (strata: "
            f"{strata}); only a centre-stratified model is exactly decomposable over sites")
    if "centre" in covs:
        raise ProtocolError(f"federation: cox.primary_model {name!r} has centre as a covariate")
    cov_spec = {c: {k: v for k, v in config["covariates"][c].items()
                    if k in ("label", "type", "levels", "transform", "scale", "floor")}
                for c in covs}
    t1 = config["table1"]
    return {
        "endpoints": {ep: {"label": spec.get("label", ep)}
                      for ep, spec in config["endpoints"].items()},
        "model": {"name": name, "label": model.get("label", name), "covariates": covs,
                  "strata": strata},
        "covariates": cov_spec,
        "groups": list(groups),
        "min_cell": int(config["privacy"]["threshold"]),
        "km_tier": fed["km_tier"],
        "km_round_to": int(fed["km_round_to"]),
        "km_grid": float(fed["km_grid"]),
        "table1": {"variables": [v for v in t1["variables"] if v != "centre"],
                   "continuous": list(t1["continuous"])},
        "conf_level": float(config["cox"]["conf_level"]),
        # the tie method every site's sums use (cox.ties: efron or breslow)
        "ties": config["cox"].get("ties", "efron"),
        "time_unit": config["analysis_time_unit"],
        **({"validation": {"model": to_json(frozen),
                           "horizon": max(float(h) for h in
                                          frozen["baseline_survival"]["horizons"])}}
           if frozen else {}),
    }


def simple_spec(covariates: dict, groups: list[str], endpoints=("os",), min_cell: int = 5,
                km_tier: str = "none", table1: dict | None = None, time_unit: str = "months",
                conf_level: float = 0.95) -> dict:
    """A spec without a configuration file: a model stratified by centre on ``covariates``.

    ``covariates`` maps each model covariate to its coding (``type``, optional
    ``levels``, ``transform``, ``scale``); the log-rank tests compare ``groups`` (the
    values of the data's ``netpet_group`` column). Used to run the protocol on
    any cohort laid out as the prepared cohort (``<endpoint>_time``,
    ``<endpoint>_event``, ``netpet_group``, ``centre``).

    Examples
    --------
    >>> from netpet_stats.federated.protocol import simple_spec
    >>> spec = simple_spec({"age": {"type": "continuous"}}, ["a", "b"])
    >>> spec["model"]["strata"], spec["min_cell"]
    (['centre'], 5)
    """
    return {"endpoints": {ep: {"label": ep} for ep in endpoints},
            "model": {"name": "primary", "label": " + ".join(covariates) + " + strata(centre)",
                      "covariates": list(covariates), "strata": ["centre"]},
            "covariates": covariates, "groups": list(groups), "min_cell": int(min_cell),
            "km_tier": km_tier, "km_round_to": 5, "km_grid": 1.0,
            "table1": table1 or {"variables": [], "continuous": []},
            "conf_level": conf_level, "time_unit": time_unit}


def first_request(spec: dict) -> dict:
    return {"protocol": PROTOCOL, "round": 1, "kind": "describe", "spec": spec}


# ----------------------------------------------------------------------------- site


def site_answer(request: dict, data: pd.DataFrame, site: str) -> tuple[dict, pd.DataFrame]:
    """One site's answer to a request, and the ledger of what it releases.

    Parameters
    ----------
    request
        The coordinator's request (read with :func:`read_bundle`).
    data
        The site's analysis cohort (one row per patient, as prepared by the
        workflow: ``<endpoint>_time``, ``<endpoint>_event``, ``netpet_group``,
        covariates, ``centre``).
    site
        The site's name, as the coordinator's configuration lists it.

    Examples
    --------
    >>> import pandas as pd
    >>> from netpet_stats.federated.protocol import first_request, simple_spec, site_answer
    >>> rows = pd.DataFrame({"os_time": range(1, 13), "os_event": [1, 0] * 6,
    ...                      "age": [50, 61, 72, 45, 66, 58, 70, 49, 63, 55, 68, 60],
    ...                      "netpet_group": ["a", "b"] * 6, "centre": "A"})
    >>> answer, ledger = site_answer(first_request(simple_spec({"age": {}}, ["a", "b"])),
    ...                              rows, "A")
    >>> answer["endpoints"]["os"]["status"], answer["endpoints"]["os"]["n"]
    ('included', 12)
    >>> ledger[ledger["path"] == "endpoints/os/n"]["rule"].item()
    'count >= min_cell (or zero)'
    """
    if request.get("protocol") != PROTOCOL:
        raise ProtocolError(f"the request speaks {request.get('protocol')!r}; this site speaks "
                            f"{PROTOCOL!r} (install the coordinator's netpet-stats version)")
    spec = request["spec"]
    release = Release(request["round"])
    release.put(["protocol"], PROTOCOL, None, RULE_SETTING)
    release.put(["round"], request["round"], None, RULE_SETTING)
    release.put(["kind"], request["kind"], None, RULE_SETTING)
    release.put(["site"], site, None, RULE_SETTING)
    release.put(["request_sha256"], digest(request), None, RULE_SETTING)
    if request["kind"] == "describe":
        _describe(release, spec, data)
    elif request["kind"] == "cox":
        _cox(release, request, spec, data)
    else:
        raise ProtocolError(f"round {request['round']}: nothing to answer (kind "
                            f"{request['kind']!r})")
    return release.bundle, release.ledger()


def _model_rows(spec: dict, data: pd.DataFrame, endpoint: str) -> pd.DataFrame:
    """The site's complete cases for the primary model on ``endpoint`` (R na.omit)."""
    need = ["netpet_group", f"{endpoint}_time", f"{endpoint}_event",
            *spec["model"]["covariates"], *spec["model"]["strata"]]
    return data.dropna(subset=list(dict.fromkeys(need)))


def eligible(spec: dict, d: pd.DataFrame, endpoint: str) -> bool:
    k = spec["min_cell"]
    return len(d) >= k and d[f"{endpoint}_event"].sum() >= k


def _strata(spec: dict, d: pd.DataFrame) -> np.ndarray:
    return stratum_labels(d, spec["model"]["strata"])


def _describe(release: Release, spec: dict, data: pd.DataFrame) -> None:
    k = spec["min_cell"]
    groups = spec["groups"]
    rows = {ep: _model_rows(spec, data, ep) for ep in spec["endpoints"]}
    included = {ep: eligible(spec, d, ep) for ep, d in rows.items()}
    for ep, d in rows.items():
        if not included[ep]:
            base = ["endpoints", ep]
            release.put([*base, "status"], "refused", None, RULE_REFUSED)
            release.put([*base, "reason"], f"fewer than {k} patients or events", None,
                        RULE_REFUSED)
    if not any(included.values()):
        return  # refused for every endpoint: the refusal is all it releases
    for ep, d in rows.items():
        if not included[ep]:
            continue
        base = ["endpoints", ep]
        n, events = len(d), int(d[f"{ep}_event"].sum())
        release.put([*base, "status"], "included", None, RULE_SETTING)
        release.put([*base, "n"], n, n, RULE_COUNT)
        release.put([*base, "events"], events, events, RULE_COUNT)
        for cov, cs in spec["covariates"].items():
            if cs.get("type") == "categorical":
                values = d[cov]
                order = ([str(c) for c in values.cat.categories]
                         if isinstance(values.dtype, pd.CategoricalDtype) else [])
                seen = values.dropna().astype(str).value_counts()
                present = sorted(seen.index)
                release.put([*base, "levels", cov, "present"], present,
                            [int(seen[lv]) for lv in present], RULE_PRESENCE)
                release.put([*base, "levels", cov, "declared_order"], order, None, RULE_SETTING)
        # the log-rank tests use every patient with a group, the outcome and the strata
        # (as the single-machine rule logrank), not only the model's complete cases
        lr = data.dropna(subset=["netpet_group", f"{ep}_time", f"{ep}_event",
                                 *spec["model"]["strata"]])
        t, e = lr[f"{ep}_time"].to_numpy(float), lr[f"{ep}_event"].to_numpy(float)
        g = lr["netpet_group"].astype(str).to_numpy(dtype=object)
        strata = _strata(spec, lr)
        by_group = pd.Series(g).value_counts()
        smallest = int(min((by_group.get(x, 0) for x in groups if by_group.get(x, 0) > 0),
                           default=0))
        if smallest < k:
            release.put([*base, "logrank", "status"], "withheld", None, RULE_REFUSED)
            release.put([*base, "logrank", "reason"], f"a group with fewer than {k} patients",
                        None, RULE_REFUSED)
        else:
            parts = aggregates.logrank_parts(t, e, g, groups, strata)
            release.put([*base, "logrank", "status"], "included", None, RULE_SETTING)
            release.put([*base, "logrank", "all"], _lr(parts), smallest, RULE_AGGREGATE)
            for a, b in combinations(groups, 2):
                m = (g == a) | (g == b)
                if m.sum() == 0:
                    continue
                pp = aggregates.logrank_parts(t[m], e[m], g[m], [a, b], strata[m])
                pair = min(c for c in (by_group.get(a, 0), by_group.get(b, 0)) if c > 0)
                release.put([*base, "logrank", f"{a} vs {b}"], _lr(pp), int(pair),
                            RULE_AGGREGATE)
        if spec["km_tier"] != "none":
            _km(release, [*base, "km"], spec, t, e, g)
        _local_fits(release, [*base, "local_fits"], spec, d, ep)
    _table1(release, spec, data)
    if spec.get("validation"):
        _validation(release, spec, data)


def model_covariates(spec: dict) -> dict[str, list[str]]:
    """The covariates of the primary model and of the model without each of its terms."""
    covs = list(spec["model"]["covariates"])
    models = {"full": covs}
    if len(covs) > 1:
        models.update({f"drop {c}": [x for x in covs if x != c] for c in covs})
    return models


def _local_fits(release: Release, base: list[str], spec: dict, d: pd.DataFrame,
                endpoint: str) -> None:
    """The site's own Cox fit of every model, coded with the levels present here.

    The coordinator starts its Newton-Raphson iterations from their
    inverse-variance weighted mean (:func:`start_from_local_fits`), so the first
    Cox round already evaluates near the pooled estimate. A categorical term is
    coded as R codes it on these rows alone: its reference is the first level
    present here (named in ``references``). A fit that is singular or whose
    coefficient may be infinite is not sent.
    """
    t, e = d[f"{endpoint}_time"].to_numpy(float), d[f"{endpoint}_event"].to_numpy(float)
    strata = _strata(spec, d)
    for name, covs in model_covariates(spec).items():
        X, terms = design_matrix(d, covs, spec["covariates"])
        if X.shape[1] == 0:
            continue
        x = X.to_numpy(float)
        fit = aggregates.local_fit(t, e, x, strata, ties=spec.get("ties", "efron"))
        if fit is None:
            continue
        # every level of every term behind the fit, the reference included
        smallest = fewest_behind(d, spec, terms, list(X.columns))
        rule = RULE_AGGREGATE if smallest >= spec["min_cell"] else RULE_SMALL_CATEGORY
        release.put([*base, name, "columns"], list(X.columns), None, RULE_SETTING)
        release.put([*base, name, "references"],
                    {term.name: term.reference for term in terms if term.reference},
                    None, RULE_PRESENCE)
        release.put([*base, name, "beta"], fit["beta"], smallest, rule)
        release.put([*base, name, "information"], fit["information"], smallest, rule)


def _validation(release: Release, spec: dict, data: pd.DataFrame) -> None:
    """Each centre's performance measures of the frozen model (for random-effects pooling)."""
    k = spec["min_cell"]
    model, tau = spec["validation"]["model"], spec["validation"]["horizon"]
    ep = model["endpoint"]
    d = data.dropna(subset=["netpet_group", f"{ep}_time", f"{ep}_event",
                            *model["covariates"]]).reset_index(drop=True)
    t, e = d[f"{ep}_time"].to_numpy(float), d[f"{ep}_event"].to_numpy(float)
    lp = frozen_model.linear_predictor(model, d).to_numpy()
    pred = frozen_model.predict_survival(model, d, tau).to_numpy()
    centre = d["centre"].astype(str).to_numpy(dtype=object)
    for c in sorted(set(centre)):
        m = centre == c
        base = ["validation", c]
        if m.sum() < k or e[m].sum() < k:
            release.put([*base, "status"], "refused", None, RULE_REFUSED)
            release.put([*base, "reason"], f"fewer than {k} patients or events", None,
                        RULE_REFUSED)
            continue
        frame = external.centre_measures(t[m], e[m], lp[m], pred[m], centre[m], tau)
        release.put([*base, "status"], "included", None, RULE_SETTING)
        for r in frame.itertuples():
            release.put([*base, "measures", r.measure],
                        {"estimate": r.estimate, "lower": r.lower, "upper": r.upper,
                         "scale_estimate": r.scale_estimate, "scale_se": r.scale_se,
                         "n": r.n, "events": r.events}, int(m.sum()), RULE_AGGREGATE)


def _lr(parts: dict) -> dict:
    return {"groups": parts["groups"], "n": parts["n"], "observed": parts["observed"],
            "expected": parts["expected"], "variance": parts["variance"]}


def _km(release: Release, base: list[str], spec: dict, t, e, g) -> None:
    """Kaplan-Meier counts by group in the configured tier.

    A group of fewer than ``min_cell`` patients releases no curve (in either tier);
    it is left out as a group without patients is, so the answer does not show
    which of the two it is.
    """
    for grp in spec["groups"]:
        m = g == grp
        if m.sum() < spec["min_cell"]:
            continue
        tg, eg = t[m], e[m]
        if spec["km_tier"] == "exact":
            times, at = np.unique(tg, return_inverse=True)
            d_ = np.bincount(at, weights=eg, minlength=times.size)
            c_ = np.bincount(at, minlength=times.size) - d_
            behind = d_ + c_  # the patients at each time
            release.put([*base, grp], {"time": times, "events": d_, "censored": c_},
                        np.concatenate([behind, d_, c_]), RULE_DISCLOSIVE)
            continue
        width, step = spec["km_grid"], spec["km_round_to"]
        edges = width * np.arange(int(np.ceil(tg.max() / width)) + 1)
        # interval (edge_i, edge_i+1]; a time on an edge closes its interval
        idx = np.clip(np.searchsorted(edges, tg, side="left") - 1, 0, edges.size - 2)
        d_ = np.bincount(idx, weights=eg, minlength=edges.size - 1)
        c_ = np.bincount(idx, weights=1 - eg, minlength=edges.size - 1)
        # the cumulative counts are rounded, not each interval's: rounding errors do not
        # add up along the curve, and the rounded counts stay non-negative
        dr = np.diff(np.round(np.cumsum(d_) / step) * step, prepend=0.0)
        cr = np.diff(np.round(np.cumsum(c_) / step) * step, prepend=0.0)
        # the site's own check of what rounding costs: its exact curve against the
        # curve from its rounded counts, at the grid points
        s_exact = step_at(km_table(tg, eg), edges[1:])
        s_round = step_at(km_from_counts(edges[1:], dr, cr), edges[1:])
        deviation = float(np.max(np.abs(s_exact - s_round))) if s_round.size else 0.0
        # the patients behind each number: followed into the interval (the grid), and
        # the exact cumulative counts that were rounded
        followed = np.bincount(idx, minlength=edges.size - 1)[::-1].cumsum()[::-1]
        release.put([*base, grp, "upper"], edges[1:], followed, RULE_GRID)
        release.put([*base, grp, "events"], dr, np.cumsum(d_), RULE_ROUNDED)
        release.put([*base, grp, "censored"], cr, np.cumsum(c_), RULE_ROUNDED)
        release.put([*base, grp, "max_deviation"], deviation, int(m.sum()), RULE_DEVIATION)


def _table1(release: Release, spec: dict, data: pd.DataFrame) -> None:
    """Table 1 counts by group (:func:`netpet_stats.federated.disclosure.suppress_counts`).

    The groups' sizes are a column whose total (the site's patients) is taken as
    known: a group of fewer than ``min_cell`` patients is withheld, with a second
    group so that its size cannot be worked out from the total, and a withheld group
    releases no breakdown of any variable. A variable the site does not record (no
    column in its table) is released as that fact.
    """
    k = spec["min_cell"]
    groups = spec["groups"]
    d = data.dropna(subset=["netpet_group"])
    g = d["netpet_group"].astype(str)
    sizes = np.array([int((g == x).sum()) for x in groups])
    n_rel, n_rule = suppress_counts(sizes.reshape(-1, 1), k)
    n_rel, n_rule = n_rel[:, 0], n_rule[:, 0]
    withheld = [j for j in range(len(groups)) if np.isnan(n_rel[j])]
    release.put(["table1", "groups"], groups, None, RULE_SETTING)
    release.put(["table1", "n"], n_rel, _behind(n_rel, sizes), n_rule)
    not_recorded = [v for v in spec["table1"]["variables"] if v not in d.columns]
    if not_recorded:
        release.put(["table1", "not_recorded"], not_recorded, None, RULE_SETTING)
    for var in spec["table1"]["variables"]:
        if var not in d.columns:
            continue
        if var in spec["table1"]["continuous"]:
            x = pd.to_numeric(d[var], errors="coerce")
            stats = {"n": [], "sum": [], "sum_squares": []}
            behind, rules = [], []
            for j, grp in enumerate(groups):
                v = x[g == grp].dropna().to_numpy(float)
                missing = sizes[j] - v.size
                if j in withheld:
                    why = RULE_SMALL_GROUP if sizes[j] < k else RULE_GROUP_SECONDARY
                elif 0 < v.size < k:
                    why = RULE_SUPPRESSED
                elif 0 < missing < k:
                    why = RULE_MISSING_SMALL
                else:
                    why = RULE_AGGREGATE if v.size else RULE_COUNT
                ok = why in (RULE_AGGREGATE, RULE_COUNT)
                stats["n"].append(v.size if ok else None)
                stats["sum"].append(float(v.sum()) if ok else None)
                stats["sum_squares"].append(float(v @ v) if ok else None)
                behind.append(v.size if ok else None)
                rules.append(why)
            release.put(["table1", "continuous", var], stats,
                        np.tile(np.array(behind, dtype=object), 3), np.tile(rules, 3))
            continue
        values = _level_text(d[var])
        levels = sorted(set(values))
        counts = np.array([[int(((values == lv) & (g == grp)).sum()) for grp in groups]
                           for lv in levels])
        released, rules = suppress_counts(counts, k, withheld)
        seen = values.value_counts()
        release.put(["table1", "categorical", var, "levels"], levels,
                    [int(seen[lv]) for lv in levels], RULE_PRESENCE)
        release.put(["table1", "categorical", var, "counts"], released,
                    _behind(released, counts), rules)


def _behind(released: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """The patients behind each released count (None where nothing is released)."""
    counts = np.asarray(counts, dtype=object)
    return np.where(np.isnan(np.asarray(released, float)), None, counts)


def _smallest(released) -> int | None:
    """The smallest non-zero count released (None if every count is zero or suppressed)."""
    values = np.asarray(released, float)
    values = values[np.isfinite(values) & (values > 0)]
    return int(values.min()) if values.size else None


def _level_text(values: pd.Series) -> pd.Series:
    """Category labels as text; whole numbers without a decimal point; missing named."""
    numeric = pd.to_numeric(values, errors="coerce")
    if values.notna().any() and numeric[values.notna()].notna().all() and \
            (numeric.dropna() % 1 == 0).all():
        text = numeric.map(lambda v: str(int(v)) if pd.notna(v) else None)
    else:
        text = values.astype("object").map(lambda v: str(v) if pd.notna(v) else None)
    return text.where(values.notna(), "(missing)").astype(str)


def site_design(request: dict, data: pd.DataFrame, endpoint: str):
    """The site's rows for ``endpoint`` coded with the coordinator's design."""
    spec = request["spec"]
    d = _model_rows(spec, data, endpoint)
    cov_config = _design_config(spec, request["design"])
    X, _ = design_matrix(d, spec["model"]["covariates"], cov_config, fixed_levels=True)
    return d, X


def _design_config(spec: dict, design: dict) -> dict:
    out = {}
    for cov, cs in spec["covariates"].items():
        cs = dict(cs)
        if cov in design:
            cs["levels"] = design[cov]
        out[cov] = cs
    return out


def _cox(release: Release, request: dict, spec: dict, data: pd.DataFrame) -> None:
    designs = {}  # one design per endpoint, shared by its models
    for item in request["evaluations"]:
        ep = item["endpoint"]
        if ep not in designs:
            designs[ep] = site_design(request, data, ep)
        d, X = designs[ep]
        base = ["evaluated", item["id"]]
        if not eligible(spec, d, ep):
            release.put([*base, "status"], "refused", None, RULE_REFUSED)
            continue
        release.put([*base, "status"], "included", None, RULE_SETTING)
        x = X[item["columns"]].to_numpy(float)
        t, e = d[f"{ep}_time"].to_numpy(float), d[f"{ep}_event"].to_numpy(float)
        strata = _strata(spec, d)
        n = len(d)
        ev = aggregates.cox_evaluation(t, e, x, item["beta"], strata, item["robust"],
                                       item["concordance"], ties=spec.get("ties", "efron"))
        # the score and information of an indicator column are sums over the patients
        # in that category: the ledger states the smallest count of any level of any
        # term in the model (the reference level included), and says so when it is
        # below the minimum cell size (the exact pooled fit needs it)
        smallest = smallest_level(d, spec, request["design"], item["columns"])
        rule = RULE_AGGREGATE if smallest >= spec["min_cell"] else RULE_SMALL_CATEGORY
        for key in ("loglik", "score", "information"):
            release.put([*base, key], ev[key], smallest, rule)
        if item["robust"]:
            release.put([*base, "score_crossproduct"], ev["score_crossproduct"], smallest, rule)
        if item["concordance"]:
            release.put([*base, "concordance"],
                        {"harrell": ev["concordance"]["n"], "uno": ev["concordance"]["n/G2"]},
                        n, RULE_AGGREGATE)
        if item["local_fit"]:
            fit = aggregates.local_fit(t, e, x, strata, ties=spec.get("ties", "efron"))
            if fit is not None:
                release.put([*base, "local_fit"], fit, smallest, rule)


def smallest_level(d: pd.DataFrame, spec: dict, design: dict, columns: list[str]) -> int:
    """Fewest patients behind a model's sums: every level of every term, or all patients.

    Every level of each categorical term of the model is counted, the reference
    level included (the reference's patients are those with every indicator of the
    term at 0); a binary covariate counts both of its values. A level absent from
    the site (no patient) is behind nothing and is not counted.

    Examples
    --------
    >>> import pandas as pd
    >>> from netpet_stats.federated.protocol import simple_spec, smallest_level
    >>> spec = simple_spec({"grade": {"type": "categorical"}, "age": {}}, ["a"])
    >>> rows = pd.DataFrame({"grade": ["G1", "G2", "G2", "G2", "G3"], "age": [60.0] * 5})
    >>> smallest_level(rows, spec, {"grade": ["G1", "G2", "G3"]},
    ...                ["grade[G2]", "grade[G3]", "age"])
    1
    """
    _, terms = design_terms(spec, design)
    return fewest_behind(d, spec, terms, columns)


def fewest_behind(d: pd.DataFrame, spec: dict, terms, columns: list[str]) -> int:
    """:func:`smallest_level` for model terms already built (``terms`` of
    ``design_matrix`` or :func:`design_terms`) with the design's ``columns``."""
    counts = [len(d)]
    for term in terms:
        if not term.columns or not set(term.columns) <= set(columns):
            continue  # a term dropped from this model
        values = d[term.name]
        if term.reference or spec["covariates"][term.name].get("type") in ("categorical",
                                                                           "binary"):
            counts += [int(c) for c in values.astype(str).value_counts() if c > 0]
        else:
            numeric = pd.to_numeric(values, errors="coerce")
            if numeric.isin([0, 1]).all():
                counts += [int(c) for c in numeric.value_counts() if c > 0]
    return min(counts)


# ----------------------------------------------------------------------------- coordinator


def pooled_design(spec: dict, describe: dict[str, dict]) -> dict:
    """Levels of each categorical covariate present at any included site, in order.

    The order is the declared ``levels``, else the category order the sites
    report (the NETPET groups), else sorted; the first present level is the
    reference, as :func:`netpet_stats.fit_cox` on the pooled rows would choose.
    """
    design = {}
    for cov, cs in spec["covariates"].items():
        if cs.get("type") != "categorical":
            continue
        present, order = set(), []
        for ans in describe.values():
            for ep in ans.get("endpoints", {}).values():
                lv = ep.get("levels", {}).get(cov)
                if lv:
                    present |= set(lv["present"])
                    order = order or lv["declared_order"]
        declared = [str(x) for x in cs.get("levels") or order] or sorted(present)
        design[cov] = [lv for lv in declared if lv in present] + sorted(present - set(declared))
    return design


def design_terms(spec: dict, design: dict) -> tuple[list[str], list[Term]]:
    """Design columns and terms of the pooled model (no patient rows needed)."""
    empty = pd.DataFrame({c: pd.Series(dtype=object if c in design else float)
                          for c in spec["model"]["covariates"]})
    X, terms = design_matrix(empty, spec["model"]["covariates"], _design_config(spec, design),
                             fixed_levels=True)
    return list(X.columns), terms


def _models(spec: dict, columns: list[str], terms: list[Term]) -> dict[str, list[str]]:
    models = {"full": columns}
    if len(terms) > 1:
        for term in terms:
            models[f"drop {term.name}"] = [c for c in columns if c not in term.columns]
    return models


def digest(bundle: dict) -> str:
    """SHA-256 of a bundle's canonical JSON (what an answer quotes of its request)."""
    text = json.dumps(bundle, sort_keys=True, allow_nan=False, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def replay(spec: dict, sites: list[str], answers: list[dict[str, dict]],
           max_rounds: int = 20, published: dict[int, dict] | None = None) -> dict:
    """The coordinator's state after the rounds answered so far.

    The requests are regenerated from the settings and the answers (the
    iteration is deterministic), and every answer must quote the digest of the
    request it answers: an answer to anything else (the settings changed since,
    a file from another consortium) is refused by name.

    Parameters
    ----------
    spec
        :func:`make_spec` of the coordinator's configuration.
    sites
        Every site's name.
    answers
        Per round (first round first), the answers received, by site.
    max_rounds
        Rounds after which a model still running is reported as not converged.
    published
        The requests found in the exchange folder, by round (optional): when every
        site answered the published request and it is not the one the settings
        give now, the coordinator's settings changed, and the refusal says so and
        which settings differ.

    Returns
    -------
    dict
        ``next``: the request to publish now (``kind`` ``done`` when every model
        has converged); ``waiting``: sites whose answer to the newest request is
        missing (then ``next`` is that request again); ``expected``: by round, the
        sites whose answers it needs (every site in round 1; from round 2 only
        those included for at least one endpoint: a site refused for every
        endpoint is not waited for); and the pooled quantities for
        :mod:`netpet_stats.federated.results`.

    Examples
    --------
    >>> from netpet_stats.federated.protocol import replay, simple_spec
    >>> state = replay(simple_spec({"age": {}}, ["a", "b"]), ["A", "B"], [])
    >>> state["next"]["round"], state["next"]["kind"]  # nothing answered yet
    (1, 'describe')
    """
    state = {"rounds": 0, "waiting": [], "certificates": [], "expected": {}}
    request = first_request(spec)
    newton: dict[str, aggregates.PooledNewton] = {}
    extras: dict[str, dict] = {}
    # every site describes itself in round 1; later rounds need only the sites included
    # for at least one endpoint (a site refused for all of them has nothing to send)
    expected = list(sites)
    for round_answers in answers:
        state["rounds"] = request["round"]
        state["expected"][request["round"]] = expected
        _check_answers(request, sites, round_answers, published or {})
        missing = [s for s in expected if s not in round_answers]
        if missing:
            state.update(next=request, waiting=missing)
            return state
        if request["kind"] == "describe":
            describe = round_answers
            design = pooled_design(spec, describe)
            columns, terms = design_terms(spec, design)
            models = _models(spec, columns, terms)
            included = {ep: [s for s in sites if describe[s]["endpoints"][ep]["status"]
                             == "included"] for ep in spec["endpoints"]}
            expected = [s for s in sites if any(s in inc for inc in included.values())]
            state.update(describe=describe, design=design, columns=columns, terms=terms,
                         models=models, included=included, newton=newton, extras=extras)
            for ep in spec["endpoints"]:
                if not included[ep]:
                    continue
                for name, cols in models.items():
                    nw = aggregates.PooledNewton(len(cols), TOLERANCE)
                    nw.pending = start_from_local_fits(
                        [describe[s]["endpoints"][ep].get("local_fits", {}).get(name)
                         for s in included[ep]], cols, terms, design)
                    newton[f"{ep}/{name}"] = nw
        else:
            _update_newton(request, round_answers, state, newton, extras)
        request = _next_request(spec, state, newton, request["round"] + 1, max_rounds)
    state["next"] = request
    if request["kind"] != "done":
        state["expected"][request["round"]] = expected
    state["waiting"] = [] if request["kind"] == "done" else list(expected)
    return state


def refused_everywhere(answer: dict) -> bool:
    """Whether a site's round-1 answer refuses every endpoint (it is not asked again).

    Examples
    --------
    >>> from netpet_stats.federated.protocol import refused_everywhere
    >>> refused_everywhere({"kind": "describe", "endpoints": {"os": {"status": "refused"}}})
    True
    """
    return answer.get("kind") == "describe" and all(
        ep.get("status") == "refused" for ep in (answer.get("endpoints") or {}).values())


def _settings_changed(published: dict, request: dict) -> str:
    """The settings of the analysis that differ between two requests, in words."""
    old, new = published.get("spec", {}), request.get("spec", {})
    changed = []
    for key in sorted(set(old) | set(new)):
        if old.get(key) != new.get(key):
            a, b = json.dumps(old.get(key)), json.dumps(new.get(key))
            changed.append(f"{key}: {a} then, {b} now" if len(a) + len(b) < 120 else key)
    return "; ".join(changed) or "the request's contents"


def _check_answers(request: dict, sites: list[str], answers: dict[str, dict],
                   published_requests: dict[int, dict] | None = None) -> None:
    want = digest(request)
    published = (published_requests or {}).get(request["round"])
    quoted = {site: ans.get("request_sha256") for site, ans in answers.items()
              if site in sites and ans.get("site") == site and ans.get("round") == request["round"]}
    others = set(quoted.values()) - {want}
    if quoted and len(others) == 1 and all(d != want for d in quoted.values()) and (
            (published is not None and digest(published) in others)
            or (published is None and len(quoted) >= 2)):
        # every site answered one and the same request, and it is not the one the
        # coordinator's settings give now: the coordinator's settings changed
        what, since = "", request["round"]
        if published is not None:
            what = f" ({_settings_changed(published, request)})"
            # the last round published under the same settings as this one
            since = max(r for r, req in published_requests.items()
                        if r >= since and req.get("spec") == published.get("spec"))
        raise ProtocolError(
            f"round {request['round']}: the coordinator's settings changed since round "
            f"{since} was published{what}: every site ({', '.join(sorted(quoted))}) answered the request "
            "published then, which the current settings no longer give. Restore the "
            "settings this exchange was started with, or start a new exchange folder and ask "
            "every site to answer again")
    problems = []
    for site, ans in sorted(answers.items()):
        if site not in sites:
            problems.append(f"an answer from {site!r}, which is not among federation.sites "
                            f"{sites}")
        elif ans.get("site") != site or ans.get("round") != request["round"]:
            problems.append(f"the answer filed as {site!r} says it is from site "
                            f"{ans.get('site')!r}, round {ans.get('round')}")
        elif ans.get("request_sha256") != want:
            problems.append(f"{site!r} answered another request than the coordinator's "
                            "(its settings or the site's copy differ); publish a new exchange "
                            "folder and ask every site to answer again")
    if problems:
        raise ProtocolError(f"round {request['round']}: " + "; ".join(problems))


def start_from_local_fits(fits: list[dict | None], columns: list[str], terms: list[Term],
                          design: dict) -> np.ndarray:
    """Inverse-variance weighted mean of the sites' own fits, in the pooled coding.

    ``(sum_s I_s)^-1 sum_s I_s beta_s``, the fixed-effect meta-analysis of the local
    estimates (close to the pooled estimate, so that Newton-Raphson from it needs
    few rounds; the pooled fit itself does not depend on where it starts). A site's
    coefficients enter where its coding is the pooled one: a categorical term whose
    reference level differs at that site (its pooled reference is absent there) is
    left out of that site's contribution, the others entering with their marginal
    information ``(V_kept)^-1``, ``V = I_s^-1``. A column no site informs starts at 0.

    Examples
    --------
    >>> import numpy as np
    >>> from netpet_stats.federated.protocol import start_from_local_fits
    >>> from netpet_stats.survival.cox import Term
    >>> terms = [Term("age", "age", ["age"], [""], "")]
    >>> fits = [{"columns": ["age"], "references": {}, "beta": [0.1], "information": [[100.0]]},
    ...         {"columns": ["age"], "references": {}, "beta": [0.4], "information": [[50.0]]}]
    >>> start_from_local_fits(fits, ["age"], terms, {}).round(6).tolist()  # (10 + 20) / 150
    [0.2]
    """
    p = len(columns)
    owner = {c: term.name for term in terms for c in term.columns}
    info, rhs = np.zeros((p, p)), np.zeros(p)
    for fit in fits:
        if not fit:
            continue
        refs = fit.get("references", {})
        keep = [i for i, c in enumerate(fit["columns"]) if c in columns and (
            owner.get(c) not in design or refs.get(owner[c]) == design[owner[c]][0])]
        if not keep:
            continue
        k = len(fit["columns"])
        beta = np.asarray(fit["beta"], float).reshape(k)
        try:
            V = np.linalg.inv(np.asarray(fit["information"], float).reshape(k, k))
            marginal = np.linalg.inv(V[np.ix_(keep, keep)])
        except np.linalg.LinAlgError:
            continue
        at = [columns.index(fit["columns"][i]) for i in keep]
        info[np.ix_(at, at)] += marginal
        rhs[at] += marginal @ beta[keep]
    start = np.zeros(p)
    informed = np.flatnonzero(np.diag(info) > 0)
    if informed.size:
        try:
            start[informed] = np.linalg.solve(info[np.ix_(informed, informed)], rhs[informed])
        except np.linalg.LinAlgError:
            return np.zeros(p)
    return start if np.all(np.isfinite(start)) else np.zeros(p)


def _update_newton(request: dict, answers: dict[str, dict], state: dict,
                   newton: dict, extras: dict) -> None:
    for item in request["evaluations"]:
        key, ep = item["id"], item["endpoint"]
        parts = []
        for s in state["included"][ep]:
            part = answers[s]["evaluated"].get(key)
            if part is None or part["status"] != "included":
                raise ProtocolError(f"round {request['round']}: site {s!r} was included for "
                                    f"{ep} but did not evaluate {key!r}")
            parts.append(part)
        p = len(item["columns"])
        ll = float(sum(q["loglik"] for q in parts))
        score = np.asarray(sum(np.asarray(q["score"], float) for q in parts)).reshape(p)
        info = np.asarray(sum(np.asarray(q["information"], float) for q in parts)).reshape(p, p)
        if key.endswith(NULL):  # the model at zero: its score test and null likelihood
            extras[key] = {"loglik": ll, "score": score, "information": info}
            continue
        before = newton[key].beta
        newton[key].update(ll, score, info)
        nw = newton[key]
        if (item["robust"] or item["concordance"]) and (
                before is None or not np.array_equal(before, nw.beta)):
            extras[key] = {"parts": parts, "beta": np.asarray(item["beta"], float)}
        state["certificates"].append({"round": request["round"], "evaluation": key,
                                      "loglik": ll,
                                      "max_abs_score": nw.history[-1]["max_abs_score"],
                                      "status": nw.status})


def _next_request(spec: dict, state: dict, newton: dict, round_: int, max_rounds: int) -> dict:
    """The next round's evaluations: each running model at its next Newton point.

    The first Cox round also evaluates the primary model at zero (``<id>|null``:
    the null log likelihood, and the score and information of the score test),
    beside its start; every later round is one Newton-Raphson step.
    """
    items = []
    for ep in spec["endpoints"]:
        if not state["included"][ep]:
            continue
        for name, cols in state["models"].items():
            key = f"{ep}/{name}"
            nw = newton[key]
            if name == "full" and key + NULL not in state["extras"] and round_ <= max_rounds:
                items.append({"id": key + NULL, "endpoint": ep, "model": name, "columns": cols,
                              "beta": [0.0] * len(cols), "local_fit": False, "robust": False,
                              "concordance": False})
            if nw.status != "running":
                continue
            if round_ > max_rounds:
                nw.status = "not converged"
                continue
            items.append({"id": key, "endpoint": ep, "model": name, "columns": cols,
                          "beta": nw.pending.tolist(), "local_fit": False,
                          "robust": name == "full", "concordance": name == "full"})
    if not items:
        return {"protocol": PROTOCOL, "round": round_, "kind": "done", "spec": spec}
    return {"protocol": PROTOCOL, "round": round_, "kind": "cox", "spec": spec,
            "design": state["design"], "evaluations": items}
