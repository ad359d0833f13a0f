"""Entry point of a worker sandbox: ``python -I -S -B main.py`` with the worker's config (JSON) on
stdin and its control socket as an inherited descriptor. Sets up the mode's isolation, then serves
jobs (``zygote``) until the evaluator closes the socket.

Started by the evaluator (``compass/evaluators/sandbox/worker.py``), in a process of its own: the
privileged setup never runs in a thread of the evaluator.
"""
from __future__ import annotations

import contextlib
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.dont_write_bytecode = True

import importlib  # noqa: E402 - after the path set-up above
import json  # noqa: E402 - after the path set-up above
import socket  # noqa: E402 - after the path set-up above

from inside import confine, nsroot  # noqa: E402
from inside.zygote import Zygote  # noqa: E402

_PR_SET_PDEATHSIG = 1


def _preimport(names: list[str]) -> None:
    """Modules programs and tests often import, loaded once here instead of in every job (forked
    children share them); also fills the import system's directory caches before any chroot."""
    for name in names:
        with contextlib.suppress(ImportError):
            importlib.import_module(name)


def _setup(cfg: dict, ctrl: socket.socket) -> Zygote:
    mode = cfg["mode"]
    if mode != "namespaces":
        if mode == "bwrap":
            cfg.update(readable=["/"], hidden=[], scratch="/tmp")
        return Zygote(cfg, ctrl, pid_namespace=mode == "bwrap")
    nsroot.enter(root=os.geteuid() == 0)
    confine.non_dumpable()
    pid = os.fork()
    if pid:  # the launcher stays outside, as the parent of the namespace's init
        ctrl.close()
        _, status = os.waitpid(pid, 0)
        os._exit(os.waitstatus_to_exitcode(status) & 0xFF)
    confine.prctl(_PR_SET_PDEATHSIG, 9)
    proc = nsroot.build_root(cfg["mountpoint"], cfg["python_dirs"], cfg["hidden"], cfg["limits"]["max_disk_mb"])
    cfg.update(scratch="/tmp", readable=["/"], hidden=[], proc=proc)
    return Zygote(cfg, ctrl, pid_namespace=True)


def main() -> None:
    cfg = json.loads(sys.stdin.buffer.read())
    os.dup2(os.open(os.devnull, os.O_RDWR), 0)
    ctrl = socket.socket(fileno=cfg["ctrl_fd"])
    _preimport(cfg["preimport"])
    try:
        zygote = _setup(cfg, ctrl)
    except BaseException as exc:  # reported to the evaluator, which may try another mode
        ctrl.send(json.dumps({"error": f"{type(exc).__name__}: {exc}"}).encode())
        os._exit(1)
    ctrl.send(json.dumps({"ready": {"pid": os.getpid(), "proc": cfg.get("proc", True),
                                    "uid": os.geteuid()}}).encode())
    zygote.serve()
    os._exit(0)


if __name__ == "__main__":
    main()
