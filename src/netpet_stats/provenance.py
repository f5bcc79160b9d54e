"""Provenance: ``manifest.json`` (reproducible) and ``run_record.json`` (when and where).

The manifest holds the SHA-256 of every input and output, the full resolved
configuration, the versions of Python and of every installed package, the
workflow's git commit and whether its tree was dirty, and the random seeds. It
contains nothing that changes between two runs of the same inputs, so it is
itself byte-identical across reruns. The time of the run and the host are kept
apart in ``run_record.json``.
"""

from __future__ import annotations

import hashlib
import os
import json
import platform
import subprocess
from datetime import datetime, timezone
from pathlib import Path

from importlib import metadata
import sys

from . import __version__


def software_versions() -> dict:
    """Python and the versions of every installed distribution, sorted by name."""
    packages = {}
    for dist in metadata.distributions():
        name, version = _name_and_version(dist)
        if name:
            packages[name.lower()] = version
    return {"python": sys.version.split()[0], "netpet-stats": __version__,
            "packages": dict(sorted(packages.items()))}


def _name_and_version(dist) -> tuple[str | None, str | None]:
    """A distribution's ``Name`` and ``Version``, as ``dist.metadata`` gives them.

    Read from the header lines of its METADATA (or PKG-INFO) file, where the core
    metadata specification puts them, instead of by ``dist.metadata``: that parses
    the whole file as an e-mail message, long descriptions included (0.4 s for a
    few hundred packages, in each job that writes a report, model or manifest).
    Falls back to ``dist.metadata`` for a file whose header lines lack either.
    """
    text = dist.read_text("METADATA") or dist.read_text("PKG-INFO") or ""
    found = {}
    for line in text.splitlines():
        if not line.strip():                     # the end of the header lines
            break
        key, sep, value = line.partition(":")
        if sep and key in ("Name", "Version") and key not in found:
            found[key] = value.strip()
    if len(found) < 2:
        return dist.metadata["Name"], dist.version
    return found["Name"], found["Version"]


def sha256(path: str | Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def git_state(workflow_dir: str | Path) -> dict:
    """Commit of the workflow's git checkout and whether tracked files differ from it."""
    def run(*args):
        return subprocess.run(["git", "-C", str(workflow_dir), *args], capture_output=True,
                              text=True, timeout=30)
    try:
        head = run("rev-parse", "HEAD")
        if head.returncode != 0:
            return {"commit": None, "dirty": None, "note": "not a git checkout"}
        status = run("status", "--porcelain", "--untracked-files=no")
        return {"commit": head.stdout.strip(), "dirty": bool(status.stdout.strip())}
    except (OSError, subprocess.SubprocessError):
        return {"commit": None, "dirty": None, "note": "git not available"}


def write_manifest(config: dict, inputs: list[str], outputs: list[str], workflow_dir: str,
                   manifest_path: str | Path, run_record_path: str | Path) -> None:
    """Write the manifest and the run record.

    Parameters
    ----------
    inputs, outputs
        Paths as the workflow names them (relative to its working folder). Inputs
        are recorded by :func:`display_names` (never a path of this machine),
        outputs relative to the analysis folder (``results/...``), so that the
        folder can be moved or shared as it is.
    workflow_dir
        A folder of the workflow's checkout (for the git commit).
    """
    folder = analysis_folder(config)
    names = display_names(sorted(set(inputs)))
    manifest = {
        "netpet_stats": software_versions()["netpet-stats"],
        "workflow": git_state(workflow_dir),
        "inputs": {names[p]: sha256(p) for p in sorted(set(inputs))},
        "outputs": {Path(os.path.relpath(p, folder)).as_posix(): sha256(p)
                    for p in sorted(set(outputs))},
        "config": display_config(config),
        "seeds": {"seed": config.get("seed"),
                  "synthetic.seed": (config.get("synthetic") or {}).get("seed")},
        "software": software_versions(),
    }
    Path(manifest_path).write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n",
                                   encoding="utf-8")
    record = {
        "finished_utc": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "host": platform.node(),
        "platform": platform.platform(),
        "manifest_sha256": sha256(manifest_path),
    }
    Path(run_record_path).write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")


# --------------------------------------------------------------------------------------
# Where an analysis writes, and how its input files are named in what it publishes
# --------------------------------------------------------------------------------------

#: Configuration keys that name a file or folder of the user's machine.
PATH_KEYS = ("output_folder", "cohort.table", "cohort.folder", "cohort.lesions",
             "validation.model_file", "validation.fine_gray_file",
             "validation.added_value.base_file", "validation.added_value.extended_file",
             "federation.exchange", "federation.signing_key")


def analysis_folder(config: dict) -> str:
    """The folder of this analysis (``output_folder``): its results/, intermediate/, logs/."""
    return os.path.normpath(config.get("output_folder") or ".")


def in_analysis_folder(config: dict, rel: str) -> str:
    """``rel`` (e.g. ``results/report.html``) inside this analysis's folder.

    The default folder is the working folder itself, so the default run writes
    ``results/`` as before.
    """
    folder = analysis_folder(config)
    return rel if folder == os.curdir or os.path.isabs(rel) else f"{folder}/{rel}"


def _inside(full: str, root: str) -> str | None:
    """``full`` relative to ``root`` (posix), or ``None`` when it lies outside."""
    try:
        rel = os.path.relpath(full, root)
    except ValueError:                      # another drive (Windows)
        return None
    if rel == os.pardir or rel.startswith(os.pardir + os.sep):
        return None
    return Path(rel).as_posix()


def _relative(path: str | Path, root: str) -> tuple[str, str | None]:
    """The absolute form of ``path`` and its name relative to ``root`` (``None``: outside)."""
    full = os.path.normpath(os.path.join(root, os.fspath(path)))
    rel = _inside(full, root)
    if rel is None:                         # inside after all, through a symbolic link?
        rel = _inside(os.path.realpath(full), os.path.realpath(root))
    return full, rel


def display_path(path: str | Path, root: str | Path | None = None) -> str:
    """How an input file is named in published outputs: never a path of this machine.

    Relative to the working folder (``root``, by default the current one) when
    the file is inside it, as the configuration usually names it
    (``data/synthetic/cohort.csv``); otherwise only the file's name (a path such
    as ``/home/<login>/study/centre_A.xlsx`` or ``../other/x.csv`` would publish
    the user's folders). Used by every writer of ``results/``: the exclusion
    ledger and warnings, the manifest, the report's configuration.

    Examples
    --------
    >>> display_path("data/cohort.csv", "/home/ann/study")
    'data/cohort.csv'
    >>> display_path("/home/ann/study/data/cohort.csv", "/home/ann/study")
    'data/cohort.csv'
    >>> display_path("/mnt/share/ann/cohort.xlsx", "/home/ann/study")
    'cohort.xlsx'
    """
    full, rel = _relative(path, os.path.abspath(root or os.getcwd()))
    return rel if rel is not None else os.path.basename(full)


def display_names(paths, root: str | Path | None = None) -> dict[str, str]:
    """:func:`display_path` of each of ``paths``, made unique.

    Two files outside the working folder with the same name are told apart by as
    many of their parent folders as needed: a ledger naming both ``export.xlsx``
    could not say which file a row came from.

    Examples
    --------
    >>> display_names(["/a/hosp1/export.xlsx", "/a/hosp2/export.xlsx", "data/x.csv"], "/b")
    {'/a/hosp1/export.xlsx': 'hosp1/export.xlsx', '/a/hosp2/export.xlsx': 'hosp2/export.xlsx', 'data/x.csv': 'data/x.csv'}
    """
    root = os.path.abspath(root or os.getcwd())
    full, names, depth = {}, {}, {}
    for p in map(str, paths):
        full[p], rel = _relative(p, root)
        names[p] = rel if rel is not None else os.path.basename(full[p])
        if rel is None:
            depth[p] = 1                    # outside: may need its parent folders
    while True:
        owners: dict[str, set[str]] = {}
        for p, name in names.items():
            owners.setdefault(name, set()).add(full[p])
        grow = [p for p in depth if len(owners[names[p]]) > 1
                and depth[p] < len(Path(full[p]).parts) - 1]
        if not grow:
            return names
        for p in grow:
            depth[p] += 1
            names[p] = "/".join(Path(full[p]).parts[-depth[p]:])


def working_relative(path: str, root: str | Path | None = None) -> str:
    """``path`` relative to the working folder when it lies inside it, else unchanged.

    The workflow reads an input given as ``/home/<login>/study/data/cohort.csv``, run
    from ``/home/<login>/study``, as ``data/cohort.csv``: the name its outputs give it,
    and one that stays the same when the project folder moves.
    """
    if not isinstance(path, str) or not os.path.isabs(path):
        return path
    _, rel = _relative(path, os.path.abspath(root or os.getcwd()))
    return rel if rel is not None and rel != os.curdir else path


def with_relative_inputs(config: dict, root: str | Path | None = None) -> dict:
    """A copy of ``config`` whose input files inside the working folder are relative.

    Inputs are ``cohort.table``/``.tables``/``.folder``/``.lesions`` and, in validate
    mode, the frozen models (``validation.model_file``, ``fine_gray_file``,
    ``added_value.*_file``; in develop mode the added-value files are outputs).
    """
    import copy

    out = copy.deepcopy(config)
    keys = ["output_folder", "cohort.table", "cohort.folder", "cohort.lesions"]
    if (_get(out, "validation.mode") or "none") == "validate":
        keys += ["validation.model_file", "validation.fine_gray_file",
                 "validation.added_value.base_file", "validation.added_value.extended_file"]
    for key in keys:
        *parents, leaf = key.split(".")
        node = _get(out, ".".join(parents)) if parents else out
        if isinstance(node, dict) and isinstance(node.get(leaf), str):
            node[leaf] = working_relative(node[leaf], root)
    for table in _get(out, "cohort.tables") or []:
        if isinstance(table, dict) and isinstance(table.get("path"), str):
            table["path"] = working_relative(table["path"], root)
    return out


def _get(config: dict, dotted: str):
    node = config
    for part in dotted.split("."):
        if not isinstance(node, dict) or part not in node:
            return None
        node = node[part]
    return node


def display_config(config: dict, root: str | Path | None = None) -> dict:
    """A copy of ``config`` whose file and folder names are :func:`display_names`.

    What the manifest and the report publish of the configuration: the settings as
    resolved, with ``cohort.table: /home/<login>/study/cohort.xlsx`` shown as
    ``cohort.xlsx`` (or relative to the working folder when the file is inside it).
    """
    import copy

    shown = copy.deepcopy(config)
    tables = (_get(shown, "cohort.tables") or []) if isinstance(_get(shown, "cohort"), dict) else []
    paths = [v for v in (_get(shown, key) for key in PATH_KEYS) if isinstance(v, str)]
    paths += [t["path"] for t in tables if isinstance(t, dict) and isinstance(t.get("path"), str)]
    names = display_names(paths, root)
    for key in PATH_KEYS:
        *parents, leaf = key.split(".")
        node = _get(shown, ".".join(parents)) if parents else shown
        if isinstance(node, dict) and isinstance(node.get(leaf), str):
            node[leaf] = names[node[leaf]]
    for t in tables:
        if isinstance(t, dict) and isinstance(t.get("path"), str):
            t["path"] = names[t["path"]]
    return shown


# --------------------------------------------------------------------------------------
# The settings a rule reads: what reruns it when the configuration changes
# --------------------------------------------------------------------------------------

def _split(dotted: str) -> tuple[str, ...]:
    return () if dotted in ("", "*") else tuple(dotted.split("."))


def settings_subset(config: dict, reads, but=()) -> dict:
    """The settings under the key paths ``reads`` (``"*"``: all), less those under ``but``.

    Keyed by the dotted path; a key the configuration does not have is ``None``.
    """
    import copy

    subset = {}
    for dotted in reads:
        path = _split(dotted)
        value = copy.deepcopy(_get(config, ".".join(path)) if path else config)
        for skip in map(_split, but):
            if skip[:len(path)] == path and len(skip) > len(path):
                parent = _get(value, ".".join(skip[len(path):-1])) if len(skip) > len(path) + 1 \
                    else value
                if isinstance(parent, dict):
                    parent.pop(skip[-1], None)
        subset[dotted] = value
    return subset


def settings_digest(config: dict, reads, but=()) -> str:
    """SHA-256 (16 hex digits) of :func:`settings_subset`: changes when those settings do."""
    blob = json.dumps(settings_subset(config, reads, but), sort_keys=True, default=str)
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()[:16]


def uncovered_reads(read_paths, reads, but=()) -> list[str]:
    """The key paths a rule read that its declared ``reads`` (less ``but``) do not cover.

    ``read_paths`` are tuples of keys, each read whole (a value, or a block iterated
    or copied). A path is covered when it lies under a declared path and neither lies
    under an excluded one nor contains one.
    """
    include = [_split(d) for d in reads]
    exclude = [_split(d) for d in but]
    out = []
    for path in read_paths:
        inside = any(path[:len(i)] == i for i in include)
        excluded = any(path[:len(e)] == e or e[:len(path)] == path for e in exclude)
        if not inside or excluded:
            out.append(".".join(path))
    return sorted(set(out))
