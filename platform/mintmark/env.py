"""Settings from the environment, refusing bad values instead of guessing."""

import os
import re
from pathlib import Path

from django.core.exceptions import ImproperlyConfigured

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


def env_str(name: str, default: str = "") -> str:
    return os.environ.get(name, default)


def env_bool(name: str, default: bool = False) -> bool:
    raw = os.environ.get(name)
    if raw is None:
        return default
    value = raw.strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ImproperlyConfigured(f"{name}={raw!r} is not a boolean (use true/false)")


def env_int(name: str, default: int, *, minimum: int = 0) -> int:
    raw = os.environ.get(name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ImproperlyConfigured(f"{name}={raw!r} is not an integer") from None
    if value < minimum:
        raise ImproperlyConfigured(f"{name}={value} is below the minimum {minimum}")
    return value


def env_list(name: str, default: str = "") -> list[str]:
    return [item.strip() for item in env_str(name, default).split(",") if item.strip()]


def env_secret(name: str) -> str | None:
    """Reads NAME, or the file named by NAME_FILE (Docker/Kubernetes secrets)."""
    value = os.environ.get(name)
    path = os.environ.get(f"{name}_FILE")
    if value and path:
        raise ImproperlyConfigured(f"set {name} or {name}_FILE, not both")
    if path:
        try:
            return Path(path).read_text().strip()
        except OSError as exc:
            raise ImproperlyConfigured(f"{name}_FILE={path!r} cannot be read: {exc}") from None
    return value or None


def env_choice(name: str, default: str, choices: tuple[str, ...]) -> str:
    value = os.environ.get(name, default).strip().lower()
    if value not in choices:
        raise ImproperlyConfigured(f"{name}={value!r} is not one of {', '.join(choices)}")
    return value


def env_sizes(name: str, default: str) -> tuple[int, ...]:
    """A comma-separated list of distinct positive integers, returned ascending; empty is ()."""
    raw = env_str(name, default)
    sizes = []
    for item in (part.strip() for part in raw.split(",")):
        if not item:
            continue
        try:
            value = int(item)
        except ValueError:
            raise ImproperlyConfigured(f"{name}={raw!r}: {item!r} is not an integer") from None
        if value < 1:
            raise ImproperlyConfigured(f"{name}={raw!r}: sizes must be at least 1")
        sizes.append(value)
    if len(set(sizes)) != len(sizes):
        raise ImproperlyConfigured(f"{name}={raw!r} repeats a size")
    return tuple(sorted(sizes))


def env_paths(name: str, default: tuple[Path, ...]) -> tuple[Path, ...]:
    """Absolute folders separated by os.pathsep or commas, normalised; unset is `default`, set
    and empty is (). A relative path is refused: relative to which process's working folder?"""
    raw = os.environ.get(name)
    if raw is None:
        return tuple(default)
    paths = []
    for item in (part.strip() for part in re.split(f"[,{re.escape(os.pathsep)}]", raw)):
        if not item:
            continue
        if not Path(item).is_absolute():
            raise ImproperlyConfigured(f"{name}={raw!r}: {item!r} is not an absolute path")
        paths.append(Path(os.path.normpath(item)))
    if len(set(paths)) != len(paths):
        raise ImproperlyConfigured(f"{name}={raw!r} repeats a folder")
    return tuple(paths)
