"""Parse plain dicts (from YAML) into typed, frozen dataclasses, collecting every problem at once.

A config schema is a tree of frozen dataclasses. Field metadata may carry bounds (`ge`, `gt`, `le`, `lt`)
and a dataclass may define `check(self) -> list[str]` for rules that involve several fields. Unknown keys,
wrong types and bad values all become entries in one `ConfigError`, with "did you mean" for typos.
"""

from __future__ import annotations

import dataclasses
import difflib
import types
import typing
from collections.abc import Mapping
from typing import Any, Literal, TypeVar, Union, get_args, get_origin

import yaml

from callinkit.errors import ConfigError

T = TypeVar("T")

_MISSING = object()


def bounded(default: Any = dataclasses.MISSING, *, help: str = "", **bounds: float) -> Any:
    """A dataclass field with numeric bounds (ge/gt/le/lt) checked when the config is parsed."""
    unknown = set(bounds) - {"ge", "gt", "le", "lt"}
    if unknown:
        raise TypeError(f"unknown bound(s) {sorted(unknown)}")
    return dataclasses.field(default=default, metadata={"bounds": bounds, "help": help})


def did_you_mean(word: str, choices: typing.Iterable[str]) -> str:
    """' (did you mean 'x'?)' when a close match exists, else ''."""
    match = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return f" (did you mean '{match[0]}'?)" if match else ""


def _type_name(tp: Any) -> str:
    origin = get_origin(tp)
    if origin is Literal:
        return " | ".join(repr(a) for a in get_args(tp))
    if origin in (Union, types.UnionType):
        return " | ".join(_type_name(a) for a in get_args(tp))
    if origin in (list, tuple):
        return f"list of {_type_name(get_args(tp)[0])}"
    if tp is type(None):
        return "null"
    if dataclasses.is_dataclass(tp):
        return "mapping"
    return getattr(tp, "__name__", str(tp))


def _convert(value: Any, tp: Any, where: str, problems: list[str]) -> Any:
    """Return `value` converted to `tp`, or _MISSING after recording a problem."""
    origin = get_origin(tp)
    if tp is Any:
        return value
    if origin in (Union, types.UnionType):
        args = get_args(tp)
        if value is None and type(None) in args:
            return None
        non_none = [a for a in args if a is not type(None)]
        if len(non_none) == 1:
            return _convert(value, non_none[0], where, problems)
        for arg in non_none:
            trial: list[str] = []
            out = _convert(value, arg, where, trial)
            if not trial:
                return out
        problems.append(f"{where}: expected {_type_name(tp)}, got {value!r}")
        return _MISSING
    if origin is Literal:
        allowed = get_args(tp)
        if value in allowed:
            return value
        hint = did_you_mean(str(value), [str(a) for a in allowed])
        problems.append(f"{where}: {value!r} is not one of {', '.join(repr(a) for a in allowed)}{hint}")
        return _MISSING
    if origin in (list, tuple):
        if not isinstance(value, (list, tuple)):
            problems.append(f"{where}: expected a list, got {value!r}")
            return _MISSING
        (item_tp, *_rest) = get_args(tp)
        items = [_convert(v, item_tp, f"{where}[{i}]", problems) for i, v in enumerate(value)]
        return tuple(items)
    if dataclasses.is_dataclass(tp):
        if not isinstance(value, Mapping):
            problems.append(f"{where}: expected a mapping of {tp.__name__} fields, got {value!r}")
            return _MISSING
        return _build(tp, value, where, problems)
    if tp is bool:
        if isinstance(value, bool):
            return value
        problems.append(f"{where}: expected true or false, got {value!r}")
        return _MISSING
    if tp is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        problems.append(f"{where}: expected an integer, got {value!r}")
        return _MISSING
    if tp is float:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
        # YAML 1.1 reads `5e-5` (no dot) as a string; accept any string that is a number.
        if isinstance(value, str):
            try:
                return float(value)
            except ValueError:
                pass
        problems.append(f"{where}: expected a number, got {value!r}")
        return _MISSING
    if tp is str:
        if isinstance(value, str):
            return value
        problems.append(f"{where}: expected a string, got {value!r}")
        return _MISSING
    raise TypeError(f"unsupported config type {tp!r} at {where}")


def _check_bounds(value: Any, bounds: Mapping[str, float], where: str, problems: list[str]) -> None:
    if value is None or isinstance(value, bool) or not isinstance(value, (int, float)):
        return
    rules = {
        "ge": (lambda v, b: v >= b, ">="),
        "gt": (lambda v, b: v > b, ">"),
        "le": (lambda v, b: v <= b, "<="),
        "lt": (lambda v, b: v < b, "<"),
    }
    for name, bound in bounds.items():
        ok, sign = rules[name]
        if not ok(value, bound):
            problems.append(f"{where}: must be {sign} {bound}, got {value!r}")


def _build(cls: type[T], data: Mapping[str, Any], where: str, problems: list[str]) -> T:
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
    prefix = f"{where}." if where else ""
    for key in data:
        if key not in fields:
            problems.append(f"{prefix}{key}: unknown key{did_you_mean(str(key), fields)}")
    kwargs: dict[str, Any] = {}
    complete = True
    for name, f in fields.items():
        path = f"{prefix}{name}"
        if name in data:
            value = _convert(data[name], hints[name], path, problems)
            if value is _MISSING:
                complete = False
                continue
            _check_bounds(value, f.metadata.get("bounds", {}), path, problems)
            kwargs[name] = value
        elif f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
            problems.append(f"{path}: required key is missing")
            complete = False
    if not complete:
        return _MISSING  # type: ignore[return-value]
    obj = cls(**kwargs)
    check = getattr(obj, "check", None)
    if callable(check):
        problems.extend(f"{prefix}{msg}" if where else msg for msg in check())
    return obj


def from_dict(cls: type[T], data: Mapping[str, Any], source: str | None = None) -> T:
    """Build `cls` from `data`; raise ConfigError listing every problem found."""
    problems: list[str] = []
    if not isinstance(data, Mapping):
        raise ConfigError([f"the top level must be a mapping, got {type(data).__name__}"], source)
    obj = _build(cls, data, "", problems)
    if problems:
        raise ConfigError(problems, source)
    return obj


def to_dict(obj: Any) -> Any:
    """A dataclass tree as plain dicts and lists (YAML- and JSON-ready)."""
    if dataclasses.is_dataclass(obj):
        return {f.name: to_dict(getattr(obj, f.name)) for f in dataclasses.fields(obj)}
    if isinstance(obj, (list, tuple)):
        return [to_dict(v) for v in obj]
    return obj


def apply_overrides(data: dict[str, Any], overrides: list[str], source: str | None = None) -> dict[str, Any]:
    """Apply `key.sub=value` overrides (values parsed as YAML) to a copy of `data`.

    List items are addressed by index: `data.sources.0.weight=0.5`.
    """
    import copy

    out = copy.deepcopy(data)
    problems: list[str] = []
    for item in overrides:
        key, sep, raw = item.partition("=")
        if not sep or not key:
            problems.append(f"override {item!r}: expected key.sub=value")
            continue
        try:
            value = yaml.safe_load(raw) if raw != "" else ""
        except yaml.YAMLError as exc:
            problems.append(f"override {item!r}: value is not valid YAML ({exc.__class__.__name__})")
            continue
        node: Any = out
        parts = key.split(".")
        for depth, part in enumerate(parts):
            last = depth == len(parts) - 1
            if isinstance(node, list):
                if not part.isdigit() or int(part) >= len(node):
                    problems.append(f"override {item!r}: {'.'.join(parts[:depth])} has no item {part}")
                    break
                idx = int(part)
                if last:
                    node[idx] = value
                else:
                    node = node[idx]
            elif isinstance(node, dict):
                if last:
                    node[part] = value
                else:
                    node = node.setdefault(part, {})
            else:
                problems.append(f"override {item!r}: {'.'.join(parts[:depth])} is not a mapping")
                break
    if problems:
        raise ConfigError(problems, source)
    return out


def read_yaml(path: str) -> dict[str, Any]:
    """Read a YAML mapping, turning file and syntax errors into ConfigError."""
    from pathlib import Path

    p = Path(path)
    if not p.is_file():
        raise ConfigError([f"config file not found: {path}"], None)
    try:
        data = yaml.safe_load(p.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise ConfigError([f"not valid YAML: {exc}"], path) from None
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError([f"the top level must be a mapping, got {type(data).__name__}"], path)
    return data
