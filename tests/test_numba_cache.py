"""The compiled kernels load for a user who can write neither the package nor a home."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import numba

from dsp_rnn import _numba_cache

_CHILD = r"""
import numba, torch
from dsp_rnn.filters import butter, sosfilt
from dsp_rnn.music import Note
from dsp_rnn.synth import render
y = sosfilt(butter(4, 1000.0, sample_rate=48000), torch.randn(2, 4000))
audio = render([Note(60, 90, 0, 0, 0.0, 0.2)], sample_rate=22050)
print(numba.config.CACHE_DIR, tuple(y.shape), audio.shape[0])
"""


def _unprivileged(command: list[str]) -> tuple[list[str], object]:
    """Run ``command`` as the user 'nobody' when we are root (file modes do not stop root)."""
    if os.geteuid() != 0:
        return command, None
    if shutil.which("setpriv"):
        return ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", *command], None

    def drop() -> None:  # pragma: no cover - runs in the child
        os.setgroups([])
        os.setgid(65534)
        os.setuid(65534)

    return command, drop


def test_kernels_load_without_a_writable_package_or_home():
    base = Path(tempfile.mkdtemp(prefix="dsp-rnn-nohome-"))
    try:
        home = base / "home"
        home.mkdir()
        home.chmod(0o555)  # read-only for everyone but root
        env = {k: v for k, v in os.environ.items() if k != "NUMBA_CACHE_DIR"}
        env.update(HOME=str(home), MPLCONFIGDIR=str(home), TMPDIR=str(base))
        base.chmod(0o777)
        command, drop = _unprivileged([sys.executable, "-c", _CHILD])
        proc = subprocess.run(command, capture_output=True, text=True, env=env, cwd=base,
                              preexec_fn=drop, check=False, timeout=600)  # fmt: skip
        assert proc.returncode == 0, proc.stderr[-2000:]
        cache_dir, rest = proc.stdout.strip().split(" ", 1)
        assert rest == "(2, 4000) 2", proc.stdout
        if os.geteuid() == 0:  # 'nobody' can write neither the checkout nor the home
            assert cache_dir.startswith(str(base)), proc.stdout
    finally:
        shutil.rmtree(base, ignore_errors=True)


def test_a_user_choice_of_cache_folder_is_kept(monkeypatch, tmp_path):
    monkeypatch.setattr(numba.config, "CACHE_DIR", str(tmp_path))
    assert _numba_cache.ensure_cache_dir() is None
    assert numba.config.CACHE_DIR == str(tmp_path)


def test_a_writable_package_folder_needs_no_change(monkeypatch):
    monkeypatch.setattr(numba.config, "CACHE_DIR", "")
    monkeypatch.setattr(_numba_cache, "_writable", lambda folder: True)
    assert _numba_cache.ensure_cache_dir() is None
    assert numba.config.CACHE_DIR == ""


def test_nothing_writable_but_the_temporary_folder(monkeypatch, tmp_path):
    monkeypatch.setattr(numba.config, "CACHE_DIR", "")
    monkeypatch.setattr(tempfile, "gettempdir", lambda: str(tmp_path))
    monkeypatch.setattr(_numba_cache, "_writable", lambda f: str(f).startswith(str(tmp_path)))
    chosen = _numba_cache.ensure_cache_dir()
    assert chosen is not None and chosen.startswith(str(tmp_path))
    assert numba.config.CACHE_DIR == chosen
