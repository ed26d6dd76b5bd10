"""The package's shape: no private name crosses a module boundary, the root holds only the base
helpers and the parts, and the import contracts in pyproject.toml hold (docs/architecture.md).
"""

from __future__ import annotations

import ast
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "dsp_rnn"


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _is_package(name: str) -> bool:
    return (ROOT.joinpath(*name.split(".")) / "__init__.py").is_file()


def _is_module(name: str) -> bool:
    """``name`` is a module or package of this checkout."""
    path = ROOT.joinpath(*name.split("."))
    return path.with_suffix(".py").is_file() or (path / "__init__.py").is_file()


def _is_private(name: str) -> bool:
    return name.startswith("_") and not (name.startswith("__") and name.endswith("__"))


def _absolute(module: str, node: ast.ImportFrom) -> str:
    """The module an ``ImportFrom`` in ``module`` reads from, relative imports resolved."""
    if not node.level:
        return node.module or ""
    base = module.split(".")
    if not _is_package(module):
        base.pop()  # a plain module's level 1 is its package
    base = base[: len(base) - (node.level - 1)]
    return ".".join(base + ([node.module] if node.module else []))


def private_imports(path: Path) -> list[str]:
    """Every private name that the module at ``path`` takes from another module.

    ``from X import _name``, ``m._name`` (``m`` an imported module of the package) and
    ``C._name`` / ``m.C._name`` (``C`` a class or function imported from the package) where
    ``X``/``m``/``C``'s module is another module; a private *module* (``from dsp_rnn import
    _atomic``, ``dsp_rnn._atomic``) is not a private name, and dunder names are public.
    """
    here = _module_name(path)
    tree = ast.parse(path.read_text(), str(path))
    found: list[str] = []
    modules: dict[str, str] = {}  # a local name -> the package module it is bound to
    objects: dict[str, tuple[str, str]] = {}  # a local name -> (its module, its name there)

    def where(node: ast.AST) -> str:
        return f"{path.relative_to(ROOT)}:{getattr(node, 'lineno', '?')}"

    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] != "dsp_rnn":
                    continue
                if alias.asname:
                    modules[alias.asname] = alias.name
                else:
                    modules["dsp_rnn"] = "dsp_rnn"
        elif isinstance(node, ast.ImportFrom):
            source = _absolute(here, node)
            if source.split(".")[0] != "dsp_rnn":
                continue
            for alias in node.names:
                if alias.name == "*":
                    continue
                full = f"{source}.{alias.name}"
                if _is_module(full):
                    modules[alias.asname or alias.name] = full
                    continue
                objects[alias.asname or alias.name] = (source, alias.name)
                if _is_private(alias.name) and source != here:
                    found.append(f"{where(node)}: from {source} import {alias.name}")

    def resolve(node: ast.expr) -> tuple[str, str] | None:
        """``(dotted name, home module)`` of what an expression such as ``dsp_rnn.filters``,
        ``k``, ``NoteGrid`` or ``m.NoteGrid`` names, when it is the package's."""
        if isinstance(node, ast.Name):
            if node.id in modules:
                return modules[node.id], modules[node.id]
            if node.id in objects:
                home, name = objects[node.id]
                return f"{home}.{name}", home
            return None
        if isinstance(node, ast.Attribute):
            owner = resolve(node.value)
            if owner is None:
                return None
            name, home = owner
            if name == home and _is_module(f"{name}.{node.attr}"):
                return f"{name}.{node.attr}", f"{name}.{node.attr}"
            return f"{name}.{node.attr}", home
        return None

    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and _is_private(node.attr):
            owner = resolve(node.value)
            if owner is None:
                continue
            name, home = owner
            if home == here or (name == home and _is_module(f"{name}.{node.attr}")):
                continue
            found.append(f"{where(node)}: {name}.{node.attr}")
    return found


def test_no_private_name_is_imported_from_another_module():
    found = [hit for path in sorted(PACKAGE.rglob("*.py")) for hit in private_imports(path)]
    assert not found, "private names used outside their module (make them public):\n" + "\n".join(
        found
    )


def test_the_scan_finds_private_names(tmp_path, monkeypatch):
    """The scan itself: what it must flag and what it must let through."""
    fake = tmp_path / "dsp_rnn"
    (fake / "part").mkdir(parents=True)
    for name in ("__init__.py", "_base.py", "part/__init__.py", "part/_impl.py", "part/a.py"):
        (fake / name).write_text("")
    (fake / "part" / "b.py").write_text(
        "import dsp_rnn.part.a\n"
        "import dsp_rnn.part.a as alias\n"
        "from dsp_rnn import _base\n"  # a private module: allowed
        "from dsp_rnn.part import _impl as k, a\n"
        "from . import a as rel\n"
        "from .a import _hidden, __version__, public\n"  # flagged: _hidden
        "from dsp_rnn.part.a import _other\n"  # flagged
        "x = k._kernel\n"  # flagged
        "y = dsp_rnn.part.a._secret + alias._alias + rel._rel + a.__doc__\n"  # flagged: 3
        "from dsp_rnn.part.a import Thing\n"
        "w = Thing._cache + Thing.public + alias.Other._hidden_attr + Thing.__name__\n"  # 2
        "z = _base.helper + dsp_rnn._base + self._own\n"
        "def f():\n"
        "    from dsp_rnn.part._impl import _late\n"  # flagged, inside a function
    )
    monkeypatch.setattr(sys.modules[__name__], "ROOT", tmp_path)
    hits = sorted(h.split(": ", 1)[1] for h in private_imports(fake / "part" / "b.py"))
    assert hits == sorted(
        [
            "from dsp_rnn.part.a import _hidden",
            "from dsp_rnn.part.a import _other",
            "from dsp_rnn.part._impl import _late",
            "dsp_rnn.part._impl._kernel",
            "dsp_rnn.part.a._secret",
            "dsp_rnn.part.a._alias",
            "dsp_rnn.part.a._rel",
            "dsp_rnn.part.a.Thing._cache",
            "dsp_rnn.part.a.Other._hidden_attr",
        ]
    )


def private_module_imports(path: Path) -> list[str]:
    """Every private module of a subpackage that the module at ``path`` imports from outside it.

    A private module (``_kernels``) belongs to its package: ``dsp_rnn.synth._kernels`` may be
    imported anywhere under ``dsp_rnn.synth``, the root's ``dsp_rnn._atomic`` anywhere.
    """
    here = _module_name(path)
    tree = ast.parse(path.read_text(), str(path))
    imported: list[tuple[ast.stmt, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            imported += [(node, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            source = _absolute(here, node)
            imported.append((node, source))
            imported += [(node, f"{source}.{a.name}") for a in node.names if a.name != "*"]
    found = []
    for node, name in imported:
        parts = name.split(".")
        if parts[0] != "dsp_rnn" or not _is_module(name):
            continue
        for i, part in enumerate(parts):
            owner = ".".join(parts[:i])
            if _is_private(part) and not (here == owner or here.startswith(owner + ".")):
                found.append(f"{path.relative_to(ROOT)}:{node.lineno}: {name}")
                break
    return found


def test_no_private_module_is_imported_from_outside_its_package():
    found = [hit for path in sorted(PACKAGE.rglob("*.py")) for hit in private_module_imports(path)]
    assert not found, "private modules imported from outside their package:\n" + "\n".join(found)


def test_the_scan_finds_private_modules(tmp_path, monkeypatch):
    fake = tmp_path / "dsp_rnn"
    for part in ("one", "two"):
        (fake / part).mkdir(parents=True)
        for name in ("__init__.py", "_impl.py", "a.py"):
            (fake / part / name).write_text("")
    (fake / "__init__.py").write_text("")
    (fake / "_base.py").write_text("")
    (fake / "one" / "a.py").write_text(
        "import dsp_rnn._base\n"
        "from dsp_rnn import _base\n"
        "from dsp_rnn.one import _impl\n"
        "from . import _impl as k\n"
        "from dsp_rnn.two import _impl\n"  # flagged
        "import dsp_rnn.two._impl\n"  # flagged
        "from ..two._impl import name\n"  # flagged
    )
    monkeypatch.setattr(sys.modules[__name__], "ROOT", tmp_path)
    hits = [h.split(":")[1] for h in private_module_imports(fake / "one" / "a.py")]
    assert sorted(hits) == ["5", "6", "7"]


ROOT_FILES = {"__init__.py", "errors.py", "py.typed"}
ROOT_DATA = {"_models"}


def test_the_package_root_holds_only_the_base_helpers_and_the_parts():
    stray = []
    for entry in sorted(PACKAGE.iterdir()):
        if entry.name == "__pycache__":
            continue
        if entry.is_dir():
            ok = (entry / "__init__.py").is_file() or entry.name in ROOT_DATA
        else:
            ok = entry.name in ROOT_FILES or (entry.name.startswith("_") and entry.suffix == ".py")
        if not ok:
            stray.append(entry.name)
    assert not stray, (
        f"dsp_rnn/ should hold only {sorted(ROOT_FILES)}, private _*.py base helpers, "
        f"subpackages and {sorted(ROOT_DATA)}; found {stray} (move them into their part)"
    )


def _lint_imports() -> list[str]:
    """The command line of import-linter's ``lint-imports``, beside this Python if it is there."""
    beside = Path(sys.executable).with_name("lint-imports")
    if beside.is_file():
        return [str(beside)]
    found = shutil.which("lint-imports")
    if found is None:
        pytest.skip("import-linter is not installed (pip install -e '.[dev]')")
    return [found]


def test_the_import_contracts_hold():
    """The layers and forbidden imports of pyproject.toml's [tool.importlinter]."""
    pytest.importorskip("importlinter")
    run = subprocess.run(
        [*_lint_imports(), "--no-cache"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert run.returncode == 0, run.stdout[-6000:] + run.stderr[-2000:]
    assert "0 broken" in run.stdout
