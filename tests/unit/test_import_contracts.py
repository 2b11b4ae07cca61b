"""The layering is a contract: core and integrations never import Qt, ui never imports integrations."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "voxelle_app"


def test_import_linter_contracts_hold() -> None:
    lint = Path(sys.executable).with_name("lint-imports")
    r = subprocess.run([str(lint), "--no-cache"], cwd=ROOT, capture_output=True, text=True,
                       timeout=300)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "Contracts: 3 kept, 0 broken" in r.stdout


def imported_modules(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


def test_no_qt_outside_ui_even_lazily() -> None:
    """import-linter reads every import statement, lazy ones too; this says it in one glance."""
    offenders = [
        str(p.relative_to(ROOT))
        for sub in ("core", "integrations")
        for p in (PACKAGE / sub).rglob("*.py")
        if any(m.split(".")[0] in {"PySide6", "qasync"} for m in imported_modules(p))
    ]
    assert offenders == []
