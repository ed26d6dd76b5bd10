"""Every public module's ``__all__`` is reachable from its package, and nothing else is
declared twice: the package ``__all__`` is the union of its modules' (one list each)."""

from __future__ import annotations

import importlib
import inspect
import pkgutil
import subprocess
import sys

import pytest

PACKAGES = ["dsp_rnn.filters", "dsp_rnn.cells", "dsp_rnn.synth", "dsp_rnn.music", "dsp_rnn.audio"]


def _public_modules(package: str) -> list:
    pkg = importlib.import_module(package)
    return [
        importlib.import_module(f"{package}.{info.name}")
        for info in pkgutil.iter_modules(pkg.__path__)
        if not info.name.startswith("_")
    ]


@pytest.mark.parametrize("package", PACKAGES)
def test_package_all_is_the_union_of_its_modules_all(package):
    pkg = importlib.import_module(package)
    names: list[str] = []
    for module in _public_modules(package):
        assert hasattr(module, "__all__"), f"{module.__name__} declares no __all__"
        for name in module.__all__:
            assert hasattr(module, name), f"{module.__name__}.__all__ names missing {name}"
            assert getattr(pkg, name) is getattr(module, name), f"{package}.{name}"
        names += [n for n in module.__all__ if n not in names]
    assert sorted(pkg.__all__) == sorted(names)
    assert len(pkg.__all__) == len(set(pkg.__all__))


@pytest.mark.parametrize("package", PACKAGES)
def test_every_public_function_and_class_is_declared(package):
    for module in _public_modules(package):
        for name, value in vars(module).items():
            defined_here = getattr(value, "__module__", None) == module.__name__
            if name.startswith("_") or not defined_here:
                continue
            if inspect.isfunction(value) or inspect.isclass(value):
                assert name in module.__all__, f"{module.__name__}.{name} is not in __all__"


def test_music_and_synth_packages_import_without_torch():
    code = (
        "import sys, dsp_rnn.music, dsp_rnn.synth\n"
        "dsp_rnn.music.write_midi, dsp_rnn.music.Skipped\n"
        "assert 'torch' not in sys.modules, 'torch was imported'\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
