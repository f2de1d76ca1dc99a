"""Preparing a KStars home for unattended nights, and the errors of a KStars that cannot start."""
from __future__ import annotations

import sqlite3

import pytest

from common.config import EkosConfig
from node_telescope.kstars.dbus import unwrap
from node_telescope.kstars.launcher import (UNATTENDED_SETTINGS, KStarsError, KStarsLauncher, ensure_remote_profile,
                                            set_kconfig_values)


def test_kconfig_values_are_set_and_every_other_line_kept(tmp_path):
    rc = tmp_path / "kstarsrc"
    rc.write_text("[Colors]\nSkyColor=#000000\n\n[Scheduler]\nStopEkosAfterShutdown=true\nLeadTime=5\n\n"
                  "[MainWindow]\n1280x1024 screen: Height=768\n")
    set_kconfig_values(rc, UNATTENDED_SETTINGS)
    text = rc.read_text()
    assert "SkyColor=#000000" in text and "1280x1024 screen: Height=768" in text and "LeadTime=5" in text
    assert "StopEkosAfterShutdown=false" in text and "StopEkosAfterShutdown=true" not in text
    lines = text.splitlines()
    scheduler = lines[lines.index("[Scheduler]") + 1:lines.index("[MainWindow]")]
    assert "RememberJobProgress=false" in scheduler
    assert lines[lines.index("[GUI]") + 1] == "RunStartupWizard=false"
    set_kconfig_values(rc, UNATTENDED_SETTINGS)  # idempotent
    assert rc.read_text() == text


def userdb(path):
    # The two tables of KStars 3.6's user database that profiles live in.
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE profile (id INTEGER DEFAULT NULL PRIMARY KEY AUTOINCREMENT, name TEXT NOT NULL, "
                     "host TEXT, port INTEGER, city TEXT, province TEXT, country TEXT, indiwebmanagerport INTEGER "
                     "DEFAULT NULL, autoconnect INTEGER DEFAULT 1, guidertype INTEGER DEFAULT 0, guiderhost TEXT, "
                     "guiderport INTEGER,indihub INTEGER DEFAULT 0, portselector INTEGER DEFAULT 1, remotedrivers "
                     "TEXT DEFAULT NULL, scripts TEXT DEFAULT NULL)")
        conn.execute("CREATE TABLE driver (id INTEGER DEFAULT NULL PRIMARY KEY AUTOINCREMENT, label TEXT NOT NULL, "
                     "role TEXT NOT NULL, profile INTEGER NOT NULL, FOREIGN KEY(profile) REFERENCES profile(id))")
        conn.execute("INSERT INTO profile (name) VALUES ('Simulators')")
    return path


def test_remote_profile_is_created_then_repointed_with_its_drivers(tmp_path):
    db = userdb(tmp_path / "userdb.sqlite")
    drivers = [("Mount", "EQMod Mount"), ("CCD", "ZWO CCD")]
    assert "created" in ensure_remote_profile(db, "Roof", "10.0.0.5", 7624, drivers)
    ensure_remote_profile(db, "Roof", "127.0.0.1", 7700, drivers[:1])
    with sqlite3.connect(db) as conn:
        assert conn.execute("SELECT name, host, port FROM profile WHERE name='Roof'").fetchall() == [
            ("Roof", "127.0.0.1", 7700)]
        assert conn.execute("SELECT role, label FROM driver").fetchall() == [("Mount", "EQMod Mount")]
        assert conn.execute("SELECT count(*) FROM profile").fetchone() == (2,)


def test_profile_write_errors_are_clear(tmp_path):
    with pytest.raises(KStarsError, match="cannot write the Ekos profile"):
        ensure_remote_profile(tmp_path / "not-a-db.sqlite", "Roof", "h", 1, [])


class FakeBus:
    address = "unix:path=/nowhere"

    def __init__(self, owned=False):
        self.owned = owned

    def has_owner(self, service="org.kde.kstars"):
        return self.owned


def test_attach_start_refused_missing_program_and_no_display(tmp_path, monkeypatch):
    launcher = KStarsLauncher(EkosConfig(), tmp_path / "kstars.log")
    assert launcher.ensure(FakeBus(owned=True)) == "attached"
    with pytest.raises(KStarsError, match="start_kstars is false"):
        KStarsLauncher(EkosConfig(start_kstars=False), tmp_path / "k.log").ensure(FakeBus())
    with pytest.raises(KStarsError, match="KStars is not installed: 'kstars-missing'"):
        KStarsLauncher(EkosConfig(kstars_command="kstars-missing"), tmp_path / "k.log").ensure(FakeBus())
    monkeypatch.delenv("DISPLAY", raising=False)
    with pytest.raises(KStarsError, match="no X display"):
        KStarsLauncher(EkosConfig(kstars_command="true"), tmp_path / "k.log").ensure(FakeBus())


def test_dbus_values_are_unwrapped():
    assert unwrap((2,)) == 2
    assert unwrap(("i", 5)) == 5
    assert unwrap({"filename": ("s", "/a.fits"), "exposure": ("d", 1.0)}) == {"filename": "/a.fits", "exposure": 1.0}
    assert unwrap("Focus") == "Focus"


def test_config_checks_driver_entries():
    with pytest.raises(ValueError, match="profile_drivers entry"):
        EkosConfig(profile_drivers=["Telescope Simulator"])
    assert EkosConfig(profile_drivers=["Mount = EQMod Mount"]).driver_roles() == [("Mount", "EQMod Mount")]
