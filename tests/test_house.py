"""The house: one `segaudit` namespace, no generic top-level package, and imports that only point downhill
(models -> core; audit -> models, core; cards -> core; app -> everything)."""

from __future__ import annotations

import ast
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
LAYERS = {"models": "segaudit.models", "audit": "segaudit.audit", "cards": "segaudit.cards",
          "segaudit": "segaudit"}


def run_python(code: str, cwd: Path) -> subprocess.CompletedProcess:
    """Python in a fresh process whose working directory is `cwd` (so the repository is not on sys.path)."""
    return subprocess.run([sys.executable, "-c", code], cwd=cwd, capture_output=True, text=True, timeout=120)


def test_a_user_project_with_its_own_models_package_imports_both(tmp_path: Path) -> None:
    """...and every bundled model's builder still resolves there: the registry names builders by module path,
    and a bare `models.x` (as it once had) would have found the user's package, or nothing outside the repository."""
    for name in ("models", "audit", "cards"):
        (tmp_path / name).mkdir()
        (tmp_path / name / "__init__.py").write_text(f"OWNER = 'user {name}'\n")
    done = run_python("import models, audit, cards\n"
                      "import segaudit.models.registry, segaudit.audit.fairness, segaudit.cards.facts\n"
                      "assert (models.OWNER, audit.OWNER, cards.OWNER) == ('user models', 'user audit', 'user cards')\n"
                      "MODELS = segaudit.models.registry.MODELS\n"
                      "assert MODELS and all(callable(i.load_builder()) for i in MODELS.values())\n"
                      "print('ok')", tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "ok"


def test_nothing_is_installed_under_a_generic_top_level_name(tmp_path: Path) -> None:
    done = run_python("import importlib.util as u\n"
                      "print([n for n in ('models', 'audit', 'cards', 'app', 'core') if u.find_spec(n)])", tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


@pytest.mark.parametrize(("package", "forbidden"), [
    ("segaudit.models", ("segaudit.audit", "segaudit.cards", "segaudit.app")),
    ("segaudit.audit", ("segaudit.cards", "segaudit.app")),
    ("segaudit.cards", ("segaudit.audit", "segaudit.app", "segaudit.models.train")),
])
def test_imports_only_point_downhill(package: str, forbidden: tuple[str, ...]) -> None:
    """Every import statement of the layer, at module level or inside a function (a lazy import is still a
    dependency), read from the source: stricter than importing the modules and looking at sys.modules."""
    folder = REPO / next(k for k, v in LAYERS.items() if v == package)
    found = []
    for path in sorted(folder.rglob("*.py")):
        module = ".".join((package, *path.relative_to(folder).with_suffix("").parts)).removesuffix(".__init__")
        for name in imported_modules(path, module):
            if name.startswith(forbidden):
                found.append(f"{path.relative_to(REPO)} imports {name}")
    assert found == []


def imported_modules(path: Path, module: str) -> list[str]:
    """Absolute names of the modules `path` (the module `module`) imports, relative imports resolved."""
    names = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = module.split(".")[: -node.level] if path.name != "__init__.py" else \
                    module.split(".")[: len(module.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            names += [base] + [f"{base}.{alias.name}" for alias in node.names]
    return names


def test_the_import_reader_sees_lazy_and_relative_imports(tmp_path: Path) -> None:
    source = tmp_path / "mod.py"
    source.write_text("import os\nfrom . import sibling\n\ndef f():\n    from segaudit.cards import facts\n")
    assert imported_modules(source, "segaudit.audit.mod") == [
        "os", "segaudit.audit", "segaudit.audit.sibling", "segaudit.cards", "segaudit.cards.facts"]


def test_every_package_folder_is_listed_in_pyproject() -> None:
    config = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["setuptools"]
    found = set()
    for folder, name in LAYERS.items():
        for init in (REPO / folder).rglob("__init__.py"):
            parts = init.parent.relative_to(REPO / folder).parts
            found.add(".".join((name, *parts)))
    assert set(config["packages"]) == found
    assert {config["package-dir"][v] for v in LAYERS.values()} == set(LAYERS)

