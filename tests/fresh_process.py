"""Which modules a piece of code imports, run in a new interpreter (test helper)."""

from __future__ import annotations

import subprocess
import sys


def modules_loaded(code: str, modules) -> list[str]:
    """Those of ``modules`` that are imported once ``code`` has run in a new Python
    process (sorted); the process must succeed."""
    probe = f"\nimport sys\nprint(' '.join(sorted(m for m in {list(modules)!r} if m in sys.modules)))\n"
    proc = subprocess.run([sys.executable, "-c", code + probe], capture_output=True, text=True,
                          check=True)
    return proc.stdout.split()
