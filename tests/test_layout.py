"""Architecture rules of the package, checked on its source (AST scan of src/neurodyn, no imports).

DESIGN.md: one idea per file (no source file over 450 lines); an experiment imports the library and the
runner, never another experiment; no module reaches into another module's private names or private
modules.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src"
PACKAGE = SRC / "neurodyn"
MAX_LINES = 450


def module_name(path: Path, src: Path = SRC) -> str:
    parts = list(path.relative_to(src).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def source_files(root: Path = PACKAGE) -> list[Path]:
    return sorted(root.rglob("*.py"))


def imports(path: Path, src: Path = SRC) -> list[tuple[str, list[str], int]]:
    """``(absolute module, imported names, line)`` for every import in ``path`` (relative ones resolved;
    ``import a.b`` gives names ``[]``)."""
    tree = ast.parse(path.read_text(), filename=str(path))
    here = module_name(path, src).split(".")
    package = here if path.name == "__init__.py" else here[:-1]
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out += [(alias.name, [], node.lineno) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = package[:len(package) - node.level + 1] if node.level else []
            mod = ".".join(base + ([node.module] if node.module else []))
            out.append((mod, [alias.name for alias in node.names], node.lineno))
    return out


def is_private(name: str) -> bool:
    return name.startswith("_") and not (name.startswith("__") and name.endswith("__"))


def private_import_violations(root: Path = PACKAGE) -> list[str]:
    """Imports of a private name (``_x``) from another module, and imports of a private module
    (``_x.py``) by any module (names of ``__init__`` files stay public: ``__all__``, ``__version__``)."""
    src, bad = root.parent, []
    for path in source_files(root):
        me = module_name(path, src)
        for mod, names, line in imports(path, src):
            if not mod.startswith("neurodyn"):
                continue
            if any(is_private(part) for part in mod.split(".")):
                bad.append(f"{me}:{line} imports private module {mod}")
                continue
            for name in names:
                if is_private(name) and mod != me:
                    bad.append(f"{me}:{line} imports private name {name} from {mod}")
    return bad


def experiment_import_violations(root: Path = PACKAGE) -> list[str]:
    """Imports, inside an experiment module, of another experiment module (package ``__init__`` files of
    neurodyn.experiments are the registry, not experiments)."""
    src, bad = root.parent, []
    for path in source_files(root / "experiments"):
        if path.name == "__init__.py":
            continue
        me = module_name(path, src)
        for mod, names, line in imports(path, src):
            targets = [mod] + [f"{mod}.{n}" for n in names]
            hit = [t for t in targets if t.startswith("neurodyn.experiments.") and t != me and
                   (src / Path(*t.split("."))).with_suffix(".py").is_file()]
            if hit:
                bad.append(f"{me}:{line} imports experiment module {hit[0]}")
    return bad


def long_files(root: Path = PACKAGE, limit: int = MAX_LINES) -> list[str]:
    return [f"{p.relative_to(root.parent)}: {n} lines" for p in source_files(root)
            if (n := len(p.read_text().splitlines())) > limit]


def test_no_private_name_or_module_imported_across_modules():
    bad = private_import_violations()
    assert not bad, "\n".join(bad)


def test_no_experiment_imports_another_experiment():
    bad = experiment_import_violations()
    assert not bad, "\n".join(bad)


def test_no_source_file_over_450_lines():
    bad = long_files()
    assert not bad, "\n".join(bad)


@pytest.fixture
def toy_package(tmp_path):
    """A two-module package with one of each violation, scanned as if it were src/neurodyn."""
    root = tmp_path / "neurodyn"
    (root / "experiments" / "thesis").mkdir(parents=True)
    for init in (root, root / "experiments", root / "experiments" / "thesis"):
        (init / "__init__.py").write_text("")
    (root / "lib.py").write_text("def public():\n    pass\n\n\ndef _helper():\n    pass\n")
    (root / "_hidden.py").write_text("x = 1\n")
    (root / "experiments" / "thesis" / "a.py").write_text(
        "from neurodyn.lib import _helper\nfrom neurodyn import _hidden\nimport neurodyn._hidden\n"
        "from neurodyn.lib import public as _public\n")
    (root / "experiments" / "thesis" / "b.py").write_text(
        "from neurodyn.experiments.thesis import a\nfrom neurodyn.lib import public\n" + "x = 1\n" * 451)
    return root


def test_scanners_find_each_violation(toy_package):
    # the three rules must fail on code that breaks them, not only pass on the package
    priv = private_import_violations(toy_package)
    assert priv == ["neurodyn.experiments.thesis.a:1 imports private name _helper from neurodyn.lib",
                    "neurodyn.experiments.thesis.a:2 imports private name _hidden from neurodyn",
                    "neurodyn.experiments.thesis.a:3 imports private module neurodyn._hidden"]
    assert experiment_import_violations(toy_package) == [
        "neurodyn.experiments.thesis.b:1 imports experiment module neurodyn.experiments.thesis.a"]
    assert long_files(toy_package) == ["neurodyn/experiments/thesis/b.py: 453 lines"]
