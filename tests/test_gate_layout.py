"""The gate as its own package (issue 11): wired into `compass gate`, cheap to parse arguments for,
and reading run files only through compass.records."""
from __future__ import annotations

import re
import subprocess
import sys

import numpy as np

from compass import records
from compass.store import RunDir

from helpers import REPO, compass

GATE = REPO / "compass" / "gate"


def test_building_the_cli_imports_no_statistics():
    """`compass --help` and argument parsing must not pay for numpy and scipy."""
    code = ("import sys; from compass.cli import build_parser; build_parser().parse_args(['gate', '--baseline', 'a', "
            "'--candidate', 'b']); print(sorted({m.split('.')[0] for m in sys.modules} & {'numpy', 'scipy'}))")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, check=True)
    assert proc.stdout.strip() == "[]"


def test_compass_gate_command_exit_codes(tmp_path):
    """Through the `compass` entry point: 1 on a regression, 0 on the same run, 2 on bad input."""
    good = np.arange(1000) % 2 == 0
    bad = good.copy()
    bad[:200] = False
    for run, values in (("base", good), ("cand", bad)):
        rows = [records.Scored(id=str(i), evaluator="accuracy", extracted="x", correct=bool(v))
                for i, v in enumerate(values)]
        records.write_lines(RunDir(tmp_path / run).scored("m", "d"), rows)
    proc = compass("gate", "--baseline", str(tmp_path / "base"), "--candidate", str(tmp_path / "cand"), cwd=tmp_path)
    assert proc.returncode == 1 and "gate verdict: REGRESSION" in proc.stdout, proc.stderr
    proc = compass("gate", "--baseline", str(tmp_path / "base"), "--candidate", str(tmp_path / "base"), cwd=tmp_path)
    assert proc.returncode == 0 and "gate verdict: PASS" in proc.stdout, proc.stderr
    proc = compass("gate", "--baseline", str(tmp_path / "base"), "--candidate", str(tmp_path / "x"), cwd=tmp_path)
    assert proc.returncode == 2 and proc.stderr.count("\n") == 1 and "does not exist" in proc.stderr
    proc = subprocess.run([sys.executable, "-m", "compass.gate", "--help"], capture_output=True, text=True,
                          cwd=tmp_path)
    assert proc.returncode == 0 and "--max-drop" in proc.stdout


def test_gate_modules_read_run_files_only_through_records():
    """One concept per module, none large, and no hand-written file parsing (issue 11)."""
    modules = sorted(GATE.glob("*.py"))
    assert {m.stem for m in modules} >= {"locate", "pair", "analyse", "render", "cli", "args"}
    for module in modules:
        source = module.read_text()
        assert len(source.splitlines()) <= 300, module
        assert not re.search(r"json\.loads?\(|\bopen\(|read_text\(|read_bytes\(", source), module
    assert not (REPO / "compass" / "summarize" / "gate.py").exists()
