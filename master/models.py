"""SQLAlchemy 2.0 models. Schema changes go through Alembic (master/migrations)."""
from __future__ import annotations

from datetime import date, datetime, time, timezone

from sqlalchemy import (JSON, BigInteger, Boolean, Column, Date, DateTime, Float, ForeignKey, Index, Integer,
                        String, Table, Text, Time, false as sa_false)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


class Base(DeclarativeBase):
    pass


class User(Base):
    __tablename__ = "users"
    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(80), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(20), default="admin")
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class Site(Base):
    __tablename__ = "sites"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(120), unique=True)
    latitude_deg: Mapped[float | None] = mapped_column(Float)
    longitude_deg: Mapped[float | None] = mapped_column(Float)
    elevation_m: Mapped[float | None] = mapped_column(Float)
    timezone: Mapped[str | None] = mapped_column(String(64))
    horizon: Mapped[list | None] = mapped_column(JSON)  # [[azimuth, altitude], ...] degrees; empty = flat


class Telescope(Base):
    __tablename__ = "telescopes"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(120), unique=True)
    aperture_mm: Mapped[float | None] = mapped_column(Float)
    focal_length_mm: Mapped[float | None] = mapped_column(Float)


class Camera(Base):
    __tablename__ = "cameras"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(120), unique=True)
    pixel_size_um: Mapped[float | None] = mapped_column(Float)
    width_px: Mapped[int | None] = mapped_column(Integer)
    height_px: Mapped[int | None] = mapped_column(Integer)
    bayer_pattern: Mapped[str | None] = mapped_column(String(8))
    gain_default: Mapped[float | None] = mapped_column(Float)
    offset_default: Mapped[float | None] = mapped_column(Float)


class Filter(Base):
    __tablename__ = "filters"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(60), unique=True)


telescope_node_filters = Table(
    "telescope_node_filters", Base.metadata,
    Column("telescope_node_id", ForeignKey("telescope_nodes.id", ondelete="CASCADE"), primary_key=True),
    Column("filter_id", ForeignKey("filters.id", ondelete="CASCADE"), primary_key=True),
)


class TelescopeNode(Base):
    """Which OBSY telescope node images from which site, through which optics, camera and filters."""

    __tablename__ = "telescope_nodes"
    id: Mapped[int] = mapped_column(primary_key=True)
    node_name: Mapped[str] = mapped_column(String(63), unique=True)
    # No cascades: a site or instrument still bound to a node cannot be deleted.
    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id"), index=True)
    telescope_id: Mapped[int | None] = mapped_column(ForeignKey("telescopes.id"))
    camera_id: Mapped[int | None] = mapped_column(ForeignKey("cameras.id"))
    site: Mapped[Site] = relationship()
    telescope: Mapped[Telescope | None] = relationship()
    camera: Mapped[Camera | None] = relationship()
    filters: Mapped[list[Filter]] = relationship(secondary=telescope_node_filters, order_by=Filter.name)


class Target(Base):
    __tablename__ = "targets"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    ra_deg: Mapped[float | None] = mapped_column(Float)  # J2000
    dec_deg: Mapped[float | None] = mapped_column(Float)
    public: Mapped[bool] = mapped_column(Boolean, default=False)
    notes: Mapped[str | None] = mapped_column(Text)
    object_type: Mapped[str | None] = mapped_column(String(60))
    magnitude: Mapped[float | None] = mapped_column(Float)
    size_major_arcmin: Mapped[float | None] = mapped_column(Float)
    size_minor_arcmin: Mapped[float | None] = mapped_column(Float)
    position_angle_deg: Mapped[float | None] = mapped_column(Float)  # of the major axis, north through east
    constellation: Mapped[str | None] = mapped_column(String(20))
    catalog_id: Mapped[str | None] = mapped_column(String(60))
    common_names: Mapped[list | None] = mapped_column(JSON)
    tags: Mapped[list | None] = mapped_column(JSON)
    created_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), default=utcnow)


class ImagingPlan(Base):
    """How to image one target: rows of filter × exposure × count, a priority and the sky it needs."""

    __tablename__ = "imaging_plans"
    id: Mapped[int] = mapped_column(primary_key=True)
    target_id: Mapped[int] = mapped_column(ForeignKey("targets.id", ondelete="CASCADE"), index=True)
    priority: Mapped[int] = mapped_column(Integer, default=5)  # 1 most important … 10 least
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    min_altitude_deg: Mapped[float] = mapped_column(Float, default=30.0)
    max_airmass: Mapped[float | None] = mapped_column(Float)
    min_moon_separation_deg: Mapped[float] = mapped_column(Float, default=0.0)
    twilight: Mapped[str] = mapped_column(String(12), default="astronomical")
    max_moon_illumination: Mapped[float | None] = mapped_column(Float)  # 0..1, while the moon is up
    start_date: Mapped[date | None] = mapped_column(Date)  # first night the plan may run
    end_date: Mapped[date | None] = mapped_column(Date)  # last night
    # Time-of-night window in the site's local time; "until" before "from" runs past midnight.
    night_from: Mapped[time | None] = mapped_column(Time)
    night_until: Mapped[time | None] = mapped_column(Time)
    dither_every: Mapped[int | None] = mapped_column(Integer)  # frames; empty: the node's own setting
    focus_at_start: Mapped[bool] = mapped_column(Boolean, default=False, server_default=sa_false())
    focus_every_min: Mapped[float | None] = mapped_column(Float)
    focus_temp_delta: Mapped[float | None] = mapped_column(Float)  # °C
    calib_darks: Mapped[int] = mapped_column(Integer, default=0, server_default="0")  # per exposure used
    calib_flats: Mapped[int] = mapped_column(Integer, default=0, server_default="0")  # per filter used
    flat_exposure_s: Mapped[float | None] = mapped_column(Float)
    notes: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    target: Mapped[Target] = relationship()
    rows: Mapped[list["PlanRow"]] = relationship(back_populates="plan", order_by="PlanRow.id",
                                                 cascade="all, delete-orphan", passive_deletes=True)


class PlanRow(Base):
    __tablename__ = "plan_rows"
    id: Mapped[int] = mapped_column(primary_key=True)
    plan_id: Mapped[int] = mapped_column(ForeignKey("imaging_plans.id", ondelete="CASCADE"), index=True)
    filter_name: Mapped[str | None] = mapped_column(String(60))  # None: no filter
    exposure_s: Mapped[float] = mapped_column(Float)
    count: Mapped[int] = mapped_column(Integer)
    binning: Mapped[int] = mapped_column(Integer, default=1, server_default="1")
    gain: Mapped[float | None] = mapped_column(Float)  # None: the camera's default
    offset: Mapped[float | None] = mapped_column(Float)
    plan: Mapped[ImagingPlan] = relationship(back_populates="rows")


class SentSchedule(Base):
    """A night's schedule as the portal sent it to a telescope node (the job exactly as sent)."""

    __tablename__ = "sent_schedules"
    id: Mapped[int] = mapped_column(primary_key=True)
    job_id: Mapped[str] = mapped_column(String(64), unique=True)
    node_name: Mapped[str] = mapped_column(String(63), index=True)
    night: Mapped[date] = mapped_column(Date)
    site_name: Mapped[str | None] = mapped_column(String(120))
    sent_by: Mapped[str | None] = mapped_column(String(80))
    sent_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    job: Mapped[dict] = mapped_column(JSON)  # ScheduleJob.to_wire()
    replan_reason: Mapped[str | None] = mapped_column(Text)  # None: a first send; else why it replaced the last
    blocks: Mapped[list | None] = mapped_column(JSON)  # [{name, start, end}] as planned when sent (ISO times)


class Node(Base):
    __tablename__ = "nodes"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(63), unique=True)
    role: Mapped[str] = mapped_column(String(20))
    software_version: Mapped[str | None] = mapped_column(String(40))
    state: Mapped[str | None] = mapped_column(String(60))
    spool_backlog: Mapped[int] = mapped_column(Integer, default=0)
    detail: Mapped[dict | None] = mapped_column(JSON)
    last_seen: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    site_id: Mapped[int | None] = mapped_column(ForeignKey("sites.id"))


class Frame(Base):
    __tablename__ = "frames"
    __table_args__ = (
        Index("ix_frames_browse", "night", "target_name", "filter_name"),
        Index("ix_frames_type_accepted", "frame_type", "accepted"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    sha256: Mapped[str] = mapped_column(String(64), unique=True)
    key: Mapped[str] = mapped_column(String(1024))
    size: Mapped[int] = mapped_column(BigInteger)
    original_name: Mapped[str | None] = mapped_column(String(512))
    node_name: Mapped[str | None] = mapped_column(String(63), index=True)
    source: Mapped[str] = mapped_column(String(20), default="node")  # node | import

    frame_type: Mapped[str] = mapped_column(String(12), index=True)
    filter_name: Mapped[str | None] = mapped_column(String(60))
    exposure_s: Mapped[float | None] = mapped_column(Float)
    object_name: Mapped[str | None] = mapped_column(String(200))
    target_name: Mapped[str | None] = mapped_column(String(200))  # normalised for grouping
    target_id: Mapped[int | None] = mapped_column(ForeignKey("targets.id"))
    date_obs: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), index=True)
    night: Mapped[date | None] = mapped_column(Date)
    camera: Mapped[str | None] = mapped_column(String(120))
    telescope: Mapped[str | None] = mapped_column(String(120))
    observer: Mapped[str | None] = mapped_column(String(120))
    site_name: Mapped[str | None] = mapped_column(String(120))
    capture_program: Mapped[str | None] = mapped_column(String(120))
    ccd_temp_c: Mapped[float | None] = mapped_column(Float)
    set_temp_c: Mapped[float | None] = mapped_column(Float)
    binning_x: Mapped[int | None] = mapped_column(Integer)
    binning_y: Mapped[int | None] = mapped_column(Integer)
    gain: Mapped[float | None] = mapped_column(Float)
    offset: Mapped[float | None] = mapped_column(Float)
    ra_deg: Mapped[float | None] = mapped_column(Float)
    dec_deg: Mapped[float | None] = mapped_column(Float)
    site_lat: Mapped[float | None] = mapped_column(Float)
    site_lon: Mapped[float | None] = mapped_column(Float)
    site_elev: Mapped[float | None] = mapped_column(Float)
    focal_length_mm: Mapped[float | None] = mapped_column(Float)
    pixel_size_um: Mapped[float | None] = mapped_column(Float)
    bayer_pattern: Mapped[str | None] = mapped_column(String(8))
    width: Mapped[int | None] = mapped_column(Integer)
    height: Mapped[int | None] = mapped_column(Integer)

    star_count: Mapped[int | None] = mapped_column(Integer)
    hfr_px: Mapped[float | None] = mapped_column(Float)
    fwhm_px: Mapped[float | None] = mapped_column(Float)
    eccentricity: Mapped[float | None] = mapped_column(Float)
    background: Mapped[float | None] = mapped_column(Float)
    noise: Mapped[float | None] = mapped_column(Float)
    accepted: Mapped[bool] = mapped_column(Boolean, default=True)
    reject_reason: Mapped[str | None] = mapped_column(String(300))
    warnings: Mapped[list | None] = mapped_column(JSON)
    # Anonymous visitors may open a public frame in the viewer and download it (set by observers).
    public: Mapped[bool] = mapped_column(Boolean, default=False, server_default=sa_false(), index=True)

    thumb_key: Mapped[str | None] = mapped_column(String(1024))
    preview_key: Mapped[str | None] = mapped_column(String(1024))
    ingested_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, index=True)

    header: Mapped["FrameHeader"] = relationship(back_populates="frame", uselist=False,
                                                  cascade="all, delete-orphan")


class FrameHeader(Base):
    """The raw header as written by the capture program, kept whole and searchable."""

    __tablename__ = "frame_headers"
    frame_id: Mapped[int] = mapped_column(ForeignKey("frames.id", ondelete="CASCADE"), primary_key=True)
    cards: Mapped[list] = mapped_column(JSON)  # [[keyword, value, comment], ...]
    text: Mapped[str] = mapped_column(Text)  # "KEY = value / comment" lines, for search
    frame: Mapped[Frame] = relationship(back_populates="header")


class DeadLetter(Base):
    """A message the master gave up on, with the reason, so nothing vanishes silently."""

    __tablename__ = "dead_letters"
    id: Mapped[int] = mapped_column(primary_key=True)
    queue: Mapped[str] = mapped_column(String(120))
    message_id: Mapped[str | None] = mapped_column(String(64))
    reason: Mapped[str] = mapped_column(Text)
    body: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class JobRecord(Base):
    """The latest word from a telescope node about one schedule job."""

    __tablename__ = "jobs"
    job_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    node_name: Mapped[str] = mapped_column(String(63), index=True)
    state: Mapped[str] = mapped_column(String(20))
    target: Mapped[str | None] = mapped_column(String(200))
    filter_name: Mapped[str | None] = mapped_column(String(60))
    frames_done: Mapped[int | None] = mapped_column(Integer)
    frame_total: Mapped[int | None] = mapped_column(Integer)
    reason: Mapped[str | None] = mapped_column(Text)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)


class SafetyRecord(Base):
    """Safety verdicts as observatory nodes published them (a history, newest last)."""

    __tablename__ = "safety_history"
    id: Mapped[int] = mapped_column(primary_key=True)
    node_name: Mapped[str] = mapped_column(String(63))
    state: Mapped[str] = mapped_column(String(10))
    reasons: Mapped[list | None] = mapped_column(JSON)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    __table_args__ = (Index("ix_safety_node_at", "node_name", "at"),)


class WeatherRecord(Base):
    """Weather readings as observatory nodes published them (every ``publish_every_s``)."""

    __tablename__ = "weather_history"
    id: Mapped[int] = mapped_column(primary_key=True)
    node_name: Mapped[str] = mapped_column(String(63))
    measured_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    values: Mapped[dict] = mapped_column(JSON)
    __table_args__ = (Index("ix_weather_node_at", "node_name", "measured_at"),)


class CloudMapRecord(Base):
    """All-sky cloud maps as observatory nodes published them (one per judged image)."""

    __tablename__ = "cloud_maps"
    id: Mapped[int] = mapped_column(primary_key=True)
    node_name: Mapped[str] = mapped_column(String(63))
    source: Mapped[str] = mapped_column(String(63))
    taken_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    label: Mapped[str] = mapped_column(String(20))
    cloud_fraction: Mapped[float | None] = mapped_column(Float)
    regions: Mapped[list] = mapped_column(JSON)
    __table_args__ = (Index("ix_cloud_maps_node_at", "node_name", "taken_at"),)


class RoofRecord(Base):
    """Roof states as observatory nodes published them (on every change), newest last."""

    __tablename__ = "roof_history"
    id: Mapped[int] = mapped_column(primary_key=True)
    node_name: Mapped[str] = mapped_column(String(63))
    state: Mapped[str] = mapped_column(String(10))
    activity: Mapped[str] = mapped_column(String(20))
    alarm: Mapped[str | None] = mapped_column(Text)
    alarm_level: Mapped[str | None] = mapped_column(String(10))
    mount_parked: Mapped[dict | None] = mapped_column(JSON)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    __table_args__ = (Index("ix_roof_node_at", "node_name", "at"),)


class RoofCommandRecord(Base):
    """A roof command a person sent from the portal, and the node's answer when it came."""

    __tablename__ = "roof_commands"
    command_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    node_name: Mapped[str] = mapped_column(String(63), index=True)
    action: Mapped[str] = mapped_column(String(20))
    user_name: Mapped[str] = mapped_column(String(120))
    sent_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    accepted: Mapped[bool | None] = mapped_column(Boolean)
    reason: Mapped[str | None] = mapped_column(Text)
    answered_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class ApiToken(Base):
    """A bearer token for scripts using /api/v1. Only a SHA-256 of the token is kept."""

    __tablename__ = "api_tokens"
    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(80))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    scope: Mapped[str] = mapped_column(String(10), default="read")  # read | write
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    last_used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    user: Mapped[User] = relationship()


class CatalogLookup(Base):
    """An online name lookup kept so the same name is not asked again (``entries`` empty: not found)."""

    __tablename__ = "catalog_lookups"
    query_key: Mapped[str] = mapped_column(String(200), primary_key=True)  # the name, case and spacing folded
    entries: Mapped[list] = mapped_column(JSON)  # CatalogEntry dicts
    fetched_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


master_inputs = Table(
    "master_inputs", Base.metadata,
    Column("master_id", ForeignKey("masters.id", ondelete="CASCADE"), primary_key=True),
    Column("frame_id", ForeignKey("frames.id", ondelete="CASCADE"), primary_key=True),
)


class MasterFrame(Base):
    """A master calibration frame the library built from ingested frames of one calibration group."""

    __tablename__ = "masters"
    __table_args__ = (
        Index("ix_masters_group", "group_path", "superseded_at"),
        # One master per set of inputs: two workers racing on a group end with one row.
        Index("ux_masters_inputs", "group_path", "inputs_sha256", unique=True),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(12), index=True)  # bias | dark | dark_flat | flat
    group_path: Mapped[str] = mapped_column(String(400))
    camera: Mapped[str | None] = mapped_column(String(120))
    binning_x: Mapped[int | None] = mapped_column(Integer)
    binning_y: Mapped[int | None] = mapped_column(Integer)
    gain: Mapped[float | None] = mapped_column(Float)
    offset: Mapped[float | None] = mapped_column(Float)
    temperature: Mapped[float | None] = mapped_column(Float)  # bucketed set point of the group
    exposure_s: Mapped[float | None] = mapped_column(Float)
    filter_name: Mapped[str | None] = mapped_column(String(60))
    set_temp_c: Mapped[float | None] = mapped_column(Float)  # median set point of the inputs
    date_obs: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))  # median start of the inputs
    n_inputs: Mapped[int] = mapped_column(Integer)
    inputs_sha256: Mapped[str] = mapped_column(String(64))  # of the sorted input sha256s
    key: Mapped[str] = mapped_column(String(1024))
    sha256: Mapped[str] = mapped_column(String(64))
    width: Mapped[int | None] = mapped_column(Integer)
    height: Mapped[int | None] = mapped_column(Integer)
    quality: Mapped[dict | None] = mapped_column(JSON)  # median, noise, rejected fraction, bad pixels
    bias_master_id: Mapped[int | None] = mapped_column(ForeignKey("masters.id"))  # subtracted while building
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    superseded_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    inputs: Mapped[list[Frame]] = relationship(secondary=master_inputs, order_by=Frame.id)


class FrameCalibration(Base):
    """Which masters calibrated a light (the latest calibration), and what was missing."""

    __tablename__ = "frame_calibrations"
    frame_id: Mapped[int] = mapped_column(ForeignKey("frames.id", ondelete="CASCADE"), primary_key=True)
    bias_id: Mapped[int | None] = mapped_column(ForeignKey("masters.id"))
    dark_id: Mapped[int | None] = mapped_column(ForeignKey("masters.id"))
    flat_id: Mapped[int | None] = mapped_column(ForeignKey("masters.id"))
    dark_scale: Mapped[float | None] = mapped_column(Float)
    missing: Mapped[list | None] = mapped_column(JSON)  # warnings: masters that were not found
    calibrated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


live_stack_frames = Table(
    "live_stack_frames", Base.metadata,
    Column("stack_id", ForeignKey("live_stacks.id", ondelete="CASCADE"), primary_key=True),
    Column("frame_id", ForeignKey("frames.id", ondelete="CASCADE"), primary_key=True),
)


class LiveStack(Base):
    """The running stack of one target in one filter on one night."""

    __tablename__ = "live_stacks"
    __table_args__ = (Index("ux_live_stacks", "night", "target_name", "filter_name", unique=True),)
    id: Mapped[int] = mapped_column(primary_key=True)
    night: Mapped[date] = mapped_column(Date)
    target_name: Mapped[str] = mapped_column(String(200))
    filter_name: Mapped[str] = mapped_column(String(60))
    n_frames: Mapped[int] = mapped_column(Integer, default=0)  # also the version for optimistic updates
    state_key: Mapped[str | None] = mapped_column(String(1024))  # running mean + coverage + reference stars
    key: Mapped[str | None] = mapped_column(String(1024))
    preview_key: Mapped[str | None] = mapped_column(String(1024))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
class SerCapture(Base):
    """A raw SER video (a Sol'ex scan) filed in the repository; its products are made by a job."""

    __tablename__ = "ser_captures"
    id: Mapped[int] = mapped_column(primary_key=True)
    sha256: Mapped[str] = mapped_column(String(64), unique=True)
    key: Mapped[str] = mapped_column(String(1024))
    size: Mapped[int] = mapped_column(BigInteger)
    original_name: Mapped[str | None] = mapped_column(String(512))
    node_name: Mapped[str | None] = mapped_column(String(63))
    source: Mapped[str] = mapped_column(String(20), default="node")  # node | import
    width: Mapped[int] = mapped_column(Integer)
    height: Mapped[int] = mapped_column(Integer)
    frame_count: Mapped[int] = mapped_column(Integer)
    pixel_depth: Mapped[int] = mapped_column(Integer)
    color: Mapped[str] = mapped_column(String(20))
    observer: Mapped[str | None] = mapped_column(String(40))
    instrument: Mapped[str | None] = mapped_column(String(40))
    telescope: Mapped[str | None] = mapped_column(String(40))
    start_utc: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    night: Mapped[date | None] = mapped_column(Date)
    state: Mapped[str] = mapped_column(String(12), default="queued")  # queued | done | failed
    reason: Mapped[str | None] = mapped_column(Text)
    ingested_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class PhotometryRun(Base):
    """A request for a light curve: a target, its comparison stars (or automatic) and apertures."""

    __tablename__ = "photometry_runs"
    id: Mapped[int] = mapped_column(primary_key=True)
    target_name: Mapped[str] = mapped_column(String(200), index=True)  # as frames.target_name
    ra_deg: Mapped[float | None] = mapped_column(Float)
    dec_deg: Mapped[float | None] = mapped_column(Float)
    target_x: Mapped[float | None] = mapped_column(Float)  # pixel position for frames without WCS
    target_y: Mapped[float | None] = mapped_column(Float)
    comparisons: Mapped[list | None] = mapped_column(JSON)  # [{name, ra, dec, x, y, mag}]; None: automatic
    aperture_fwhm: Mapped[float] = mapped_column(Float, default=1.75)
    annulus_inner_fwhm: Mapped[float] = mapped_column(Float, default=3.0)
    annulus_outer_fwhm: Mapped[float] = mapped_column(Float, default=5.0)
    filter_name: Mapped[str | None] = mapped_column(String(60))  # None: every filter
    obscode: Mapped[str] = mapped_column(String(20), default="na")
    follow: Mapped[bool] = mapped_column(Boolean, default=False, server_default=sa_false())  # re-run as frames arrive
    state: Mapped[str] = mapped_column(String(12), default="queued")  # queued | running | done | failed
    reason: Mapped[str | None] = mapped_column(Text)
    frames_used: Mapped[int | None] = mapped_column(Integer)
    frames_rejected: Mapped[list | None] = mapped_column(JSON)  # [[frame id, reason], ...]
    created_by: Mapped[str | None] = mapped_column(String(120))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class Product(Base):
    """A science product object (FITS, PNG, CSV, report) and the parameters that made it."""

    __tablename__ = "products"
    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(40))  # solex_fits | solex_png | lightcurve_csv | aavso_extended
    key: Mapped[str] = mapped_column(String(1024), unique=True)
    sha256: Mapped[str] = mapped_column(String(64))
    size: Mapped[int] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    parameters: Mapped[dict] = mapped_column(JSON)
    photometry_run_id: Mapped[int | None] = mapped_column(ForeignKey("photometry_runs.id", ondelete="CASCADE"),
                                                          index=True)
    inputs: Mapped[list["ProductInput"]] = relationship(cascade="all, delete-orphan", passive_deletes=True)


class TransitFitRequest(Base):
    """A transit fit of a photometry run's light curve: its priors, and the fitted values when done."""

    __tablename__ = "transit_fits"
    id: Mapped[int] = mapped_column(primary_key=True)
    photometry_run_id: Mapped[int] = mapped_column(ForeignKey("photometry_runs.id", ondelete="CASCADE"), index=True)
    planet_name: Mapped[str] = mapped_column(String(120), default="na")
    priors: Mapped[dict] = mapped_column(JSON)  # PlanetPriors.to_dict(), limb darkening u1/u2 added
    mcmc_steps: Mapped[int] = mapped_column(Integer, default=0)
    state: Mapped[str] = mapped_column(String(12), default="queued")  # queued | running | done | failed
    reason: Mapped[str | None] = mapped_column(Text)
    result: Mapped[dict | None] = mapped_column(JSON)  # values, errors, depth, duration, chi2, dof, method
    product_id: Mapped[int | None] = mapped_column(ForeignKey("products.id", ondelete="SET NULL"))
    created_by: Mapped[str | None] = mapped_column(String(120))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class ProductInput(Base):
    """One input of a product: a frame or a SER capture (exactly one of the two)."""

    __tablename__ = "product_inputs"
    id: Mapped[int] = mapped_column(primary_key=True)
    product_id: Mapped[int] = mapped_column(ForeignKey("products.id", ondelete="CASCADE"), index=True)
    frame_id: Mapped[int | None] = mapped_column(ForeignKey("frames.id"), index=True)
    ser_capture_id: Mapped[int | None] = mapped_column(ForeignKey("ser_captures.id"), index=True)
