"""`gate config check FILE`: what start-up would say about a config, without starting."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Annotated, Any, Literal, get_args, get_origin

from pydantic import BaseModel, SecretStr

from gate.config import GateConfig, load_config


def config_check(args: argparse.Namespace) -> int:
    # As `gate run` loads it: a ConfigError lists every problem, the daemon's lane's too; main prints it.
    config = load_config(args.file, daemon=True)
    print(f"{args.file}: ok ({config.site.name}, {len(config.zones)} zone(s), {len(config.lanes)} lane(s))")
    return 0


def config_reference() -> str:
    """docs/config.md's key table, made from the models' own descriptions so it cannot drift."""
    rows = ["| key | type | default | meaning |", "| --- | --- | --- | --- |"]
    _rows(GateConfig, "", rows)
    return "\n".join(rows) + "\n"


def _rows(model: type[BaseModel], prefix: str, rows: list[str], only: str = "") -> None:
    for name, field in model.model_fields.items():
        annotation: Any = field.annotation
        key = f"{prefix}{name}"
        nested = _model_in(annotation)
        variants = _models_in(annotation)
        if get_origin(annotation) is dict and len(variants) > 1:
            rows.append(f"| `{key}.<id>` | table | | {field.description} |")
            for variant in variants:
                kind = variant.model_fields["type"].annotation
                _rows(variant, f"{key}.<id>.", rows, only=f" (type `{get_args(kind)[0]}`)")
        elif get_origin(annotation) is dict and nested is not None:
            rows.append(f"| `{key}.<id>` | table | | {field.description} |")
            _rows(nested, f"{key}.<id>.", rows)
        elif nested is not None:
            rows.append(f"| `[{key}]` | table | | {field.description} |")
            _rows(nested, f"{key}.", rows)
        else:
            value = None if field.is_required() else field.get_default(call_default_factory=True)
            shown = repr(str(value)) if isinstance(value, Path) else repr(value)  # a path as written in TOML
            default = "required" if field.is_required() else f"`{shown}`"
            type_name = _type_name(annotation)
            optional = " (optional)" if type_name.endswith(" (optional)") else ""
            type_name = type_name.removesuffix(optional) + _bounds(field.metadata) + optional
            rows.append(f"| `{key}`{only} | {type_name} | {default} | {field.description} |")


def _bounds(metadata: list[Any]) -> str:
    """A field's range as the models' constraints give it: `, ≥ 2, ≤ 600`, or nothing."""
    signs = (("ge", "≥"), ("gt", ">"), ("le", "≤"), ("lt", "<"))
    parts = [f"{sign} {getattr(m, name):_}" for m in metadata for name, sign in signs if hasattr(m, name)]
    return "".join(f", {part}" for part in parts)


def _type_name(annotation: Any) -> str:
    """A type in an operator's words: text, integer, one of `a`, `b`, list of ..."""
    origin, args = get_origin(annotation), get_args(annotation)
    if origin is Literal:
        return "one of " + ", ".join(f"`{a}`" for a in args)
    if origin is Annotated:
        return _type_name(args[0])
    if origin is tuple:
        return f"list of {_type_name(args[0])}"
    if args and type(None) in args:
        return " or ".join(_type_name(a) for a in args if a is not type(None)) + " (optional)"
    names = {str: "text", int: "integer", bool: "true/false", float: "number", Path: "path", SecretStr: "secret text"}
    return names.get(annotation, getattr(annotation, "__name__", str(annotation)))


def _models_in(annotation: Any) -> list[type[BaseModel]]:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    return [model for arg in get_args(annotation) for model in _models_in(arg)]


def _model_in(annotation: Any) -> type[BaseModel] | None:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in get_args(annotation):
        found = _model_in(arg)
        if found is not None:
            return found
    return None


def config_doc(args: argparse.Namespace) -> int:
    print(config_reference(), end="")
    return 0


def add_parsers(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    config = sub.add_parser("config", help="check a config file")
    verbs = config.add_subparsers(dest="verb", required=True, metavar="VERB")
    check = verbs.add_parser("check", help="validate FILE and list every problem by key path")
    check.add_argument("file", type=Path)
    check.set_defaults(func=config_check)
    doc = verbs.add_parser("doc", help="print the table of every key (docs/config.md)")
    doc.set_defaults(func=config_doc)
