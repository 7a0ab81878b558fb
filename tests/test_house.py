"""The house: one `segaudit` namespace, no generic top-level package, and imports that only point downhill
(models -> core; audit -> models, core; cards -> core; app -> everything)."""

from __future__ import annotations

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
    for name in ("models", "audit", "cards"):
        (tmp_path / name).mkdir()
        (tmp_path / name / "__init__.py").write_text(f"OWNER = 'user {name}'\n")
    done = run_python("import models, audit, cards\n"
                      "import segaudit.models.registry, segaudit.audit.fairness, segaudit.cards.facts\n"
                      "assert (models.OWNER, audit.OWNER, cards.OWNER) == ('user models', 'user audit', 'user cards')\n"
                      "assert segaudit.models.registry.MODELS\n"
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
def test_imports_only_point_downhill(package: str, forbidden: tuple[str, ...], tmp_path: Path) -> None:
    folder = REPO / next(k for k, v in LAYERS.items() if v == package)
    modules = sorted(f"{package}.{'.'.join(p.relative_to(folder).with_suffix('').parts)}".removesuffix(".__init__")
                     for p in folder.rglob("*.py") if "__pycache__" not in p.parts and p.name != "__main__.py")
    done = run_python(f"import importlib, sys\nfor m in {modules!r}:\n    importlib.import_module(m)\n"
                      f"print(sorted({{m for m in sys.modules if m.startswith({forbidden!r})}}))", tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]", f"{package} imports {done.stdout.strip()}"


def test_every_package_folder_is_listed_in_pyproject() -> None:
    config = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["setuptools"]
    found = set()
    for folder, name in LAYERS.items():
        for init in (REPO / folder).rglob("__init__.py"):
            parts = init.parent.relative_to(REPO / folder).parts
            found.add(".".join((name, *parts)))
    assert set(config["packages"]) == found
    assert {config["package-dir"][v] for v in LAYERS.values()} == set(LAYERS)


def test_every_bundled_model_builder_resolves_outside_the_repository(tmp_path: Path) -> None:
    """The registry names its builders by module path: each must live in the namespace (a bare `models.x` only
    worked with the repository as the working directory, and broke `segaudit train --model u2netp` elsewhere)."""
    done = run_python("from segaudit.models.registry import MODELS\n"
                      "print(sorted(n for n, i in MODELS.items() if not callable(i.load_builder())))", tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"
