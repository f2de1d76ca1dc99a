"""Read and write ``.esl`` / ``.esq`` files through the model.

``read_file`` takes either kind and tells them apart by the root element;
``to_xml`` / ``write_file`` write what KStars parses.
"""
from __future__ import annotations

import os
import re
import tempfile
import xml.etree.ElementTree as ET
from pathlib import Path

from .model import (
    QUEUE_TOGGLES, Calibration, Condition, ErrorHandling, Frame, Prefix, Procedure,
    SchedulerJob, SchedulerList, SequenceJob, SequenceQueue, Toggle,
)
from .xmlio import (
    Document, EkosFileError, Tracker, add, fmt_bool, fmt_number, parse_bytes, parse_file, restore,
    serialize,
)

SCHEDULER_VERSIONS = re.compile(r"^(1\.[0-9]+|2(\.[0-9]+)?)$")
SEQUENCE_VERSIONS = re.compile(r"^2(\.[0-9]+)?$")

_CONSTRAINT_VALUES = {"MinimumAltitude": "min_altitude", "MoonSeparation": "moon_separation"}
_CONSTRAINT_FLAGS = {
    "EnforceWeather": "enforce_weather",
    "EnforceTwilight": "enforce_twilight",
    "EnforceArtificialHorizon": "enforce_artificial_horizon",
}


# ---------------------------------------------------------------- reading


def read_file(path: str | Path) -> SchedulerList | SequenceQueue:
    """Read a scheduler list or a sequence queue; ``EkosFileError`` says what is wrong and where."""
    return _from_document(parse_file(path))


def read_bytes(data: bytes, name: str = "<input>") -> SchedulerList | SequenceQueue:
    return _from_document(parse_bytes(data, name))


def read_scheduler_list(path: str | Path) -> SchedulerList:
    result = read_file(path)
    if not isinstance(result, SchedulerList):
        raise EkosFileError("expected a scheduler list (<SchedulerList>), found a sequence queue", path)
    return result


def read_sequence_queue(path: str | Path) -> SequenceQueue:
    result = read_file(path)
    if not isinstance(result, SequenceQueue):
        raise EkosFileError("expected a sequence queue (<SequenceQueue>), found a scheduler list", path)
    return result


def _from_document(doc: Document) -> SchedulerList | SequenceQueue:
    tracker = Tracker(doc)
    root = doc.root
    version = tracker.attr(root, "version") or ""
    if root.tag == "SchedulerList":
        if not SCHEDULER_VERSIONS.match(version):
            raise tracker.error(f"SchedulerList version {version!r} is not supported (1.x and 2.x are)", root)
        return _read_scheduler_list(tracker, root, version)
    if root.tag == "SequenceQueue":
        if not SEQUENCE_VERSIONS.match(version):
            raise tracker.error(f"SequenceQueue version {version!r} is not supported (2.x is)", root)
        return _read_sequence_queue(tracker, root, version)
    raise tracker.error(f"root element <{root.tag}> is neither <SchedulerList> nor <SequenceQueue>", root)


def _condition(t: Tracker, parent: ET.Element, tag: str) -> Condition | None:
    holder = t.child(parent, tag)
    if holder is None:
        return None
    elem = t.child(holder, "Condition")
    if elem is None:
        return Condition(kind="")
    return Condition(kind=t.own_text(elem), value=t.attr(elem, "value"))


def _procedures(t: Tracker, parent: ET.Element, tag: str) -> list[Procedure] | None:
    holder = t.child(parent, tag)
    if holder is None:
        return None
    return [Procedure(t.own_text(elem), t.attr(elem, "value")) for elem in t.children(holder, "Procedure")]


def _read_scheduler_list(t: Tracker, root: ET.Element, version: str) -> SchedulerList:
    job_elems = t.children(root, "Job")
    result = SchedulerList(
        version=version,
        profile=t.text(root, "Profile"),
        jobs=[_read_scheduler_job(t, elem) for elem in job_elems],
        startup_procedure=_procedures(t, root, "StartupProcedure"),
        shutdown_procedure=_procedures(t, root, "ShutdownProcedure"),
    )
    algorithm = t.child(root, "SchedulerAlgorithm")
    if algorithm is not None:
        result.algorithm = t.to_int(t.attr(algorithm, "value"), algorithm, "SchedulerAlgorithm value")
    strategy = t.child(root, "ErrorHandlingStrategy")
    if strategy is not None:
        result.error_handling = ErrorHandling(
            strategy=t.to_int(t.attr(strategy, "value"), strategy, "ErrorHandlingStrategy value"),
            delay=t.integer(strategy, "delay"),
            reschedule_errors=t.child(strategy, "RescheduleErrors") is not None,
        )
    result.extras, result.extra_attrs = t.leftovers(root, skip=tuple(job_elems))
    return result


def _read_scheduler_job(t: Tracker, elem: ET.Element) -> SchedulerJob:
    coords = t.child(elem, "Coordinates")
    ra = t.number(coords, "J2000RA")
    dec = t.number(coords, "J2000DE")
    if ra is None or dec is None:
        raise t.error("job has no J2000RA/J2000DE coordinates", elem)
    job = SchedulerJob(
        name=t.text(elem, "Name") or "",
        ra_hours=ra,
        dec_deg=dec,
        priority=t.integer(elem, "Priority"),
        group=t.text(elem, "Group"),
        position_angle=t.number(elem, "PositionAngle"),
        rotation=t.number(elem, "Rotation"),
        fits_file=t.text(elem, "FITS"),
        sequence=t.text(elem, "Sequence"),
        startup=_condition(t, elem, "StartupCondition"),
        completion=_condition(t, elem, "CompletionCondition"),
    )
    for constraint in t.children(t.child(elem, "Constraints"), "Constraint"):
        name = t.own_text(constraint)
        if name in _CONSTRAINT_VALUES:
            value = t.to_float(t.attr(constraint, "value"), constraint, f"{name} value")
            setattr(job.constraints, _CONSTRAINT_VALUES[name], value)
        elif name in _CONSTRAINT_FLAGS:
            setattr(job.constraints, _CONSTRAINT_FLAGS[name], True)
        else:
            t.used.discard(id(constraint))  # kept as it is
    steps = t.child(elem, "Steps")
    job.steps = [t.own_text(step) for step in t.children(steps, "Step")]
    job.extras, job.extra_attrs = t.leftovers(elem)
    return job


def _toggle(t: Tracker, parent: ET.Element, tag: str) -> Toggle | None:
    elem = t.child(parent, tag)
    if elem is None:
        return None
    enabled = (t.attr(elem, "enabled") or "").lower() == "true"
    return Toggle(enabled=enabled, value=t.to_float(t.own_text(elem), elem, tag))


def _read_sequence_queue(t: Tracker, root: ET.Element, version: str) -> SequenceQueue:
    job_elems = t.children(root, "Job")
    result = SequenceQueue(
        version=version,
        observer=t.text(root, "Observer"),
        ccd=t.text(root, "CCD"),
        filter_wheel=t.text(root, "FilterWheel"),
        jobs=[_read_sequence_job(t, elem) for elem in job_elems],
    )
    for attribute, tag in QUEUE_TOGGLES:
        setattr(result, attribute, _toggle(t, root, tag))
    result.extras, result.extra_attrs = t.leftovers(root, skip=tuple(job_elems))
    return result


def _flag(t: Tracker, parent: ET.Element, tag: str) -> bool:
    elem = t.child(parent, tag)
    if elem is None:
        return False
    return t.own_text(elem).lower() in ("1", "true")


def _read_sequence_job(t: Tracker, elem: ET.Element) -> SequenceJob:
    exposure = t.number(elem, "Exposure")
    if exposure is None:
        raise t.error("sequence job has no Exposure", elem)
    job = SequenceJob(
        exposure=exposure,
        count=t.integer(elem, "Count") or 0,
        filter=t.text(elem, "Filter"),
        frame_type=t.text(elem, "Type") or "Light",
        delay=t.number(elem, "Delay"),
        format=t.text(elem, "Format"),
        encoding=t.text(elem, "Encoding"),
        target_name=t.text(elem, "TargetName"),
        guide_dither_per_job=t.integer(elem, "GuideDitherPerJob"),
        fits_directory=t.text(elem, "FITSDirectory"),
        remote_directory=t.text(elem, "RemoteDirectory"),
        placeholder_format=t.text(elem, "PlaceholderFormat"),
        placeholder_suffix=t.integer(elem, "PlaceholderSuffix"),
        upload_mode=t.integer(elem, "UploadMode"),
        format_index=t.integer(elem, "FormatIndex"),
    )
    binning = t.child(elem, "Binning")
    if binning is not None:
        job.bin_x = t.integer(binning, "X") or 1
        job.bin_y = t.integer(binning, "Y") or 1
    frame = t.child(elem, "Frame")
    if frame is not None:
        job.frame = Frame(*(t.integer(frame, tag) or 0 for tag in ("X", "Y", "W", "H")))
    temperature = t.child(elem, "Temperature")
    if temperature is not None:
        job.temperature = t.to_float(t.own_text(temperature), temperature, "Temperature")
        force = t.attr(temperature, "force")
        job.temperature_force = None if force is None else force.lower() == "true"
    prefix = t.child(elem, "Prefix")
    if prefix is not None:
        job.prefix = Prefix(
            raw_prefix=t.text(prefix, "RawPrefix") or "",
            filter_enabled=_flag(t, prefix, "FilterEnabled"),
            exp_enabled=_flag(t, prefix, "ExpEnabled"),
            timestamp_enabled=_flag(t, prefix, "TimeStampEnabled"),
        )
    _read_gain_offset(t, elem, job)
    calibration = t.child(elem, "Calibration")
    if calibration is not None:
        source = t.child(calibration, "FlatSource")
        duration = t.child(calibration, "FlatDuration")
        dark = t.attr(duration, "dark")
        job.calibration = Calibration(
            flat_source=t.text(source, "Type"),
            flat_duration=t.text(duration, "Type"),
            adu=t.number(duration, "Value"),
            tolerance=t.number(duration, "Tolerance"),
            dark=None if dark is None else dark.lower() == "true",
            pre_action=t.integer(t.child(calibration, "PreAction"), "Type"),
            pre_mount_park=_true_false(t, calibration, "PreMountPark"),
            pre_dome_park=_true_false(t, calibration, "PreDomePark"),
        )
    job.extras, job.extra_attrs = t.leftovers(elem)
    return job


def _true_false(t: Tracker, parent: ET.Element, tag: str) -> bool | None:
    text = t.text(parent, tag)
    return None if text is None else text.lower() in ("true", "1")


def _is_control(vector: str, element: str, word: str) -> bool:
    return element.lower() == word and vector in (f"CCD_{word.upper()}", "CCD_CONTROLS")


def _read_gain_offset(t: Tracker, elem: ET.Element, job: SequenceJob) -> None:
    properties = t.child(elem, "Properties")
    if properties is None:
        job.properties = None
    else:
        taken: set[str] = set()
        for vector in t.children(properties, "PropertyVector"):
            vector_name = t.attr(vector, "name") or ""
            values = job.properties.setdefault(vector_name, {})
            for one in t.children(vector, "OneElement"):
                element_name = t.attr(one, "name") or ""
                text = t.own_text(one)
                if _is_control(vector_name, element_name, "gain") and job.gain is None:
                    job.gain = t.to_float(text, one, "gain")
                    job.gain_location = f"{vector_name}/{element_name}"
                    taken.add(vector_name)
                elif _is_control(vector_name, element_name, "offset") and job.offset is None:
                    job.offset = t.to_float(text, one, "offset")
                    job.offset_location = f"{vector_name}/{element_name}"
                    taken.add(vector_name)
                else:
                    values[element_name] = text
            if not values and vector_name in taken:
                del job.properties[vector_name]  # rebuilt from gain/offset on writing
    for tag in ("Gain", "GainSpin"):
        if job.gain is None and elem.find(tag) is not None:
            job.gain, job.gain_location = t.number(elem, tag), tag
    for tag in ("Offset", "OffsetSpin"):
        if job.offset is None and elem.find(tag) is not None:
            job.offset, job.offset_location = t.number(elem, tag), tag


# ---------------------------------------------------------------- writing


def to_xml(obj: SchedulerList | SequenceQueue) -> str:
    """The file text KStars reads for a scheduler list or a sequence queue."""
    if isinstance(obj, SchedulerList):
        return serialize(_scheduler_list_element(obj))
    if isinstance(obj, SequenceQueue):
        return serialize(_sequence_queue_element(obj))
    raise TypeError(f"cannot write {type(obj).__name__} as an EKOS file")


def write_file(obj: SchedulerList | SequenceQueue, path: str | Path) -> Path:
    """Write atomically (temporary file, then rename) so KStars never sees half a file."""
    path = Path(path)
    text = to_xml(obj)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        handle, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
        with os.fdopen(handle, "w", encoding="utf-8", newline="\n") as out:
            out.write(text)
        os.replace(tmp, path)
    except OSError as exc:
        raise EkosFileError(f"cannot write file: {exc.strerror or exc}", path) from None
    return path


def _write_condition(parent: ET.Element, tag: str, condition: Condition | None) -> None:
    if condition is None:
        return
    holder = add(parent, tag)
    if condition.kind:
        add(holder, "Condition", condition.kind, value=condition.value)


def _write_procedures(parent: ET.Element, tag: str, procedures: list[Procedure] | None) -> None:
    if procedures is None:
        return
    holder = add(parent, tag)
    for procedure in procedures:
        add(holder, "Procedure", procedure.name, value=procedure.value)


def _scheduler_list_element(sl: SchedulerList) -> ET.Element:
    root = ET.Element("SchedulerList", {"version": sl.version})
    if sl.profile is not None:
        add(root, "Profile", sl.profile)
    for job in sl.jobs:
        root.append(_scheduler_job_element(job))
    if sl.algorithm is not None:
        add(root, "SchedulerAlgorithm", value=fmt_number(sl.algorithm))
    if sl.error_handling is not None:
        handling = sl.error_handling
        strategy = add(root, "ErrorHandlingStrategy",
                       value=None if handling.strategy is None else fmt_number(handling.strategy))
        if handling.reschedule_errors:
            add(strategy, "RescheduleErrors")
        if handling.delay is not None:
            add(strategy, "delay", handling.delay)
    _write_procedures(root, "StartupProcedure", sl.startup_procedure)
    _write_procedures(root, "ShutdownProcedure", sl.shutdown_procedure)
    restore(root, sl.extras, sl.extra_attrs)
    return root


def _scheduler_job_element(job: SchedulerJob) -> ET.Element:
    elem = ET.Element("Job")
    add(elem, "Name", job.name)
    if job.group is not None:
        add(elem, "Group", job.group)
    if job.priority is not None:
        add(elem, "Priority", job.priority)
    coords = add(elem, "Coordinates")
    add(coords, "J2000RA", job.ra_hours)
    add(coords, "J2000DE", job.dec_deg)
    if job.fits_file is not None:
        add(elem, "FITS", job.fits_file)
    if job.position_angle is not None:
        add(elem, "PositionAngle", job.position_angle)
    if job.rotation is not None:
        add(elem, "Rotation", job.rotation)
    if job.sequence is not None:
        add(elem, "Sequence", job.sequence)
    _write_condition(elem, "StartupCondition", job.startup)
    constraints = add(elem, "Constraints")
    c = job.constraints
    if c.min_altitude is not None:
        add(constraints, "Constraint", "MinimumAltitude", value=fmt_number(c.min_altitude))
    if c.moon_separation is not None:
        add(constraints, "Constraint", "MoonSeparation", value=fmt_number(c.moon_separation))
    for name, attribute in _CONSTRAINT_FLAGS.items():
        if getattr(c, attribute):
            add(constraints, "Constraint", name)
    _write_condition(elem, "CompletionCondition", job.completion)
    steps = add(elem, "Steps")
    for step in job.steps:
        add(steps, "Step", step)
    restore(elem, job.extras, job.extra_attrs)
    return elem


def _sequence_queue_element(sq: SequenceQueue) -> ET.Element:
    root = ET.Element("SequenceQueue", {"version": sq.version})
    for tag, value in (("Observer", sq.observer), ("CCD", sq.ccd), ("FilterWheel", sq.filter_wheel)):
        if value is not None:
            add(root, tag, value)
    for attribute, tag in QUEUE_TOGGLES:
        toggle = getattr(sq, attribute)
        if toggle is not None:
            add(root, tag, "" if toggle.value is None else toggle.value, enabled=fmt_bool(toggle.enabled))
    for job in sq.jobs:
        root.append(_sequence_job_element(job))
    restore(root, sq.extras, sq.extra_attrs)
    return root


def _optional(parent: ET.Element, tag: str, value) -> None:
    if value is not None:
        add(parent, tag, value)


def _sequence_job_element(job: SequenceJob) -> ET.Element:
    elem = ET.Element("Job")
    add(elem, "Exposure", job.exposure)
    _optional(elem, "Format", job.format)
    _optional(elem, "Encoding", job.encoding)
    binning = add(elem, "Binning")
    add(binning, "X", job.bin_x)
    add(binning, "Y", job.bin_y)
    if job.frame is not None:
        frame = add(elem, "Frame")
        for tag in ("X", "Y", "W", "H"):
            add(frame, tag, getattr(job.frame, tag.lower()))
    if job.temperature is not None or job.temperature_force is not None:
        add(elem, "Temperature", "" if job.temperature is None else job.temperature,
            force=None if job.temperature_force is None else fmt_bool(job.temperature_force))
    _optional(elem, "Filter", job.filter)
    add(elem, "Type", job.frame_type)
    if job.prefix is not None:
        prefix = add(elem, "Prefix")
        add(prefix, "RawPrefix", job.prefix.raw_prefix)
        add(prefix, "FilterEnabled", int(job.prefix.filter_enabled))
        add(prefix, "ExpEnabled", int(job.prefix.exp_enabled))
        add(prefix, "TimeStampEnabled", int(job.prefix.timestamp_enabled))
    add(elem, "Count", job.count)
    _optional(elem, "Delay", job.delay)
    _optional(elem, "TargetName", job.target_name)
    _optional(elem, "GuideDitherPerJob", job.guide_dither_per_job)
    _optional(elem, "FITSDirectory", job.fits_directory)
    _optional(elem, "PlaceholderFormat", job.placeholder_format)
    _optional(elem, "PlaceholderSuffix", job.placeholder_suffix)
    _optional(elem, "UploadMode", job.upload_mode)
    _optional(elem, "RemoteDirectory", job.remote_directory)
    _optional(elem, "FormatIndex", job.format_index)
    properties: dict[str, dict[str, str]] = {k: dict(v) for k, v in (job.properties or {}).items()}
    for value, location in ((job.gain, job.gain_location), (job.offset, job.offset_location)):
        if value is None:
            continue
        if "/" in location:
            vector, element = location.split("/", 1)
            properties.setdefault(vector, {})[element] = fmt_number(value)
        else:
            add(elem, location, value)
    if job.properties is not None or properties:
        holder = add(elem, "Properties")
        # KStars keeps these in a QMap and so writes them sorted by name; so do we.
        for vector, elements in sorted(properties.items()):
            vector_elem = add(holder, "PropertyVector", name=vector)
            for element, text in sorted(elements.items()):
                add(vector_elem, "OneElement", text, name=element)
    if job.calibration is not None:
        cal = job.calibration
        calibration = add(elem, "Calibration")
        if cal.pre_action is not None:
            add(add(calibration, "PreAction"), "Type", cal.pre_action)
        if cal.flat_source is not None:
            add(add(calibration, "FlatSource"), "Type", cal.flat_source)
        if cal.flat_duration is not None or cal.dark is not None or cal.adu is not None:
            duration = add(calibration, "FlatDuration", dark=None if cal.dark is None else fmt_bool(cal.dark))
            _optional(duration, "Type", cal.flat_duration)
            _optional(duration, "Value", cal.adu)
            _optional(duration, "Tolerance", cal.tolerance)
        for tag, value in (("PreMountPark", cal.pre_mount_park), ("PreDomePark", cal.pre_dome_park)):
            if value is not None:
                add(calibration, tag, "True" if value else "False")
    restore(elem, job.extras, job.extra_attrs)
    return elem
