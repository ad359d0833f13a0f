"""Read a Python config file into a plain dict, the way OpenCompass users write them.

A config is ordinary Python: it may ``import os`` and read the environment, import helpers, and
compute values. Inside ``with read_base():`` (from ``mmengine.config``, as in OpenCompass; mmengine
itself is not needed), *relative* imports such as ``from ..datasets_cfg.gsm8k.gsm8k_gen import
gsm8k_datasets`` load other config files, relative to the importing file's folder. The result is
every top-level name that does not start with an underscore and is not a module, function or class.
Any failure is one line naming the file and line that failed.
"""
from __future__ import annotations

import builtins
import contextlib
import traceback
import types
from pathlib import Path
from typing import Any

from compass.errors import CompassError


def read_python_config(path: Path) -> dict[str, Any]:
    return {k: _plain(v) for k, v in _public(_execute(path.resolve(), ())).items()}


def _execute(path: Path, chain: tuple[Path, ...]) -> dict[str, Any]:
    if path in chain:
        raise CompassError(f"{chain[-1]}: imports {path}, which imports it back (a cycle)")
    try:
        source = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise CompassError(f"{path}: cannot read the config file ({exc})") from None
    _CONFIG_FILES.add(str(path))
    try:
        code = compile(source, str(path), "exec")
    except SyntaxError as exc:
        raise CompassError(f"{exc.filename or path}:{exc.lineno}: syntax error: {exc.msg}") from None
    namespace: dict[str, Any] = {"__file__": str(path), "__name__": f"compass_config_{path.stem}",
                                 "__builtins__": _builtins_for(path, (*chain, path))}
    try:
        exec(code, namespace)
    except CompassError:
        raise
    except Exception as exc:
        raise CompassError(f"{_where(exc, path)}: {type(exc).__name__}: {_first_line(exc)}") from None
    return namespace


def _builtins_for(path: Path, chain: tuple[Path, ...]) -> dict[str, Any]:
    """Builtins whose ``__import__`` resolves relative imports to config files next to ``path``
    and serves ``mmengine.config.read_base`` without mmengine."""
    real_import = builtins.__import__

    def config_import(name, globals=None, locals=None, fromlist=(), level=0):
        if level > 0:
            return _config_module(path, name, level, fromlist, chain)
        if name == "mmengine.config" or (name == "mmengine" and fromlist):
            return _MMENGINE_CONFIG
        return real_import(name, globals, locals, fromlist, level)

    return {**vars(builtins), "__import__": config_import}


def _config_module(path: Path, name: str, level: int, fromlist, chain: tuple[Path, ...]) -> types.ModuleType:
    base = path.parent
    for _ in range(level - 1):
        base = base.parent
    parts = name.split(".") if name else []
    target = base.joinpath(*parts)
    if target.with_suffix(".py").is_file():
        module = types.ModuleType(name or target.name)
        module.__dict__.update(_execute(target.with_suffix(".py"), chain))
        return module
    if target.is_dir() and fromlist:  # `from ..datasets_cfg import gsm8k` style: a package of configs
        package = types.ModuleType(name or target.name)
        for item in fromlist:
            file = target / f"{item}.py"
            if file.is_file():
                sub = types.ModuleType(item)
                sub.__dict__.update(_execute(file, chain))
                setattr(package, item, sub)
        return package
    dots = "." * level
    raise CompassError(f"{path}: from {dots}{name} import ...: no config file {target.with_suffix('.py')} "
                       f"(relative imports are resolved from the importing file's folder)")


def _read_base() -> contextlib.AbstractContextManager:
    """``with read_base():`` marks the imports of other config files; they need nothing more here."""
    return contextlib.nullcontext()


_MMENGINE_CONFIG = types.ModuleType("mmengine.config")
_MMENGINE_CONFIG.read_base = _read_base  # type: ignore[attr-defined]
_MMENGINE_CONFIG.config = _MMENGINE_CONFIG  # type: ignore[attr-defined]  # `from mmengine import config`


def _public(namespace: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in namespace.items() if not k.startswith("_")
            and not isinstance(v, (types.ModuleType, types.FunctionType, types.BuiltinFunctionType, type))}


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


_CONFIG_FILES: set[str] = set()  # every config file executed: where a traceback's line is the user's


def _where(exc: BaseException, path: Path) -> str:
    """``file:line`` of the deepest frame in a config file (the config line that failed)."""
    frames = [f for f in traceback.extract_tb(exc.__traceback__) if f.filename in _CONFIG_FILES]
    return f"{frames[-1].filename}:{frames[-1].lineno}" if frames else str(path)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else "(no message)"


__all__ = ["read_python_config"]
