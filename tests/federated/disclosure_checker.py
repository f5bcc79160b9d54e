"""A disclosure checker written apart from the ledger code.

It reads what a site released (the answer, as sent) and the site's own patient rows,
and recomputes, for every released number, the patients behind it. It imports nothing
from ``netpet_stats.federated.disclosure`` and does not reuse the protocol's counting:
the rows are counted here with plain pandas. A finding is a released number or
breakdown behind fewer than ``min_cell`` patients that no stated rule covers, a count
that can be worked out by subtraction, or a ledger row whose ``smallest_count`` is not
the true count.

The ledger is read only for the rule it states and the count it gives, to compare
them with the truth.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

#: Rules under which a number may rest on fewer than min_cell patients, stated as
#: such (each must say so in its own words).
STATED_SMALL = ("including a category with fewer than min_cell",   # Cox sums, governance
                "disclosive tier",                                  # opt-in per-time counts
                "may be below min_cell",                            # rounded tier
                "longest follow-up",                                # the rounded tier's grid
                "presence of a category")                           # a level list

PROTOCOL_FIELDS = {"protocol", "round", "kind", "site", "request_sha256", "signature"}


def _text(values: pd.Series) -> pd.Series:
    """Level labels as the site writes them (whole numbers without a decimal point)."""
    out = []
    for v in values:
        if pd.isna(v):
            out.append("(missing)")
        elif isinstance(v, (int, float, np.integer, np.floating)) and float(v).is_integer():
            out.append(str(int(v)))
        else:
            out.append(str(v))
    return pd.Series(out, index=values.index)


class Checker:
    def __init__(self, bundle: dict, ledger: pd.DataFrame, rows: pd.DataFrame, spec: dict,
                 request: dict):
        self.bundle, self.rows, self.spec, self.request = bundle, rows, spec, request
        self.k = spec["min_cell"]
        self.ledger = {r.path: (r.smallest_count, r.rule) for r in ledger.itertuples()}
        self.findings: list[str] = []

    # -- helpers
    def flag(self, text: str) -> None:
        self.findings.append(text)

    def behind(self, path: str, true: int | None) -> None:
        """The ledger's count for ``path`` is the truth; a small one is stated as such."""
        if path not in self.ledger:
            self.flag(f"{path}: released but not in the ledger")
            return
        count, rule = self.ledger[path]
        count = None if count is None or (isinstance(count, float) and np.isnan(count)) \
            else int(count)
        if count != true:
            self.flag(f"{path}: the ledger says {count} patients behind it, the rows say {true}")
        if true is not None and 0 < true < self.k:
            if ">= min_cell" in rule or not any(s in rule for s in STATED_SMALL):
                self.flag(f"{path}: rests on {true} patients under the rule {rule!r}")

    def model_rows(self, ep: str) -> pd.DataFrame:
        need = ["netpet_group", f"{ep}_time", f"{ep}_event", *self.spec["model"]["covariates"],
                *self.spec["model"]["strata"]]
        return self.rows.dropna(subset=list(dict.fromkeys(need)))

    # -- the checks
    def run(self) -> list[str]:
        b = self.bundle
        if self.request["kind"] == "describe":
            refused_all = True
            for ep in self.spec["endpoints"]:
                d = self.model_rows(ep)
                small = len(d) < self.k or d[f"{ep}_event"].sum() < self.k
                part = b["endpoints"][ep]
                if small:
                    if set(part) != {"status", "reason"} or part["status"] != "refused":
                        self.flag(f"endpoints/{ep}: {len(d)} patients, "
                                  f"{int(d[f'{ep}_event'].sum())} events, yet it releases "
                                  f"{sorted(part)}")
                    continue
                refused_all = False
                self.endpoint(ep, d, part)
            if refused_all:
                extra = set(b) - PROTOCOL_FIELDS - {"endpoints"}
                if extra:
                    self.flag(f"refused for every endpoint, yet it releases {sorted(extra)}")
            if "table1" in b:
                self.table1(b["table1"])
        elif self.request["kind"] == "cox":
            self.cox()
        return self.findings

    def endpoint(self, ep: str, d: pd.DataFrame, part: dict) -> None:
        base = f"endpoints/{ep}"
        if part.get("n") != len(d) or part.get("events") != int(d[f"{ep}_event"].sum()):
            self.flag(f"{base}: n or events differ from the rows")
        self.behind(f"{base}/n", len(d))
        self.behind(f"{base}/events", int(d[f"{ep}_event"].sum()))
        for cov, lv in part.get("levels", {}).items():
            seen = d[cov].astype(str).value_counts()
            for i, level in enumerate(lv["present"]):
                self.behind(f"{base}/levels/{cov}/present/{i}", int(seen.get(level, 0)))
        self.local_fits(base, d, part.get("local_fits", {}))
        lr_rows = self.rows.dropna(subset=["netpet_group", f"{ep}_time", f"{ep}_event",
                                           *self.spec["model"]["strata"]])
        sizes = lr_rows["netpet_group"].astype(str).value_counts()
        lr = part.get("logrank", {})
        if lr.get("status") == "included":
            for g, c in sizes.items():
                if 0 < c < self.k:
                    self.flag(f"{base}/logrank: released with group {g} of {c} patients")
            for name, sums in lr.items():
                if name in ("status", "reason"):
                    continue
                counts = [int(sizes.get(g, 0)) for g in sums["groups"]]
                if list(map(int, sums["n"])) != counts:
                    self.flag(f"{base}/logrank/{name}: n differs from the rows")
                true = min(c for c in counts if c > 0)
                for i in range(len(sums["n"])):
                    self.behind(f"{base}/logrank/{name}/n/{i}", true)
        for g, km in part.get("km", {}).items():
            c = int(sizes.get(g, 0))
            if c < self.k:
                self.flag(f"{base}/km/{g}: a curve of {c} patients")
            if "max_deviation" in km:
                self.behind(f"{base}/km/{g}/max_deviation", c)
                grp = lr_rows[lr_rows["netpet_group"].astype(str) == g]
                upper = np.asarray(km["upper"], float)
                for i, u in enumerate(upper):
                    lower = upper[i - 1] if i else -np.inf
                    self.behind(f"{base}/km/{g}/upper/{i}",
                                int((grp[f"{ep}_time"] > lower).sum()))
                    done = grp[grp[f"{ep}_time"] <= u]
                    self.behind(f"{base}/km/{g}/events/{i}", int(done[f"{ep}_event"].sum()))
                    self.behind(f"{base}/km/{g}/censored/{i}",
                                int((1 - done[f"{ep}_event"]).sum()))

    def table1(self, t1: dict) -> None:
        groups = self.spec["groups"]
        d = self.rows.dropna(subset=["netpet_group"])
        g = d["netpet_group"].astype(str)
        sizes = np.array([int((g == x).sum()) for x in groups])
        n = t1["n"]
        known = {}
        for j, grp in enumerate(groups):
            if n[j] is not None:
                if n[j] != sizes[j]:
                    self.flag(f"table1/n/{j}: {n[j]} released, {sizes[j]} in the rows")
                self.behind(f"table1/n/{j}", int(sizes[j]))
                known[j] = sizes[j]
        hidden = sizes.sum() - sum(v for v in n if v is not None)   # the site's total known
        if 0 < hidden < self.k:
            self.flag(f"table1/n: the withheld groups hold {hidden} patients (by subtraction)")
        released_any = {j: False for j in range(len(groups))}
        for var in t1.get("not_recorded", []):
            if var in d.columns and d[var].notna().any():
                self.flag(f"table1/not_recorded: {var} is said not recorded, yet the rows "
                          "have it")
            if var in t1.get("categorical", {}) or var in t1.get("continuous", {}):
                self.flag(f"table1/not_recorded: {var} is said not recorded, yet released")
        for var in self.spec["table1"]["variables"]:
            if var not in d.columns and var not in t1.get("not_recorded", []):
                self.flag(f"table1: {var} is not in the rows, yet not said not recorded")
        for var, cat in t1.get("categorical", {}).items():
            values = _text(d[var])
            for j, grp in enumerate(groups):
                column = [row[j] for row in cat["counts"]]
                if any(v is not None for v in column):
                    released_any[j] = True
                if j not in known and all(v is not None for v in column):
                    self.flag(f"table1/{var}/{grp}: every cell released, so the withheld "
                              f"group's size {sizes[j]} follows")
                truth = [int(((values == lv) & (g == grp)).sum()) for lv in cat["levels"]]
                for i, (v, t) in enumerate(zip(column, truth)):
                    if v is None:
                        continue
                    if v != t:
                        self.flag(f"table1/{var}/{cat['levels'][i]}/{grp}: {v} released, {t} true")
                    if 0 < t < self.k:
                        self.flag(f"table1/{var}/{cat['levels'][i]}/{grp}: a count of {t}")
                    self.behind(f"table1/categorical/{var}/counts/{i}/{j}", t)
                if j in known or all(v is not None for v in column):
                    rest = sizes[j] - sum(v for v in column if v is not None)
                    if 0 < rest < self.k:
                        self.flag(f"table1/{var}/{grp}: the suppressed cells hold {rest} "
                                  "patients (by subtraction)")
            seen = values.value_counts()
            for i, lv in enumerate(cat["levels"]):
                self.behind(f"table1/categorical/{var}/levels/{i}", int(seen.get(lv, 0)))
        for var, part in t1.get("continuous", {}).items():
            x = pd.to_numeric(d[var], errors="coerce")
            for j, grp in enumerate(groups):
                if part["n"][j] is None:
                    continue
                released_any[j] = True
                have = int(x[g == grp].notna().sum())
                if part["n"][j] != have:
                    self.flag(f"table1/{var}/{grp}: n {part['n'][j]} released, {have} true")
                if 0 < have < self.k:
                    self.flag(f"table1/{var}/{grp}: a mean of {have} patients")
                if j in known and 0 < sizes[j] - have < self.k:
                    self.flag(f"table1/{var}/{grp}: {sizes[j] - have} patients without a "
                              "value (by subtraction)")
                for key in ("n", "sum", "sum_squares"):
                    self.behind(f"table1/continuous/{var}/{key}/{j}", have)
        for j, grp in enumerate(groups):
            if released_any[j] and 0 < sizes[j] < self.k:
                self.flag(f"table1: a breakdown of group {grp}, {sizes[j]} patients")

    def local_fits(self, base: str, d: pd.DataFrame, fits: dict) -> None:
        """A site's own fit of a model rests on the fewest patients of any value of any
        categorical or binary covariate in it (the reference value included)."""
        for name, fit in fits.items():
            columns = fit.get("columns", [])
            counts = [len(d)]
            for cov in self.spec["model"]["covariates"]:
                in_model = any(c == cov or c.startswith(f"{cov}[") for c in columns)
                kind = self.spec["covariates"][cov].get("type")
                if in_model and kind in ("categorical", "binary"):
                    counts += [int(c) for c in d[cov].astype(str).value_counts() if c > 0]
            for key in ("beta", "information"):
                for path in [p for p in self.ledger if p == f"{base}/local_fits/{name}/{key}"
                             or p.startswith(f"{base}/local_fits/{name}/{key}/")]:
                    self.behind(path, min(counts))

    def cox(self) -> None:
        covs = self.spec["model"]["covariates"]
        for item in self.request["evaluations"]:
            part = self.bundle["evaluated"][item["id"]]
            if part["status"] != "included":
                continue
            d = self.model_rows(item["endpoint"])
            counts = [len(d)]
            for cov in covs:
                in_model = any(c == cov or c.startswith(f"{cov}[") for c in item["columns"])
                kind = self.spec["covariates"][cov].get("type")
                if in_model and kind in ("categorical", "binary"):
                    counts += [int(c) for c in d[cov].astype(str).value_counts() if c > 0]
            true = min(counts)
            base = f"evaluated/{item['id']}"
            for key in ("loglik", "score", "information", "score_crossproduct", "local_fit"):
                for path in [p for p in self.ledger if p == f"{base}/{key}"
                             or p.startswith(f"{base}/{key}/")]:
                    self.behind(path, true)
            for path in [p for p in self.ledger if p.startswith(f"{base}/concordance/")]:
                self.behind(path, len(d))


def check(bundle: dict, ledger: pd.DataFrame, rows: pd.DataFrame, spec: dict,
          request: dict) -> list[str]:
    """Every finding on one site's answer to one request."""
    return Checker(bundle, ledger, rows, spec, request).run()
