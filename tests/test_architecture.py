"""The package's layering: imports point down only (engine < validation < ... < steps)."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "src" / "netpet_stats"

#: What each wing may import from the package (besides itself and the package root).
ALLOWED = {
    "survival": set(),
    "validation": {"survival"},
    "federated": {"survival", "validation"},
    "netpet": {"survival"},
    "config": set(),
    "provenance": set(),
    "cohort": {"netpet", "config"},
    "report": {"survival", "validation", "netpet", "provenance", "config"},
    "steps": {"survival", "validation", "netpet", "cohort", "report", "config", "provenance",
              "federated"},
    "cli": {"cohort", "config", "steps", "netpet", "federated"},
}


def _wing(path: Path) -> str:
    rel = path.relative_to(PACKAGE)
    return rel.parts[0].removesuffix(".py")


def _imports(path: Path) -> set[str]:
    """Wings of the package that ``path`` imports (relative or absolute imports)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    rel = path.relative_to(PACKAGE)
    wings = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = list(rel.parts[:-1])[: len(rel.parts) - node.level]
                parts = base + (node.module.split(".") if node.module else [])
                names = [parts] if parts else [[a.name] for a in node.names]
            elif node.module and node.module.startswith("netpet_stats"):
                names = [node.module.split(".")[1:] or [a.name for a in node.names][:1]]
            else:
                continue
            for parts in names:
                if parts:
                    wings.add(parts[0].removesuffix(".py"))
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith("netpet_stats."):
                    wings.add(alias.name.split(".")[1])
    return wings


def test_every_module_belongs_to_a_known_wing():
    wings = {_wing(p) for p in PACKAGE.rglob("*.py") if p.name != "__init__.py" or
             p.parent != PACKAGE}
    assert wings <= set(ALLOWED), wings - set(ALLOWED)


def test_imports_point_down_only():
    bad = []
    for path in sorted(PACKAGE.rglob("*.py")):
        if path == PACKAGE / "__init__.py":
            continue  # the public API re-exports lazily by name
        wing = _wing(path)
        for target in _imports(path) - {wing, "__version__", "__release_date__"}:
            if target not in ALLOWED[wing]:
                bad.append(f"{path.relative_to(PACKAGE)} imports {target}")
    assert not bad, "\n".join(bad)


def test_layering_check_sees_a_violation(tmp_path):
    """The check itself can fail: an engine module importing config is caught."""
    module = PACKAGE / "survival" / "_probe_layering.py"
    module.write_text("from ..config import load_config\n")
    try:
        assert "config" in _imports(module)
    finally:
        module.unlink()


def test_nothing_imports_steps_but_the_rules():
    for path in PACKAGE.rglob("*.py"):
        if _wing(path) not in ("steps", "cli"):
            assert "steps" not in _imports(path), path


def test_every_public_function_documents_a_runnable_example():
    """numpydoc ``Examples`` on every function of the public API (run as doctests)."""
    import inspect

    import netpet_stats as ns

    missing = [name for name in ns.__all__ if name != "__version__"
               and inspect.isfunction(getattr(ns, name))
               and "Examples" not in (getattr(ns, name).__doc__ or "")]
    assert missing == []
