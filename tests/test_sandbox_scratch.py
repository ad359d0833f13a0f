"""Emptying a job's scratch directory (compass/evaluators/sandbox/inside/scratch.py): deep trees,
directories the program made unreadable, symlinks pointing outside (never followed)."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from compass.evaluators.sandbox.modes import SANDBOX_DIR

NOBODY = 65534


def _nasty_tree(scratch: Path, outside: Path) -> None:
    (scratch / "file").write_text("x")
    fd = os.open(scratch, os.O_RDONLY | os.O_DIRECTORY)
    for _ in range(1500):  # deeper than the recursion limit; its path longer than PATH_MAX
        os.mkdir("dddddddd", dir_fd=fd)
        inner = os.open("dddddddd", os.O_RDONLY | os.O_DIRECTORY, dir_fd=fd)
        os.close(fd)
        fd = inner
    os.close(os.open("bottom", os.O_CREAT | os.O_WRONLY, dir_fd=fd))
    os.close(fd)
    (scratch / "to_outside").symlink_to(outside)  # a symlink to a directory outside
    (scratch / "locked" / "inner").mkdir(parents=True)
    (scratch / "locked" / "inner" / "f").write_text("x")
    (scratch / "locked" / "to_file").symlink_to(outside / "keep")


def _chmod_tree(scratch: Path) -> None:
    for sub in ("locked/inner", "locked"):
        (scratch / sub).chmod(0)  # no read, no search: only chmod gets in


@pytest.fixture
def own_dir():
    """A temp dir another user (nobody) can reach (pytest's are closed to others)."""
    path = Path(tempfile.mkdtemp(prefix="compass-scratch-test-"))
    path.chmod(0o755)
    yield path
    subprocess.run(["rm", "-rf", str(path)], check=True)


@pytest.mark.skipif(os.geteuid() != 0, reason="makes the tree another user's (nobody), which needs root")
def test_clears_everything_inside_and_nothing_outside(own_dir):
    """Run as the tree's owner without root's permission override: it must restore permissions."""
    outside, scratch = own_dir / "outside", own_dir / "scratch"
    outside.mkdir()
    (outside / "keep").write_text("precious")
    scratch.mkdir()
    _nasty_tree(scratch, outside)
    subprocess.run(["chown", "-R", "-h", f"{NOBODY}:{NOBODY}", str(scratch)], check=True)
    _chmod_tree(scratch)
    code = f"import sys; sys.path.insert(0, {SANDBOX_DIR!r}); from inside import scratch; scratch.clear({str(scratch)!r})"
    proc = subprocess.run(["/usr/bin/python3", "-I", "-c", code], user=NOBODY, group=NOBODY, extra_groups=[],
                          capture_output=True, text=True, timeout=120, cwd="/")
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert list(scratch.iterdir()) == [] and (outside / "keep").read_text() == "precious"


def test_a_plain_copy_of_the_tree_defeats_naive_removal(tmp_path):
    """The control: the tree really is hard (shutil.rmtree, recursive, fails on its depth in this
    Python), so the test above shows more than a trivial removal."""
    outside, scratch = tmp_path / "outside", tmp_path / "scratch"
    outside.mkdir()
    (outside / "keep").write_text("precious")
    scratch.mkdir()
    _nasty_tree(scratch, outside)
    try:
        if sys.version_info < (3, 12):  # 3.12 made rmtree iterative
            with pytest.raises((RecursionError, OSError)):
                shutil.rmtree(scratch)
    finally:
        subprocess.run(["rm", "-rf", str(scratch)], check=True)  # pytest's own clean-up would trip on it
    assert (outside / "keep").read_text() == "precious"
