"""What every portal form shares: its errors shown as flashed messages, with the field's label."""
from __future__ import annotations

from flask import flash
from flask_wtf import FlaskForm


def flash_errors(form: FlaskForm) -> None:
    for name, errors in form.errors.items():
        field = getattr(form, name, None)
        label = field.label.text if field is not None else name
        flash(f"{label}: {'; '.join(errors)}", "error")
