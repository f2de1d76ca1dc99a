"""Forms of the imaging plans pages: a plan's target, priority and constraints; one exposure row."""
from __future__ import annotations

from flask_wtf import FlaskForm
from sqlalchemy import select
from wtforms import BooleanField, DateField, FloatField, IntegerField, SelectField, StringField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import InputRequired, Length, NumberRange, Optional, ValidationError

from master.models import Filter, Target

TWILIGHTS = [SelectChoice("astronomical", "astronomical (sun below −18°)"),
             SelectChoice("nautical", "nautical (below −12°)"), SelectChoice("civil", "civil (below −6°)")]


class PlanForm(FlaskForm):
    target_id = SelectField("Target", coerce=int)
    priority = IntegerField("Priority (1 first … 10 last)", default=5, validators=[InputRequired(), NumberRange(1, 10)])
    min_altitude_deg = FloatField("Min altitude (°)", default=30.0, validators=[InputRequired(), NumberRange(0, 89)])
    max_airmass = FloatField("Max airmass", validators=[Optional(), NumberRange(1.0, 10.0)])
    min_moon_separation_deg = FloatField("Min moon separation (°)", default=0.0,
                                         validators=[InputRequired(), NumberRange(0, 180)])
    twilight = SelectField("Darker than", choices=TWILIGHTS, default="astronomical")
    start_date = DateField("From night", validators=[Optional()])
    end_date = DateField("Until night", validators=[Optional()])
    active = BooleanField("Active", default=True)
    notes = TextAreaField("Notes", validators=[Optional(), Length(max=2000)])

    def prepare(self, session) -> "PlanForm":
        self.target_id.choices = [SelectChoice(t.id, t.name) for t in session.scalars(select(Target).order_by(Target.name))]
        return self

    def validate_end_date(self, field):
        if field.data and self.start_date.data and field.data < self.start_date.data:
            raise ValidationError("must not be before the first night")

    def save(self, plan) -> None:
        self.populate_obj(plan)
        plan.notes = plan.notes or None


class RowForm(FlaskForm):
    filter_name = StringField("Filter", validators=[Optional(), Length(max=60)], description="empty: no filter")
    exposure_s = FloatField("Exposure (s)", validators=[InputRequired(), NumberRange(0.001, 36_000)])
    count = IntegerField("Frames", validators=[InputRequired(), NumberRange(1, 10_000)])

    @staticmethod
    def filter_names(session) -> list[str]:
        return list(session.scalars(select(Filter.name).order_by(Filter.name)))
