"""Forms for sites, telescopes, cameras, filters and telescope node bindings.

Each form loads itself from a row and saves itself into one, so the equipment
blueprint can handle every kind with the same few routes.
"""
from __future__ import annotations

from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from flask_wtf import FlaskForm
from sqlalchemy import select
from wtforms import FloatField, IntegerField, SelectField, SelectMultipleField, StringField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, InputRequired, Length, NumberRange, Optional, Regexp, ValidationError

from common.contracts import NODE_NAME_PATTERN
from master.horizon import HorizonError, format_horizon, parse_horizon
from master.models import Camera, Filter, Site, Telescope

POSITIVE = NumberRange(min=0.001, message="must be more than 0")


def _name(max_length: int = 120) -> StringField:
    return StringField("Name", validators=[DataRequired(), Length(max=max_length)])


def _optional_id(value):
    return None if value in (None, "", "None") else int(value)


class EquipmentForm(FlaskForm):
    def prepare(self, session) -> None:
        """Fill choices that come from the database."""

    def load(self, row) -> None:
        self.process(obj=row)

    def save(self, row, session) -> None:
        self.populate_obj(row)


class SiteForm(EquipmentForm):
    name = _name()
    latitude_deg = FloatField("Latitude (°, north +)", validators=[InputRequired(message="is required"),
                                                                   NumberRange(-90, 90)])
    longitude_deg = FloatField("Longitude (°, east +)", validators=[InputRequired(message="is required"),
                                                                    NumberRange(-180, 180)])
    elevation_m = FloatField("Elevation (m)", validators=[Optional(), NumberRange(-500, 9000)])
    timezone = StringField("Time zone", validators=[DataRequired(), Length(max=64)],
                           description="an IANA name such as Europe/Paris")
    horizon_text = TextAreaField("Horizon mask", description="azimuth altitude pairs in degrees, e.g. 0 15, 90 25, 180 10")

    def validate_timezone(self, field):
        try:
            ZoneInfo(field.data.strip())
        except (ZoneInfoNotFoundError, ValueError):
            raise ValidationError(f"{field.data!r} is not a known time zone") from None

    def validate_horizon_text(self, field):
        try:
            parse_horizon(field.data or "")
        except HorizonError as exc:
            raise ValidationError(str(exc)) from None

    def load(self, row) -> None:
        super().load(row)
        self.horizon_text.data = format_horizon(row.horizon)

    def save(self, row, session) -> None:
        for name in ("name", "latitude_deg", "longitude_deg", "elevation_m"):
            setattr(row, name, getattr(self, name).data)
        row.timezone = self.timezone.data.strip()
        row.horizon = parse_horizon(self.horizon_text.data or "") or None


class TelescopeForm(EquipmentForm):
    name = _name()
    aperture_mm = FloatField("Aperture (mm)", validators=[Optional(), POSITIVE])
    focal_length_mm = FloatField("Focal length (mm)", validators=[InputRequired(message="is required"), POSITIVE])


class CameraForm(EquipmentForm):
    name = _name()
    width_px = IntegerField("Sensor width (px)", validators=[Optional(), NumberRange(1, 100_000)])
    height_px = IntegerField("Sensor height (px)", validators=[Optional(), NumberRange(1, 100_000)])
    pixel_size_um = FloatField("Pixel size (µm)", validators=[Optional(), POSITIVE])
    gain_default = FloatField("Default gain", validators=[Optional(), NumberRange(0, 100_000)])
    offset_default = FloatField("Default offset", validators=[Optional(), NumberRange(0, 100_000)])


class FilterForm(EquipmentForm):
    name = _name(60)


class TelescopeNodeForm(EquipmentForm):
    node_name = StringField("Telescope node", validators=[
        DataRequired(), Regexp(NODE_NAME_PATTERN, message="lower-case letters, digits, - and _ (the node's name)")])
    site_id = SelectField("Site", coerce=_optional_id, validators=[DataRequired(message="choose a site")])
    telescope_id = SelectField("Telescope", coerce=_optional_id)
    camera_id = SelectField("Camera", coerce=_optional_id)
    filter_ids = SelectMultipleField("Filters", coerce=int)

    def prepare(self, session) -> None:
        def names(model):
            return [SelectChoice(row.id, row.name) for row in session.scalars(select(model).order_by(model.name))]

        self.site_id.choices = [SelectChoice("", "—")] + names(Site)
        self.telescope_id.choices = [SelectChoice("", "—")] + names(Telescope)
        self.camera_id.choices = [SelectChoice("", "—")] + names(Camera)
        self.filter_ids.choices = names(Filter)

    def load(self, row) -> None:
        super().load(row)
        self.filter_ids.data = [f.id for f in row.filters]

    def save(self, row, session) -> None:
        row.node_name = self.node_name.data
        row.site_id, row.telescope_id, row.camera_id = self.site_id.data, self.telescope_id.data, self.camera_id.data
        wanted = self.filter_ids.data or []
        row.filters = list(session.scalars(select(Filter).where(Filter.id.in_(wanted)))) if wanted else []
