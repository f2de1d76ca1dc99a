"""Reading and writing KStars/EKOS scheduler lists (.esl) and sequence queues (.esq)."""
from __future__ import annotations

import locale
import re
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from common.ekos import (
    Condition, EkosFileError, SchedulerList, SequenceQueue, fmt_number, read_bytes, read_file,
    read_scheduler_list, read_sequence_queue, to_xml, write_file, xmlio,
)
from common.ekos.build import ScheduleError, build_files

FIXTURES = Path(__file__).parent / "fixtures" / "ekos"
ALL_FIXTURES = sorted(p.name for p in FIXTURES.iterdir() if p.suffix in (".esl", ".esq"))


def reread(obj):
    return read_bytes(to_xml(obj).encode("utf-8"), "rewritten")


def test_fixtures_are_there():
    assert len(ALL_FIXTURES) >= 6


@pytest.mark.parametrize("name", ALL_FIXTURES)
def test_round_trip_gives_the_same_model_and_text(name):
    first = read_file(FIXTURES / name)
    text = to_xml(first)
    second = read_bytes(text.encode("utf-8"), "rewritten")
    assert second == first
    assert to_xml(second) == text


@pytest.mark.parametrize("name", ["v14_repeat.esl", "v16_mosaic.esl", "lrgb_v26.esq", "prefix_v20.esq"])
def test_compact_files_are_written_back_byte_for_byte(name):
    original = (FIXTURES / name).read_text(encoding="utf-8")
    assert to_xml(read_file(FIXTURES / name)) == original


def test_scheduler_list_1_4_with_repeat_constraints_and_procedures():
    sl = read_scheduler_list(FIXTURES / "v14_repeat.esl")
    assert (sl.version, sl.profile, len(sl.jobs)) == ("1.4", "Backyard Refractor", 2)
    job = sl.jobs[0]
    assert job.name == "NGC 7000 & Pelican"
    assert job.priority == 5
    assert job.ra_hours == pytest.approx(20.9783)
    assert job.dec_deg == pytest.approx(44.3333)
    assert job.rotation == 12.5 and job.position_angle is None
    assert job.sequence == "/data/seq/ngc7000_ha.esq"
    assert job.startup == Condition("At", "2026-08-01T22:30:00")
    assert job.completion == Condition("Repeat", "3") and job.repeats == 3
    c = job.constraints
    assert (c.min_altitude, c.moon_separation) == (30, 25.5)
    assert c.enforce_weather and c.enforce_twilight and not c.enforce_artificial_horizon
    assert job.steps == ["Track", "Focus", "Align", "Guide"]
    second = sl.jobs[1]
    assert second.completion == Condition("Loop") and second.repeats is None
    assert second.constraints.enforce_artificial_horizon
    assert second.steps == ["Track", "Guide"]
    assert [(p.name, p.value) for p in sl.startup_procedure] == [
        ("StartupScript", "/home/obsy/open_roof.sh"), ("UnparkDome", None), ("UnparkMount", None)]
    assert [p.name for p in sl.shutdown_procedure] == ["WarmCCD", "ParkMount", "ParkDome"]
    assert not sl.extras and not sl.extra_attrs
    assert not any(j.extras or j.extra_attrs for j in sl.jobs)


def test_priority_less_jobs_and_unknown_elements_are_preserved():
    sl = read_scheduler_list(FIXTURES / "v16_mosaic.esl")
    assert [j.priority for j in sl.jobs] == [None, None]
    assert sl.jobs[0].group == "M31 mosaic" and sl.jobs[0].position_angle == 35
    assert sl.jobs[1].fits_file == "/data/solve/m31_part2.fits"
    assert sl.jobs[0].completion == Condition("At", "2026-09-15T04:00:00")
    assert sl.algorithm == 1
    assert (sl.error_handling.strategy, sl.error_handling.delay, sl.error_handling.reschedule_errors) == (2, 300, True)
    # the mosaic block and the unknown root attribute are kept with their place
    assert [(e.parent, e.index) for e in sl.extras] == [("", 1)]
    assert sl.extras[0].xml.startswith("<Mosaic>") and "<GridW>2</GridW>" in sl.extras[0].xml
    assert [(a.name, a.value) for a in sl.extra_attrs] == [("origin", "obsy-test")]
    # per-job unknowns: the tile centre and a constraint the model does not name
    first = sl.jobs[0]
    assert [(e.parent, e.xml.splitlines()[0]) for e in first.extras] == [
        ("", "<TileCenter>"), ("Constraints[1]", "<Constraint value='60'>MaximumMoonAltitude</Constraint>")]
    assert sl.jobs[1].constraints.min_altitude is None
    written = to_xml(sl)
    assert written.index("<Mosaic>") < written.index("<Job>")
    assert "<Constraint value='60'>MaximumMoonAltitude</Constraint>" in written
    assert "<SchedulerList version='1.6' origin='obsy-test'>" in written


def test_preserved_element_whose_parent_was_removed_is_dropped():
    sl = read_scheduler_list(FIXTURES / "v16_mosaic.esl")
    sl.jobs[0].constraints.min_altitude = 50
    sl.jobs[0].steps.append("Guide")
    text = to_xml(sl)
    again = read_scheduler_list_text(text)
    assert again.jobs[0].constraints.min_altitude == 50
    assert again.jobs[0].steps == ["Track", "Align", "Guide"]
    assert again.jobs[0].extras == sl.jobs[0].extras
    sq = read_sequence_queue(FIXTURES / "prefix_v20.esq")
    sq.jobs[0].calibration = None
    assert "<Az>90</Az>" not in to_xml(sq)


def read_scheduler_list_text(text: str) -> SchedulerList:
    result = read_bytes(text.encode("utf-8"), "edited")
    assert isinstance(result, SchedulerList)
    return result


def test_pretty_printed_values_are_stripped():
    sl = read_scheduler_list(FIXTURES / "v21_pretty.esl")
    job = sl.jobs[0]
    assert (sl.version, sl.profile) == ("2.1", "Default")
    assert job.name == "IC 1396" and job.group == ""
    assert (job.ra_hours, job.dec_deg, job.position_angle) == (21.65, 57.5, -90.25)
    assert job.sequence == "/data/seq/ic1396.esq"
    assert job.startup == Condition("ASAP")
    assert job.constraints.min_altitude == 20 and job.constraints.enforce_twilight
    assert job.completion == Condition("Repeat", "4")
    assert job.steps == ["Track", "Guide"]
    assert sl.startup_procedure == [] and [p.name for p in sl.shutdown_procedure] == ["ParkMount"]
    assert [e.xml for e in job.extras] == ["<JobType lead='true'/>", "<OpticalTrain>Main Scope</OpticalTrain>"]
    sq = read_sequence_queue(FIXTURES / "pretty_v26.esq")
    seq = sq.jobs[0]
    assert sq.guide_deviation.enabled and sq.guide_deviation.value == 2
    assert (seq.exposure, seq.bin_x, seq.bin_y, seq.count) == (60, 2, 2, 12)
    assert (seq.temperature, seq.temperature_force) == (-15.5, False)
    assert (seq.filter, seq.frame_type, seq.target_name) == ("H-Alpha", "Light", "IC 1396")
    assert seq.fits_directory == "/data/frames"
    assert seq.gain == 200 and seq.properties == {}


@pytest.mark.parametrize("name", ALL_FIXTURES)
def test_written_values_are_compact(name):
    text = to_xml(read_file(FIXTURES / name))
    assert text.startswith('<?xml version="1.0" encoding="UTF-8"?>\n')
    assert '"' not in text.split("\n", 1)[1].replace("&quot;", "")  # attributes are single-quoted
    root = ET.fromstring(text.encode("utf-8"))
    for elem in root.iter():
        if elem.text is not None and len(elem) == 0 and elem.tag not in xmlio.CONTAINERS:
            assert elem.text == elem.text.strip(), (elem.tag, elem.text)
    assert not re.search(r">[ \t]+\S|\S[ \t]+<", text)


def test_sequence_queue_with_several_jobs_filters_and_gain_locations():
    sq = read_sequence_queue(FIXTURES / "lrgb_v26.esq")
    assert (sq.version, sq.observer, len(sq.jobs)) == ("2.6", "OBSY Test", 4)
    assert sq.guide_deviation.enabled and sq.guide_deviation.value == 1.5
    assert sq.refocus_every_n.value == 45 and sq.refocus_on_temperature_delta.value == 1.5
    assert sq.refocus_on_meridian_flip.enabled and sq.refocus_on_meridian_flip.value is None
    assert [e.xml.splitlines()[0] for e in sq.extras] == ["<HFRCheck enabled='true'>"]
    lum, red, flat, bias = sq.jobs
    assert [j.filter for j in sq.jobs] == ["Luminance", "Red", "Green", None]
    assert [j.frame_type for j in sq.jobs] == ["Light", "Light", "Flat", "Bias"]
    assert (lum.exposure, lum.count, lum.gain, lum.offset) == (120, 30, 100, 30)
    assert (lum.frame.x, lum.frame.y, lum.frame.w, lum.frame.h) == (0, 0, 4144, 2822)
    assert lum.properties == {"CCD_CAPTURE_FORMAT": {"INDI_MONO": "1"}}
    assert lum.placeholder_format == "/%t/%T/%F/%t_%T_%F_%e_%D" and lum.placeholder_suffix == 3
    assert (lum.guide_dither_per_job, lum.format, lum.encoding) == (2, "Mono", "FITS")
    assert (red.exposure, red.bin_x, red.bin_y, red.delay) == (180.5, 2, 2, 1000)
    assert (red.gain, red.gain_location, red.offset, red.offset_location) == (
        139, "CCD_CONTROLS/Gain", 21, "CCD_CONTROLS/Offset")
    assert red.properties == {"CCD_CONTROLS": {"USBLimit": "40"}}
    assert (red.upload_mode, red.remote_directory) == (2, "/mnt/remote")
    cal = flat.calibration
    assert (cal.flat_duration, cal.adu, cal.tolerance, cal.dark, cal.pre_action) == ("ADU", 25000, 1500, True, 1)
    assert {e.parent for e in flat.extras} == {"Calibration[1]/PreAction[1]", "Calibration[1]/FlatDuration[1]"}
    assert (bias.exposure, bias.encoding, bias.gain, bias.offset, bias.calibration) == (0, "XISF", 100, None, None)


def test_older_sequence_queue_with_prefix_and_gain_elements():
    sq = read_sequence_queue(FIXTURES / "prefix_v20.esq")
    assert (sq.ccd, sq.filter_wheel) == ("ZWO CCD ASI294MC Pro", "--")
    assert sq.autofocus.enabled and sq.autofocus.value == 0.35
    assert sq.meridian_flip.value == 0.5
    job = sq.jobs[0]
    assert (job.frame_type, job.temperature, job.temperature_force) == ("Dark", -5.5, True)
    assert (job.prefix.raw_prefix, job.prefix.filter_enabled, job.prefix.exp_enabled) == ("dark_300s", False, True)
    assert (job.gain, job.gain_location, job.offset, job.offset_location) == (120, "GainSpin", 30, "OffsetSpin")
    cal = job.calibration
    assert (cal.flat_source, cal.flat_duration, cal.pre_mount_park, cal.pre_dome_park) == ("Wall", "Manual", True, False)
    job.gain = 90.5
    assert "<GainSpin>90.5</GainSpin>" in to_xml(sq)
    assert reread(sq).jobs[0].gain == 90.5


def test_numbers_use_the_c_locale_whatever_the_process_locale(monkeypatch):
    # Switch to a comma-decimal locale when one is installed; in any case make the
    # locale module report one, so locale-aware formatting would show up here.
    previous = locale.setlocale(locale.LC_ALL)
    for name in ("de_DE.UTF-8", "de_DE.utf8", "fr_FR.UTF-8", "fr_FR.utf8"):
        try:
            locale.setlocale(locale.LC_ALL, name)
            break
        except locale.Error:
            continue
    conv = dict(locale.localeconv(), decimal_point=",", thousands_sep=".", grouping=[3, 3, 0])
    monkeypatch.setattr(locale, "localeconv", lambda: conv)
    try:
        assert locale.str(1.5) == "1,5"  # the patch is in force
        assert fmt_number(1234567.25) == "1234567.25"
        assert fmt_number(0.712319) == "0.712319"
        assert fmt_number(-0.0) == "0" and fmt_number(35.0) == "35" and fmt_number(7) == "7"
        assert fmt_number(1e-7) == "0.0000001"
        assert fmt_number(2e20) == "200000000000000000000"
        sl = read_scheduler_list(FIXTURES / "v14_repeat.esl")
        sl.jobs[0].ra_hours = 5.5 / 3
        sl.jobs[0].constraints.min_altitude = 1234.5
        text = to_xml(sl)
        assert "<J2000RA>1.8333333333</J2000RA>" in text
        assert "<Constraint value='1234.5'>MinimumAltitude</Constraint>" in text
        assert "," not in re.sub(r"<Name>.*</Name>", "", text)
    finally:
        locale.setlocale(locale.LC_ALL, previous)


def test_non_finite_numbers_are_not_written():
    with pytest.raises(ValueError):
        fmt_number(float("nan"))


BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
]>
<SchedulerList version='1.4'><Profile>&lol3;</Profile></SchedulerList>
"""

EXTERNAL_ENTITY = b"""<?xml version="1.0"?>
<!DOCTYPE r [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
<SequenceQueue version='2.6'><Observer>&xxe;</Observer></SequenceQueue>
"""


@pytest.mark.parametrize("data", [BILLION_LAUGHS, EXTERNAL_ENTITY], ids=["billion-laughs", "external-entity"])
def test_entities_are_refused(tmp_path, data):
    path = tmp_path / "evil.esl"
    path.write_bytes(data)
    with pytest.raises(EkosFileError) as info:
        read_file(path)
    assert "refused" in str(info.value) and str(path) in str(info.value)


def test_huge_file_is_refused_before_reading(tmp_path):
    path = tmp_path / "huge.esq"
    with path.open("wb") as handle:
        handle.truncate(xmlio.MAX_FILE_BYTES + 1)  # sparse: no time spent writing
    with pytest.raises(EkosFileError, match="larger than"):
        read_file(path)
    with pytest.raises(EkosFileError, match="larger than"):
        read_bytes(b" " * (xmlio.MAX_FILE_BYTES + 1))


def test_malformed_file_error_names_file_and_line(tmp_path):
    path = tmp_path / "broken.esl"
    path.write_text("<?xml version='1.0'?>\n<SchedulerList version='1.4'>\n<Profile>Default</Profile>\n"
                    "<Job>\n<Name>M 1</Nme>\n</Job>\n</SchedulerList>\n")
    with pytest.raises(EkosFileError) as info:
        read_file(path)
    assert info.value.line == 5
    assert str(info.value).startswith(f"{path}, line 5: malformed XML")


def test_bad_value_error_names_the_element_line(tmp_path):
    path = tmp_path / "bad.esq"
    path.write_text("<SequenceQueue version='2.6'>\n<Job>\n<Exposure>1</Exposure>\n<Count>many</Count>\n"
                    "</Job>\n</SequenceQueue>\n")
    with pytest.raises(EkosFileError, match=r"line 4: Count: 'many' is not a number"):
        read_file(path)


@pytest.mark.parametrize("text, message", [
    ("<Plan/>", "neither <SchedulerList> nor <SequenceQueue>"),
    ("<SchedulerList version='9.1'/>", "version '9.1' is not supported"),
    ("<SequenceQueue version='1.0'/>", "version '1.0' is not supported"),
    ("<SchedulerList version='1.4'><Job><Name>x</Name></Job></SchedulerList>", "no J2000RA"),
    ("<SequenceQueue version='2'><Job><Count>1</Count></Job></SequenceQueue>", "no Exposure"),
])
def test_unreadable_content_is_explained(text, message):
    with pytest.raises(EkosFileError, match=re.escape(message)):
        read_bytes(text.encode(), "x.esl")


def test_missing_file_and_wrong_kind(tmp_path):
    with pytest.raises(EkosFileError, match="cannot read file"):
        read_file(tmp_path / "nothing.esl")
    with pytest.raises(EkosFileError, match="expected a sequence queue"):
        read_sequence_queue(FIXTURES / "v14_repeat.esl")
    with pytest.raises(EkosFileError, match="expected a scheduler list"):
        read_scheduler_list(FIXTURES / "lrgb_v26.esq")


def test_write_file_is_atomic_and_reads_back(tmp_path):
    sq = read_sequence_queue(FIXTURES / "lrgb_v26.esq")
    path = write_file(sq, tmp_path / "sub" / "out.esq")
    assert read_file(path) == sq
    assert [p.name for p in path.parent.iterdir()] == ["out.esq"]
    with pytest.raises(TypeError):
        to_xml({"not": "a model"})


def test_new_models_write_what_kstars_expects():
    sq = SequenceQueue(version="2.6")
    assert to_xml(sq) == "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<SequenceQueue version='2.6'>\n</SequenceQueue>\n"
    sl = SchedulerList()
    assert "<StartupProcedure>\n</StartupProcedure>" in to_xml(sl)


SCHEDULE = {
    "capture_dir": "/data/frames",
    "targets": [
        {"name": "M 31", "ra_deg": 10.684708, "dec_deg": 41.26875, "min_altitude": 30,
         "exposures": [
             {"filter": "L", "exposure_s": 120, "count": 20, "binning": 1, "gain": 100, "offset": 30},
             {"filter": "Ha", "exposure_s": 300.5, "count": 10, "binning": 2, "gain": 200},
         ]},
        {"name": "M/27?", "ra_deg": 299.901579, "dec_deg": 22.721083, "steps": ["Track", "Guide"], "repeat": 2,
         "exposures": [{"filter": "OIII", "exposure_s": 600, "count": 6}]},
    ],
}


def test_builder_output_parses_back(tmp_path):
    esl, sequences = build_files(SCHEDULE, tmp_path / "out")
    assert esl == (tmp_path / "out" / "schedule.esl").resolve()
    assert set(sequences) == {"M 31", "M/27?"}
    assert sequences["M/27?"].name == "M_27.esq"
    sl = read_scheduler_list(esl)
    assert sl.version == "1.6" and [j.priority for j in sl.jobs] == [None, None]
    m31, m27 = sl.jobs
    assert m31.ra_hours == pytest.approx(10.684708 / 15, abs=1e-9)
    assert m27.ra_hours == pytest.approx(19.9934386, abs=1e-6)
    assert m31.dec_deg == pytest.approx(41.26875)
    assert m31.constraints.min_altitude == 30 and m31.constraints.enforce_twilight
    assert m27.constraints.min_altitude is None
    assert m31.completion == Condition("Sequence") and m27.completion == Condition("Repeat", "2")
    assert m27.steps == ["Track", "Guide"] and m31.steps == ["Track", "Focus", "Align", "Guide"]
    assert m31.sequence == str(sequences["M 31"]) and Path(m31.sequence).is_absolute()
    assert [p.name for p in sl.startup_procedure] == ["UnparkMount"]
    assert [p.name for p in sl.shutdown_procedure] == ["ParkMount"]
    sq = read_sequence_queue(sequences["M 31"])
    assert [(j.filter, j.exposure, j.count, j.bin_x, j.bin_y, j.gain, j.offset) for j in sq.jobs] == [
        ("L", 120, 20, 1, 1, 100, 30), ("Ha", 300.5, 10, 2, 2, 200, None)]
    assert {j.fits_directory for j in sq.jobs} == {"/data/frames"}
    assert {j.target_name for j in sq.jobs} == {"M 31"}
    text = sequences["M 31"].read_text()
    assert "<PropertyVector name='CCD_GAIN'>\n<OneElement name='GAIN'>100</OneElement>" in text


@pytest.mark.parametrize("change, message", [
    ({"capture_dir": ""}, "capture_dir"),
    ({"targets": []}, "targets"),
    ({"targets": [{"name": "A", "ra_deg": 360, "dec_deg": 0, "exposures": [{"exposure_s": 1, "count": 1}]}]},
     "targets.0.ra_deg"),
    ({"targets": [{"name": "A", "ra_deg": 1, "dec_deg": 0, "exposures": []}]}, "targets.0.exposures"),
    ({"targets": [{"name": "A", "ra_deg": 1, "dec_deg": 0, "exposures": [{"exposure_s": 1, "count": 1}]}] * 2},
     "repeated: A"),
])
def test_builder_rejects_bad_schedules(tmp_path, change, message):
    with pytest.raises(ScheduleError, match=re.escape(message)):
        build_files({**SCHEDULE, **change}, tmp_path)


def test_builder_keeps_file_names_apart(tmp_path):
    row = [{"exposure_s": 1, "count": 1}]
    schedule = {"capture_dir": "/d", "targets": [
        {"name": "A b", "ra_deg": 1, "dec_deg": 0, "exposures": row},
        {"name": "A_b", "ra_deg": 2, "dec_deg": 0, "exposures": row},
        {"name": "schedule", "ra_deg": 3, "dec_deg": 0, "exposures": row},
        {"name": "***", "ra_deg": 4, "dec_deg": 0, "exposures": row}]}
    _, sequences = build_files(schedule, tmp_path)
    assert [p.name for p in sequences.values()] == ["A_b.esq", "A_b-2.esq", "schedule-2.esq", "target.esq"]


MINIMAL_ESL = b"""<SchedulerList version='2'>
<Job><Name>Bare</Name><Coordinates><J2000RA>1</J2000RA><J2000DE>2</J2000DE></Coordinates>
<CompletionCondition></CompletionCondition></Job>
</SchedulerList>"""

MINIMAL_ESQ = b"""<SequenceQueue version='2.1'>
<Job><Exposure>1</Exposure><Count></Count><Prefix><RawPrefix>x</RawPrefix></Prefix></Job>
</SequenceQueue>"""


def test_minimal_files_keep_what_is_absent_absent():
    sl = read_bytes(MINIMAL_ESL, "minimal.esl")
    job = sl.jobs[0]
    assert (sl.profile, sl.startup_procedure, sl.shutdown_procedure, sl.algorithm) == (None, None, None, None)
    assert (job.startup, job.completion, job.steps, job.sequence) == (None, Condition(""), [], None)
    text = to_xml(sl)
    assert "StartupCondition" not in text and "Procedure" not in text and "<CompletionCondition>\n</" in text
    assert reread(sl) == sl
    sq = read_bytes(MINIMAL_ESQ, "minimal.esq")
    seq = sq.jobs[0]
    assert (seq.properties, seq.calibration, seq.frame, seq.filter, seq.count) == (None, None, None, None, 0)
    assert (seq.prefix.raw_prefix, seq.prefix.filter_enabled) == ("x", False)
    assert "Properties" not in to_xml(sq)
    assert reread(sq) == sq


@pytest.mark.parametrize("value, message", [("inf", "not a finite number"), ("1.5", "not a whole number")])
def test_impossible_numbers_are_refused(value, message):
    data = f"<SequenceQueue version='2'><Job><Exposure>1</Exposure><Count>{value}</Count></Job></SequenceQueue>"
    with pytest.raises(EkosFileError, match=message):
        read_bytes(data.encode())


def test_unwritable_and_unreadable_paths(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(EkosFileError, match="cannot write file"):
        write_file(SequenceQueue(), blocker / "out.esq")
    with pytest.raises(EkosFileError, match="cannot read file"):
        read_file(tmp_path)  # a directory
    assert fmt_number(True) == "1"


def test_builder_accepts_a_schedule_model(tmp_path):
    from common.ekos.build import ObsySchedule

    plan = ObsySchedule.model_validate({**SCHEDULE, "park_mount": False, "unpark_mount": False})
    esl, _ = build_files(plan, tmp_path)
    sl = read_scheduler_list(esl)
    assert sl.startup_procedure == [] and sl.shutdown_procedure == []
