"""Forms of the imaging plans pages: a plan's target, priority and constraints; one exposure row."""
from __future__ import annotations

from flask_wtf import FlaskForm
from sqlalchemy import select
from wtforms import (BooleanField, DateField, FloatField, IntegerField, SelectField, StringField, TextAreaField,
                     TimeField)
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
    moon_illumination_pct = FloatField("Max moon illumination (%)", validators=[Optional(), NumberRange(0, 100)],
                                       description="while the moon is up")
    start_date = DateField("From night", validators=[Optional()])
    end_date = DateField("Until night", validators=[Optional()])
    night_from = TimeField("Not before (local)", validators=[Optional()])
    night_until = TimeField("Not after (local)", validators=[Optional()])
    dither_every = IntegerField("Dither every (frames)", validators=[Optional(), NumberRange(1, 1000)])
    focus_at_start = BooleanField("Autofocus when the target starts")
    focus_every_min = FloatField("Refocus every (min)", validators=[Optional(), NumberRange(1, 1440)])
    focus_temp_delta = FloatField("Refocus on a change of (°C)", validators=[Optional(), NumberRange(0.1, 50)])
    calib_darks = IntegerField("Darks per exposure", default=0, validators=[Optional(), NumberRange(0, 500)])
    calib_flats = IntegerField("Flats per filter", default=0, validators=[Optional(), NumberRange(0, 500)])
    flat_exposure_s = FloatField("Flat exposure (s)", validators=[Optional(), NumberRange(0.001, 600)])
    active = BooleanField("Active", default=True)
    notes = TextAreaField("Notes", validators=[Optional(), Length(max=2000)])

    def prepare(self, session, plan=None) -> "PlanForm":
        self.target_id.choices = [SelectChoice(t.id, t.name) for t in session.scalars(select(Target).order_by(Target.name))]
        if plan is not None and plan.max_moon_illumination is not None and self.moon_illumination_pct.data is None:
            self.moon_illumination_pct.data = round(plan.max_moon_illumination * 100, 1)
        return self

    def validate(self, extra_validators=None) -> bool:
        valid = super().validate(extra_validators)
        # Not an inline validator: Optional() stops those when the field is empty.
        if bool(self.night_until.data) != bool(self.night_from.data):
            self.night_until.errors = [*self.night_until.errors, "give both ends of the time-of-night window, or neither"]
            return False
        return valid

    def validate_end_date(self, field):
        if field.data and self.start_date.data and field.data < self.start_date.data:
            raise ValidationError("must not be before the first night")

    def save(self, plan) -> None:
        pct = self.moon_illumination_pct.data
        del self.moon_illumination_pct  # not a column: stored as a fraction
        self.populate_obj(plan)
        plan.max_moon_illumination = None if pct is None else pct / 100.0
        plan.notes = plan.notes or None
        plan.calib_darks, plan.calib_flats = plan.calib_darks or 0, plan.calib_flats or 0


class RowForm(FlaskForm):
    filter_name = StringField("Filter", validators=[Optional(), Length(max=60)], description="empty: no filter")
    exposure_s = FloatField("Exposure (s)", validators=[InputRequired(), NumberRange(0.001, 36_000)])
    count = IntegerField("Frames", validators=[InputRequired(), NumberRange(1, 10_000)])
    binning = IntegerField("Binning", default=1, validators=[Optional(), NumberRange(1, 8)])
    gain = FloatField("Gain", validators=[Optional(), NumberRange(0, 100_000)], description="camera default")
    offset = FloatField("Offset", validators=[Optional(), NumberRange(0, 100_000)], description="camera default")

    @staticmethod
    def filter_names(session) -> list[str]:
        return list(session.scalars(select(Filter.name).order_by(Filter.name)))
