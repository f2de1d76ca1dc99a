"""Print a commented TOML example for a role, generated from the models."""
from __future__ import annotations

import json
import typing

from pydantic import BaseModel

from .config import ROLE_CONFIGS, Section


def _toml_value(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    return json.dumps(str(value))


def _allowed(annotation) -> str:
    if typing.get_origin(annotation) is typing.Literal:
        return "one of " + ", ".join(repr(a) for a in typing.get_args(annotation))
    return getattr(annotation, "__name__", str(annotation))


def _field_lines(model: type[BaseModel], instance: BaseModel) -> list[str]:
    lines = []
    for name, field in model.model_fields.items():
        if isinstance(getattr(instance, name), Section):
            continue
        note = field.description or ""
        lines.append(f"# {name}: {_allowed(field.annotation)}{'. ' + note if note else ''}")
        lines.append(f"{name} = {_toml_value(getattr(instance, name))}")
    return lines


def example(role: str) -> str:
    cls = ROLE_CONFIGS[role]
    instance = cls.model_construct(**{n: f.get_default(call_default_factory=True) for n, f in cls.model_fields.items()})
    out = [
        f"# OBSY {role} configuration (TOML). Every key is optional; shown with its default.",
        "# Override any key from the environment: OBSY_<SECTION>__<KEY>, e.g. OBSY_STORE__KIND=s3.",
        "",
    ]
    top = _field_lines(cls, instance)
    if top:
        out += top + [""]
    for name in cls.model_fields:
        value = getattr(instance, name)
        if isinstance(value, Section):
            out.append(f"[{name}]")
            out += _field_lines(type(value), value)
            out.append("")
    return "\n".join(out)
