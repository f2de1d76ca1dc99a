"""Target lists in and out: KStars/OAL XML with its namespaces and encodings, CSV in its spellings, and
what an import does with bad entries and duplicates."""
from __future__ import annotations

import io
import math
from pathlib import Path

import pytest

from master.models import Target
from master.target_files import TargetFileError, parse_csv, parse_oal, parse_target_file
from master.target_import import _separation_deg, import_targets
from master.targets import export_csv

KSTARS_LIST = Path(__file__).parent / "fixtures" / "targets" / "kstars_session.obslist"
VEGA_J2000 = (279.234735, 38.783689)  # SIMBAD, ICRS

GENERIC_OAL = """<?xml version="1.0" encoding="ISO-8859-1"?>
<observations xmlns="http://groups.google.com/group/openastronomylog"
    xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" version="2.1">
  <targets>
    <target id="t1" xsi:type="oal:deepSkyGX">
      <datasource>Deepsky log</datasource>
      <name>Feuerrad-Galaxie</name>
      <alias>NGC 6946</alias><alias>Caldwell 12</alias>
      <position>
        <ra unit="deg">308.7180</ra><dec unit="deg">60.1539</dec>
        <frame><origin>geo</origin><equinox>J2000</equinox></frame>
      </position>
      <constellation>Cep</constellation>
      <notes>M\xe4rz: zu tief</notes>
      <visMag>9.6</visMag>
      <smallDiameter unit="arcsec">690</smallDiameter>
      <largeDiameter unit="arcmin">11.5</largeDiameter>
      <pa>241</pa>
    </target>
    <target id="t2" xsi:type="oal:deepSkyOC">
      <name>Broken one</name>
      <position><ra unit="furlong">1</ra><dec unit="deg">2</dec></position>
    </target>
    <target id="t3" xsi:type="oal:CometTargetType"><name>C/2023 A3</name></target>
  </targets>
</observations>
""".encode("latin-1")


def oal(targets: str, root_attrs: str = 'xmlns:oal="http://observation.sourceforge.net/openastronomylog"') -> str:
    return f'<?xml version="1.0"?>\n<oal:observations {root_attrs} version="2.0"><targets>{targets}</targets></oal:observations>\n'


def star(name: str, ra_rad: float, dec_rad: float, notes: str = "") -> str:
    return (f'<target id="{name}" type="Star"><datasource><![CDATA[KStars]]></datasource><name><![CDATA[{name}]]></name>'
            f'<position><ra unit="rad">{ra_rad}</ra><dec unit="rad">{dec_rad}</dec></position>'
            f'<notes><![CDATA[{notes}]]></notes></target>')


def test_a_kstars_observing_list_as_kstars_saves_it(services):
    parsed = parse_target_file(KSTARS_LIST.read_bytes(), "session.obslist")
    assert [p.name for p in parsed] == ["M 31", "M 42", "NGC 7000", "Vega", "Jupiter"]
    assert parsed[4].error == "a Planet moves on the sky and cannot be a fixed target"
    # KStars stores places of date: Vega's is 20' from its J2000 place, and is brought back to J2000.
    vega = parsed[3].fields
    assert _separation_deg(vega["ra_deg"], vega["dec_deg"], *VEGA_J2000) * 3600 < 2.0
    raw_ra, raw_dec = math.degrees(4.87742), math.degrees(0.677336)
    assert _separation_deg(raw_ra, raw_dec, *VEGA_J2000) * 60 > 10
    with services.sessions() as session:
        refused = import_targets(session, parsed)
        assert not refused.applied and refused.errors == [
            "target 5 (Jupiter): a Planet moves on the sky and cannot be a fixed target"]
        assert "nothing imported" in refused.summary() and session.query(Target).count() == 0
        report = import_targets(session, parse_oal(KSTARS_LIST.read_bytes()), skip_bad=True, tags=["kstars"])
        session.commit()
        assert report.added == ["M 31", "M 42", "NGC 7000", "Vega"] and report.summary() == "4 added, 1 bad, skipped"
        m31 = session.query(Target).filter_by(name="M 31").one()
        # Completed from OpenNGC: J2000 place, magnitude, size, catalogue id; notes and type from the list.
        assert m31.ra_deg == pytest.approx(10.6848, abs=1e-3) and m31.dec_deg == pytest.approx(41.2691, abs=1e-3)
        assert (m31.object_type, m31.magnitude, m31.size_major_arcmin, m31.size_minor_arcmin) == ("Galaxy", 0.98, 177.83, 69.66)
        assert m31.catalog_id == "NGC0224" and m31.constellation == "And" and m31.tags == ["kstars"]
        assert m31.position_angle_deg == 35
        assert m31.notes == "Andromède: try the 2-panel mosaic" and m31.public is False
        vega = session.query(Target).filter_by(name="Vega").one()
        assert (vega.object_type, vega.constellation, vega.notes, vega.catalog_id) == ("Star", "Lyr", "focus star", None)


def test_importing_a_list_again_skips_or_updates_what_is_there(services):
    with services.sessions() as session:
        import_targets(session, parse_oal(KSTARS_LIST.read_bytes()), skip_bad=True)
        session.commit()
    edited = KSTARS_LIST.read_text().replace("Ha only", "Ha and OIII").replace("<name><![CDATA[M 42]]>",
                                                                               "<name><![CDATA[m42]]>")
    with services.sessions() as session:
        again = import_targets(session, parse_oal(edited.encode()), skip_bad=True)
        assert again.added == [] and len(again.skipped) == 4
        assert "target 2 (m42): already a target (M 42); left as it is" in again.skipped
        updated = import_targets(session, parse_oal(edited.encode()), skip_bad=True, update=True, tags=["winter"])
        session.commit()
        assert sorted(updated.updated) == ["M 31", "M 42", "NGC 7000", "Vega"] and session.query(Target).count() == 4
        ngc = session.query(Target).filter_by(name="NGC 7000").one()
        assert ngc.notes == "Ha and OIII" and ngc.tags == ["winter"]


def test_the_same_object_twice_in_one_file_is_imported_once(services):
    text = oal(star("Vega", 4.87742, 0.677336) + star("vega", 4.87742, 0.677336) + star("Deneb", 5.42, 0.79))
    with services.sessions() as session:
        report = import_targets(session, parse_oal(text.encode()))
        assert report.added == ["Vega", "Deneb"]
        assert report.skipped == ["target 2 (vega): the same object as target 1 (Vega) in this file"]


def test_generic_oal_with_a_default_namespace_a_declared_latin1_encoding_and_units(services):
    parsed = parse_oal(GENERIC_OAL)
    wheel, broken, comet = parsed
    assert wheel.error is None and wheel.fields["ra_deg"] == pytest.approx(308.718)
    assert wheel.fields["object_type"] == "Galaxy" and wheel.fields["magnitude"] == 9.6
    assert wheel.fields["size_major_arcmin"] == pytest.approx(11.5) and wheel.fields["size_minor_arcmin"] == pytest.approx(11.5)
    assert wheel.fields["position_angle_deg"] == 61  # a PA is a direction of an axis: modulo 180°
    assert wheel.fields["notes"] == "März: zu tief" and wheel.fields["common_names"] == ["NGC 6946", "Caldwell 12"]
    assert broken.error == "position: unit 'furlong' is not one of rad, deg, arcmin, arcsec"
    assert comet.error == "a CometTargetType moves on the sky and cannot be a fixed target"
    with services.sessions() as session:
        report = import_targets(session, parsed, skip_bad=True, public=True)
        session.commit()
        assert report.added == ["Feuerrad-Galaxie"] and len(report.errors) == 2
        assert session.query(Target).one().public is True


@pytest.mark.parametrize("encode", [
    lambda text: text.encode("cp1252"),  # KStars on a Latin-1 desktop: no declaration, 8-bit bytes
    lambda text: text.encode("utf-16"),  # with its byte order mark
    lambda text: text.replace('<?xml version="1.0"?>', '<?xml version="1.0" encoding="windows-1252"?>').encode("cp1252"),
])
def test_oal_encodings(encode):
    text = oal(star("Mizar", 3.5077, 0.9593, notes="Ålcor à côté"))
    (mizar,) = parse_oal(encode(text))
    assert mizar.name == "Mizar" and mizar.fields["notes"] == "Ålcor à côté"


@pytest.mark.parametrize("data, message", [
    (b"<html><body>hello</body></html>", "not an OAL observing list: the root element is <html>"),
    (b"<observations><targets></targets></observations>", "no <targets> with a <target>"),
    (b'<?xml version="1.0"?><observations><targets><target>', "not well-formed XML"),
    (b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaa">]><observations>&a;</observations>', "DTD or entities"),
    (b'<?xml version="1.0" encoding="shift_jis"?><observations/>', "encoding cannot be read"),
    (b'<?xml version="1.0" encoding="x-unknown"?><observations/>', "encoding cannot be read"),
])
def test_files_that_are_not_observing_lists_are_refused_whole(data, message):
    with pytest.raises(TargetFileError, match=message):
        parse_oal(data)


def test_csv_sexagesimal_decimal_spellings_and_catalogue_names(services):
    text = ("Name;RA;Dec;Mag;Size;Type;Public;Tags\n"
            "Field A;10:41:02;+41:16:09;;;;;mosaic, test\n"
            "Field B;160.2583;41.2692;7,5;;;;\n"
            "Field C;10h41m02s;41d16m09s;12.1;20x10;Galaxy;yes;\n"
            "M 33;;;;;;;\n"
            "Nowhere at all;;;;;;;\n"
            "Field D;10 41 02;-91;;;;;\n"
            "Field E;1:00:00;+1:00:00;;;;maybe;\n")
    a, b, c, m33, nowhere, d, e = parse_csv(text.encode("cp1252"))
    assert a.fields["ra_deg"] == pytest.approx(160.2583, abs=1e-4) and a.fields["dec_deg"] == pytest.approx(41.2692, abs=1e-4)
    assert b.fields["ra_deg"] == pytest.approx(160.2583) and b.error == "magnitude '7,5' is not a number"
    assert c.fields["ra_deg"] == pytest.approx(a.fields["ra_deg"]) and c.fields["size_major_arcmin"] == 20
    assert (c.fields["size_minor_arcmin"], c.fields["public"], c.fields["object_type"]) == (10, True, "Galaxy")
    assert a.fields["tags"] == ["mosaic", "test"] and d.error.startswith("declination '-91'")
    assert e.error == "public 'maybe' is not yes or no"
    with services.sessions() as session:
        report = import_targets(session, [a, b, c, m33, nowhere, d, e], skip_bad=True)
        session.commit()
        assert report.added == ["Field A", "Field C", "M 33"]
        assert "line 6 (Nowhere at all): no coordinates, and the offline catalogue (OpenNGC) does not know the name" in report.errors
        m33 = session.query(Target).filter_by(name="M 33").one()
        assert m33.catalog_id == "NGC0598" and m33.dec_deg == pytest.approx(30.66, abs=0.01)


def test_exported_csv_reads_back_the_same(services):
    with services.sessions() as session:
        import_targets(session, parse_oal(KSTARS_LIST.read_bytes()), skip_bad=True, tags=["a", "b"])
        session.query(Target).filter_by(name="Vega").one().public = True
        session.commit()
        exported = export_csv(session)
        before = {t.name: t for t in session.query(Target)}
        snapshot = {n: (round(t.ra_deg, 4), round(t.dec_deg, 4), t.object_type, t.magnitude, t.size_major_arcmin,
                        t.size_minor_arcmin, t.position_angle_deg, t.constellation, t.tags, t.public, t.notes, t.catalog_id, t.common_names)
                    for n, t in before.items()}
        for target in before.values():
            session.delete(target)
        session.commit()
        report = import_targets(session, parse_target_file(exported.encode(), "targets.csv"))
        session.commit()
        assert sorted(report.added) == sorted(snapshot)
        after = {t.name: (round(t.ra_deg, 4), round(t.dec_deg, 4), t.object_type, t.magnitude, t.size_major_arcmin,
                          t.size_minor_arcmin, t.position_angle_deg, t.constellation, t.tags, t.public, t.notes, t.catalog_id, t.common_names)
                 for t in session.query(Target)}
    assert after == snapshot


def test_portal_imports_an_oal_file_and_says_what_it_did(client):
    from tests.unit.test_targets import csrf

    token = csrf(client)
    answer = client.post("/targets/import", content_type="multipart/form-data", follow_redirects=True, data={
        "csrf_token": token, "file": (io.BytesIO(KSTARS_LIST.read_bytes()), "session.obslist")}).data.decode()
    assert "session.obslist: nothing imported" in answer and "target 5 (Jupiter): a Planet moves" in answer
    answer = client.post("/targets/import", content_type="multipart/form-data", follow_redirects=True, data={
        "csrf_token": token, "skip_bad": "y", "tags": "kstars",
        "file": (io.BytesIO(KSTARS_LIST.read_bytes()), "session.obslist")}).data.decode()
    assert "session.obslist: 4 added, 1 bad, skipped" in answer and 'data-target' in answer
    bad = client.post("/targets/import", content_type="multipart/form-data", follow_redirects=True, data={
        "csrf_token": token, "file": (io.BytesIO(b"<html></html>"), "page.xml")}).data.decode()
    assert "import failed: not an OAL observing list" in bad


def test_obsy_targets_import_and_export(tmp_path, monkeypatch):
    from click.testing import CliRunner

    from master.target_cli import targets_group

    monkeypatch.setenv("OBSY_CONFIG_DIR", str(tmp_path / "config"))
    monkeypatch.setenv("OBSY_DATA_DIR", str(tmp_path / "data"))
    config = tmp_path / "master.toml"
    config.write_text(f'[database]\nurl = "sqlite:///{tmp_path / "obsy.db"}"\n[store]\nkind = "local"\n'
                      f'path = "{tmp_path / "store"}"\n[catalog]\nenabled = false\n')

    def run(*args):
        return CliRunner().invoke(targets_group, [str(a) for a in args] + ["--config", str(config)])

    refused = run("import", KSTARS_LIST)
    assert refused.exit_code == 1 and "nothing imported" in refused.output
    assert "bad: target 5 (Jupiter): a Planet moves" in refused.output
    checked = run("import", KSTARS_LIST, "--dry-run")
    assert checked.exit_code == 0 and "check only, nothing written: 4 would be added" in checked.output
    done = run("import", KSTARS_LIST, "--skip-bad", "--tags", "kstars")
    assert done.exit_code == 0 and "kstars_session.obslist: 4 added, 1 bad, skipped" in done.output, done.output
    again = run("import", KSTARS_LIST, "--skip-bad")
    assert "0 added, 4 already there, skipped, 1 bad, skipped" in again.output
    exported = run("export", "--out", tmp_path / "targets.csv")
    assert exported.exit_code == 0 and "4 targets written" in exported.output
    text = (tmp_path / "targets.csv").read_text()
    assert text.startswith("name,ra,dec,") and "M 31,00:42:44.35,+41:16:08.6,Galaxy,0.98,177.83x69.66,And,kstars" in text
    (tmp_path / "page.csv").write_text("what,ever\n1,2\n")
    assert "needs a header row with a name column" in run("import", tmp_path / "page.csv").output


def _place_in(frame) -> tuple[float, float]:
    import astropy.units as u
    from astropy.coordinates import SkyCoord

    from master.planning.sky import offline_astropy

    offline_astropy()  # never reach for a newer IERS table
    place = SkyCoord(VEGA_J2000[0] * u.deg, VEGA_J2000[1] * u.deg).transform_to(frame)
    return place.ra.deg, place.dec.deg


def test_positions_in_other_frames_come_back_to_j2000():
    from astropy.coordinates import FK4, TETE
    from astropy.time import Time

    b1950 = _place_in(FK4(equinox="B1950"))
    of_date = _place_in(TETE(obstime=Time("2026-06-15T22:00:00")))
    text = oal(
        f'<target id="a" xsi:type="oal:starTargetType"><name>Vega B1950</name><position><ra unit="deg">{b1950[0]}</ra>'
        f'<dec unit="deg">{b1950[1]}</dec><frame><origin>geo</origin><equinox>B1950</equinox></frame></position></target>'
        f'<target id="b" xsi:type="oal:starTargetType"><name>Vega of date</name><position><ra unit="deg">{of_date[0]}</ra>'
        f'<dec unit="deg">{of_date[1]}</dec><frame><equinox>EqOfDate</equinox></frame></position></target>',
        root_attrs='xmlns:oal="http://observation.sourceforge.net/openastronomylog" '
                   'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"',
    ).replace("<targets>", "<sessions><session id='s1'><begin>2026-06-15T22:00:00</begin></session></sessions><targets>")
    for entry in parse_oal(text.encode()):
        assert entry.error is None and entry.notes == []
        assert _separation_deg(entry.fields["ra_deg"], entry.fields["dec_deg"], *VEGA_J2000) * 3600 < 1.0, entry.name
    # KStars' places are of date; without a date in the file they are taken as J2000, and the import says so.
    (undated,) = parse_oal(oal(star("Vega", 4.87742, 0.677336)).encode())
    assert undated.notes == ["position of date but the file has no date: read as J2000"]
    assert undated.fields["ra_deg"] == pytest.approx(math.degrees(4.87742))


@pytest.mark.parametrize("encoding", ["utf-8-sig", "utf-8", "cp1252"])
def test_csv_encodings_and_stray_values(encoding):
    text = "name\tra\tdec\tnotes\nCœur field\t5:00:00\t-5:00:00\tprès d'Orion\tstray\n"
    (row,) = parse_csv(text.encode(encoding))
    assert row.name == "Cœur field" and row.fields["notes"] == "près d'Orion" and row.error is None
    assert row.notes == ["1 value(s) beyond the header were ignored"]


@pytest.mark.parametrize("text, message", [
    ("", "the CSV is empty"), ("name,ra,dec\n\n", "a header but no rows"),
    ("name\n" + "x\n" * 5001, "more than 5000 rows"),
])
def test_csv_files_refused_whole(text, message):
    with pytest.raises(TargetFileError, match=message):
        parse_csv(text)
