"""normalize_header on headers written the way each capture program writes them.

Each header below reproduces one program's keyword conventions (which keys, strings or numbers,
units, date formats); the values are invented for the test.
"""
from __future__ import annotations

from datetime import date, datetime, timezone

import pytest
from astropy.io import fits

from master.fitsmeta.normalize import (
    FrameMeta, classify_frame_type, normalize_header, observing_night, parse_angle, to_float,
)


def header(*cards) -> fits.Header:
    """A header from (keyword, value[, comment]) tuples, in order, duplicates allowed."""
    result = fits.Header()
    for card in cards:
        result.append(fits.Card(*card), end=True)
    return result


def raw_header(*lines: str) -> fits.Header:
    """A header from literal 80-column card images, for values astropy would never write."""
    return fits.Header.fromstring("".join(line.ljust(80) for line in lines + ("END",)))


def utc(*parts) -> datetime:
    return datetime(*parts, tzinfo=timezone.utc)


def approx(value, rel=1e-6):
    return pytest.approx(value, rel=rel)


# --------------------------------------------------------------------------- capture programs


def test_nina_light():
    meta = normalize_header(header(
        ("NAXIS", 2), ("NAXIS1", 6248), ("NAXIS2", 4176),
        ("IMAGETYP", "LIGHT", "Type of exposure"),
        ("EXPOSURE", 180.0, "[s] Exposure duration"), ("EXPTIME", 180.0, "[s] Exposure duration"),
        ("DATE-LOC", "2023-10-14T23:40:12.125", "Time of observation (local)"),
        ("DATE-OBS", "2023-10-14T21:40:12.125", "Time of observation (UTC)"),
        ("XBINNING", 1), ("YBINNING", 1),
        ("GAIN", 100, "Sensor gain"), ("OFFSET", 50, "Sensor gain offset"),
        ("EGAIN", 0.78, "[e-/ADU] Electrons per A/D unit"),
        ("XPIXSZ", 3.76, "[um] Pixel X axis size"), ("YPIXSZ", 3.76),
        ("INSTRUME", "ZWO ASI2600MM Pro"), ("TELESCOP", "Esprit 100"),
        ("FOCALLEN", 550.0, "[mm] Focal length"),
        ("SET-TEMP", -10.0, "[degC] CCD temperature setpoint"), ("CCD-TEMP", -9.8, "[degC] CCD temperature"),
        ("FILTER", "Ha", "Active filter name"),
        ("OBJECT", "NGC 7000", "Name of the object of interest"),
        ("OBJCTRA", "20 59 17", "[H M S] RA of imaged object"),
        ("OBJCTDEC", "+44 31 44", "[D M S] Declination of imaged object"),
        ("RA", 314.8208, "[deg] RA of telescope"), ("DEC", 44.5289, "[deg] Declination of telescope"),
        ("SITEELEV", 120.0, "[m] Observation site elevation"),
        ("SITELAT", 50.85, "[deg] Observation site latitude"),
        ("SITELONG", 4.35, "[deg] Observation site longitude"),
        ("ROWORDER", "TOP-DOWN"), ("EQUINOX", 2000.0),
        ("SWCREATE", "N.I.N.A. 3.0.0.9001", "Software that created this file"),
    ))
    assert meta.frame_type == "light"
    assert meta.capture_program == "N.I.N.A."
    assert meta.exposure_s == 180.0
    assert meta.filter_name == "Ha"
    assert meta.object_name == "NGC 7000"
    assert meta.date_obs == utc(2023, 10, 14, 21, 40, 12, 125000)
    assert meta.night == date(2023, 10, 14)
    assert (meta.gain, meta.offset) == (100.0, 50.0)
    assert (meta.ccd_temp_c, meta.set_temp_c) == (-9.8, -10.0)
    assert (meta.binning_x, meta.binning_y) == (1, 1)
    assert meta.ra_deg == approx(314.8208) and meta.dec_deg == approx(44.5289)
    assert (meta.site_lat, meta.site_lon, meta.site_elev) == (50.85, 4.35, 120.0)
    assert (meta.focal_length_mm, meta.pixel_size_um) == (550.0, 3.76)
    assert (meta.width, meta.height) == (6248, 4176)
    assert meta.camera == "ZWO ASI2600MM Pro" and meta.telescope == "Esprit 100"
    assert meta.warnings == []


def test_nina_placeholder_pointing_is_ignored():
    # Without a mount N.I.N.A. still writes OBJCTRA/OBJCTDEC, as zeros.
    meta = normalize_header(header(
        ("IMAGETYP", "LIGHT"), ("EXPTIME", 30.0), ("OBJECT", "M 45"),
        ("OBJCTRA", "00 00 00", "[H M S] RA of imaged object"), ("OBJCTDEC", "+00 00 00"),
        ("BAYERPAT", "RGGB"), ("SWCREATE", "N.I.N.A. 1.10.2.90"),
    ))
    assert meta.ra_deg is None and meta.dec_deg is None
    assert meta.bayer_pattern == "RGGB"
    assert any("0/0" in w for w in meta.warnings)


def test_sequence_generator_pro():
    meta = normalize_header(header(
        ("NAXIS1", 4144), ("NAXIS2", 2822),
        ("CTYPE1", "RA---TAN"), ("CTYPE2", "DEC--TAN"),
        ("OBJECT", "M 27", "Object name"),
        ("DATE-LOC", "2022-08-02T01:10:05.1234567", "Local observation date"),
        ("DATE-OBS", "2022-08-01T23:10:05.1234567", "UTC observation date"),
        ("IMAGETYP", "LIGHT", "Type of frame"),
        ("CREATOR", "Sequence Generator Pro v4.2.0.1000", "Capture software"),
        ("INSTRUME", "QHY268M", "Instrument name"), ("OBSERVER", "Ann", "Observer name"),
        ("SITENAME", "Backyard", "Observatory name"), ("SITEELEV", 35, "Elevation of the imaging site in meters"),
        ("SITELAT", "48 51 0.000", "Latitude of the imaging site in degrees"),
        ("SITELONG", "2 21 0.000", "Longitude of the imaging site in degrees"),
        ("FILTER", "OIII", "Filter name"), ("EXPOSURE", 300, "Exposure time in seconds"),
        ("CCD-TEMP", -15.1, "Camera cooler temperature"), ("SET-TEMP", -15, "Camera cooler target temperature"),
        ("XBINNING", 2, "Camera X Bin"), ("CCDXBIN", 2), ("YBINNING", 2), ("CCDYBIN", 2),
        ("TELESCOP", "EQ6-R Pro", "Telescope name"),
        ("RA", 299.9016, "Object Right Ascension in degrees"), ("DEC", 22.7211, "Object Declination in degrees"),
        ("CRVAL1", 299.9016), ("CRVAL2", 22.7211),
        ("OBJCTRA", "19 59 36.380", "Object Right Ascension in hms"),
        ("OBJCTDEC", "+22 43 16.09", "Object Declination in degrees"),
        ("FOCALLEN", 1000, "The focal length of the telescope in mm"),
        ("GAIN", 56, "Camera gain"), ("EGAIN", 1.1, "Electrons Per ADU"), ("OFFSET", 25, "Camera offset"),
    ))
    assert meta.capture_program == "SGP"
    assert meta.frame_type == "light"
    assert meta.date_obs == utc(2022, 8, 1, 23, 10, 5, 123456)
    assert meta.night == date(2022, 8, 1)
    assert meta.exposure_s == 300.0 and meta.filter_name == "OIII"
    assert (meta.binning_x, meta.binning_y) == (2, 2)
    assert meta.gain == 56.0 and meta.offset == 25.0
    assert meta.site_lat == approx(48.85) and meta.site_lon == approx(2.35) and meta.site_elev == 35.0
    assert meta.site_name == "Backyard" and meta.observer == "Ann"
    assert meta.ra_deg == approx(299.9016)


def test_maximdl_with_old_date_cards_and_iraf_site_keys():
    meta = normalize_header(header(
        ("NAXIS1", 3072), ("NAXIS2", 2048),
        ("DATE-OBS", "2019-05-06T18:20:30", "[ISO 8601] UTC date/time of exposure start"),
        ("EXPTIME", 6.0e2, "[sec] Duration of exposure"), ("EXPOSURE", 6.0e2),
        ("SET-TEMP", -30.0, "CCD temperature setpoint in C"),
        ("CCD-TEMP", -29.9, "CCD temperature at start of exposure in C"),
        ("XPIXSZ", 9.0, "Pixel Width in microns (after binning)"),
        ("XBINNING", 1, "Binning level along the X-axis"), ("YBINNING", 1),
        ("FILTER", "V       ", "Filter name"),
        ("IMAGETYP", "Light Frame", "Type of image"),
        ("SITELAT", "-33 52 00", "Latitude of the imaging location"),
        ("SITELONG", "151 12 30", "Longitude of the imaging location"),
        ("JD", 2458610.2642361, "Julian Date at start of exposure"),
        ("FOCALLEN", 2000.0, "Focal length of telescope in mm"),
        ("SWCREATE", "MaxIm DL Version 6.20 190920 0PAXZ", "Name of software that created the image"),
        ("OBJECT", "NGC 5128", "Target object name"), ("TELESCOP", "T17", "Telescope name"),
        ("INSTRUME", "FLI ProLine", "Detector instrument name"), ("OBSERVER", "B. Observer", "Observer name"),
        ("DATE", "06/05/19", "[old format] UTC date of exposure start"),
        ("TIME-OBS", "18:20:30", "[old format] UTC time of exposure start"),
        ("ALT-OBS", 1.165e3, "[metres] Altitude above mean sea level"),
        ("OBSERVAT", "Remote Observatory", "Observatory name"),
        ("RA", "13 25 27.6", "[hms J2000] Target right ascension"),
        ("DEC", "-43 01 09", "[dms +N J2000] Target declination"),
        ("FOCALLEN", 2000.0),
    ))
    assert meta.capture_program == "MaxIm DL"
    assert meta.frame_type == "light"
    assert meta.filter_name == "V"
    assert meta.date_obs == utc(2019, 5, 6, 18, 20, 30)
    # 18:20 UTC at 151 E is 04:25 local on the 7th: the night began on the 6th.
    assert meta.night == date(2019, 5, 6)
    assert meta.ra_deg == approx((13 + 25 / 60 + 27.6 / 3600) * 15)
    assert meta.dec_deg == approx(-(43 + 1 / 60 + 9 / 3600))
    assert meta.site_lat == approx(-(33 + 52 / 60)) and meta.site_lon == approx(151 + 12.5 / 60)
    assert meta.site_elev == 1165.0 and meta.site_name == "Remote Observatory"


def test_apt_light():
    meta = normalize_header(header(
        ("OBJECT", "M 101", "The name of Object Imaged"),
        ("TELESCOP", "EQMOD HEQ5/6", "The Telescope used"), ("INSTRUME", "ZWO ASI533MC Pro", "The model Camera used"),
        ("DATE-OBS", "2021-04-18T22:15:03", "The UTC date and time at the start of the exposure"),
        ("EXPTIME", 120.0, "The total exposure time in seconds"),
        ("XPIXSZ", 3.76), ("XBINNING", 1, "Binning factor in width"), ("YBINNING", 1),
        ("EGAIN", 0.99, "Electronic gain in e-/ADU"), ("FOCALLEN", 420, "Focal Length of the Telescope in mm"),
        ("JD", 2459323.42712963, "Julian Date"),
        ("SWCREATE", "Astro Photography Tool - APT v.4.10", "Imaging software"),
        ("SET-TEMP", -5.0, "The setpoint of the cooling in C"),
        ("IMAGETYP", "Light Frame", "The type of image"),
        ("OBJCTRA", "14 03 12", "The Right Ascension of the center of the image"),
        ("OBJCTDEC", "+54 20 56", "The Declination of the center of the image"),
        ("SITELAT", "+45 30 00.000", "The site Latitude"), ("SITELONG", "-73 34 00.000", "The site Longitude"),
        ("GAIN", 101, "The gain set (if supported)"),
    ))
    assert meta.capture_program == "APT"
    assert meta.frame_type == "light"
    assert meta.gain == 101.0          # not EGAIN
    assert meta.set_temp_c == -5.0 and meta.ccd_temp_c is None
    assert meta.ra_deg == approx((14 + 3 / 60 + 12 / 3600) * 15)
    assert meta.dec_deg == approx(54 + 20 / 60 + 56 / 3600)
    assert meta.site_lon == approx(-(73 + 34 / 60))
    # 22:15 UTC at 73.6 W is 17:20 local: the night of the 18th.
    assert meta.night == date(2021, 4, 18)


def test_sharpcap_without_imagetyp_is_a_light_by_its_plate_solution():
    meta = normalize_header(header(
        ("NAXIS1", 1936), ("NAXIS2", 1096),
        ("SWCREATE", "SharpCap"), ("CCD-TEMP", 18.3), ("XBINNING", 1), ("YBINNING", 1),
        ("XPIXSZ", 2.9), ("EXPTIME", 4),
        ("DATE-OBS", "2020-02-20T01:02:03.4567891", "System Clock-Frame Grabbed"),
        ("INSTRUME", "ZWO ASI462MC"),
        ("CTYPE1", "RA---TAN-SIP"), ("CTYPE2", "DEC--TAN-SIP"),
        ("CRVAL1", 83.8221, "RA  of reference point"), ("CRVAL2", -5.3911, "DEC of reference point"),
    ))
    assert meta.capture_program == "SharpCap"
    assert meta.frame_type == "light"
    assert meta.ra_deg == approx(83.8221) and meta.dec_deg == approx(-5.3911)
    assert meta.date_obs == utc(2020, 2, 20, 1, 2, 3, 456789)
    assert any("inferred as light" in w for w in meta.warnings)


def test_indi_ccd_driver_under_ekos():
    meta = normalize_header(header(
        ("NAXIS1", 4656), ("NAXIS2", 3520),
        ("ROWORDER", "TOP-DOWN"), ("INSTRUME", "ZWO CCD ASI1600MM Pro", "CCD Name"),
        ("TELESCOP", "EQMod Mount", "Telescope name"), ("OBSERVER", "Unknown", "Observer name"),
        ("OBJECT", "M 33", "Object name"),
        ("EXPTIME", 3.0e2, "Total Exposure Time (s)"), ("CCD-TEMP", -2.0e1, "CCD Temperature (Celsius)"),
        ("PIXSIZE1", 3.8, "Pixel Size 1 (microns)"), ("PIXSIZE2", 3.8),
        ("XBINNING", 1, "Binning factor in width"), ("YBINNING", 1, "Binning factor in height"),
        ("XPIXSZ", 3.8, "X binned pixel size in microns"), ("YPIXSZ", 3.8),
        ("FRAME", "Light", "Frame Type"), ("IMAGETYP", "Light Frame", "Frame Type"),
        ("FILTER", "Lum", "Filter"), ("FOCALLEN", 5.3e2, "Focal Length (mm)"),
        ("SITELAT", 4.4e1, "Latitude of the imaging site in degrees"),
        ("SITELONG", 2.6e1, "Longitude of the imaging site in degrees"),
        ("OBJCTRA", "1 33 50.90", "Object J2000 RA in Hours"),
        ("OBJCTDEC", "30 39 36.6", "Object J2000 DEC in Degrees"),
        ("RA", 2.3462e1, "Object J2000 RA in Degrees"), ("DEC", 3.066e1, "Object J2000 DEC in Degrees"),
        ("EQUINOX", 2000, "Equinox"), ("DATE-OBS", "2022-11-20T19:45:00.123", "UTC start date of observation"),
        ("GAIN", 139.0, "Gain"), ("OFFSET", 21.0, "Offset"),
        ("COMMENT", "Generated by INDI"),
    ))
    assert meta.capture_program == "INDI"
    assert meta.frame_type == "light"
    assert meta.ra_deg == approx(23.462) and meta.dec_deg == approx(30.66)
    assert meta.pixel_size_um == 3.8 and meta.ccd_temp_c == -20.0
    assert meta.gain == 139.0 and meta.offset == 21.0
    assert meta.observer == "Unknown"


def test_kstars_frame_keyword_alone_gives_the_type():
    meta = normalize_header(header(("FRAME", "Flat", "Frame Type"), ("EXPTIME", 1.5), ("FILTER", "Red"),
                                   ("COMMENT", "Saved by KStars")))
    assert meta.frame_type == "flat"
    assert meta.capture_program == "KStars/EKOS"


def test_asiair():
    meta = normalize_header(header(
        ("NAXIS1", 6248), ("NAXIS2", 4176),
        ("EXPOSURE", 300.0, "Exposure time in seconds"), ("EXPTIME", 300.0),
        ("DATE-OBS", "2024-03-03T20:00:00.000000", "Exposure start time (UTC)"),
        ("XBINNING", 1), ("YBINNING", 1), ("GAIN", 100), ("OFFSET", 50),
        ("XPIXSZ", 3.76), ("CCD-TEMP", -10.0), ("SET-TEMP", -10.0),
        ("BAYERPAT", "RGGB"), ("IMAGETYP", "Light"), ("FILTER", "L-eXtreme"),
        ("OBJECT", "NGC 2244"), ("RA", 97.98), ("DEC", 4.94), ("FOCALLEN", 360),
        ("INSTRUME", "ZWO ASI2600MC Pro"), ("TELESCOP", "Askar FRA400"),
        ("CREATOR", "ZWO ASIAIR Plus"),
    ))
    assert meta.capture_program == "ASIAIR"
    assert meta.frame_type == "light" and meta.filter_name == "L-eXtreme"
    assert meta.exposure_s == 300.0 and meta.bayer_pattern == "RGGB"


def test_seestar_stack_is_a_light_and_says_it_is_a_stack():
    meta = normalize_header(header(
        ("NAXIS", 3), ("NAXIS1", 1080), ("NAXIS2", 1920), ("NAXIS3", 3),
        ("CREATOR", "ZWO Seestar S50", "Capture software"), ("PROGRAM", "4.43"),
        ("FOCALLEN", 250), ("XBINNING", 1), ("YBINNING", 1), ("CCDXBIN", 1), ("CCDYBIN", 1),
        ("XPIXSZ", 2.9), ("IMAGETYP", "Light", "Type of image"), ("STACKCNT", 120, "Stack frames"),
        ("EXPOSURE", 10.0), ("EXPTIME", 10.0), ("CCD-TEMP", 24.5, "sensor temperature in C"),
        ("RA", 10.6847, "Object Right Ascension in degrees"), ("DEC", 41.2690, "Object Declination in degrees"),
        ("SITELONG", -3.70, "longitude of the imaging site in degrees"), ("SITELAT", 40.42),
        ("DATE-OBS", "2024-09-01T23:50:00.123456", "Image created time"),
        ("FILTER", "LP"), ("INSTRUME", "Seestar S50"), ("BAYERPAT", "GRBG"), ("GAIN", 80),
        ("TELESCOP", "S50_0a1b2c3d"), ("OBJECT", "M 31"), ("TOTALEXP", 1200.0),
    ))
    assert meta.capture_program == "Seestar"
    assert meta.frame_type == "light"
    assert (meta.width, meta.height) == (1080, 1920)
    assert meta.ccd_temp_c == 24.5 and meta.set_temp_c is None
    assert any("stack of 120" in w for w in meta.warnings)


def test_dwarf_without_frame_type_or_pointing():
    meta = normalize_header(header(
        ("NAXIS1", 1920), ("NAXIS2", 1080),
        ("DATE-OBS", "2023-07-01T22:00:01.250", "Time start to exposure"),
        ("EXP", 15.0, "[s] Sub Exposure Time"), ("GAIN", 90, "Sub Gain"),
        ("BINNING", "2*2", "n*n pixels add together"),
        ("RA", 0.0, "[h] Observe object RA coordinate (J2000)"), ("DEC", 0.0, "[deg] Observe object DEC coordinate"),
        ("OBJECT", "", "Observe object"), ("BAYERPAT", "GBRG"),
        ("TELESCOP", "DWARFII"), ("INSTRUME", "DWARFII"), ("ORIGIN", "DWARFLAB"),
    ))
    assert meta.capture_program == "DWARF"
    assert meta.exposure_s == 15.0
    assert (meta.binning_x, meta.binning_y) == (2, 2)
    assert meta.object_name is None and meta.ra_deg is None
    assert meta.frame_type == "unknown"
    assert any("no IMAGETYP" in w for w in meta.warnings)


def test_dwarf_ra_in_hours():
    meta = normalize_header(header(("IMAGETYP", "Light"), ("RA", 5.5, "[h] Observe object RA"), ("DEC", -5.0)))
    assert meta.ra_deg == approx(82.5)


def test_pixinsight_master_with_values_as_strings():
    meta = normalize_header(header(
        ("IMAGETYP", "Master Light", "Type of image"),
        ("XBINNING", "1       "), ("YBINNING", "1       "), ("FILTER", "L       "),
        ("EXPTIME", "300.00  ", "Exposure time in seconds"), ("INSTRUME", "ZWO ASI294MM Pro"),
        ("XPIXSZ", "4.63    "), ("EGAIN", "1.00    ", "Camera gain in electrons per data number"),
        ("FOCALLEN", "805.5   "), ("OBJECT", "M 81"),
        ("RA", "148.888221", "Right ascension of the center of the image (deg)"),
        ("DEC", "69.065295", "Declination of the center of the image (deg)"),
        ("DATE-OBS", "2022-02-10T21:00:00.000", "Start date/time of observation (UTC)"),
        ("OBSGEO-L", "-0.1276 ", "Geodetic longitude of observation location (deg)"),
        ("OBSGEO-B", "51.5072 ", "Geodetic latitude of observation location (deg)"),
        ("OBSGEO-H", "11      ", "Geodetic height of observation location (m)"),
        ("COMMENT", "Integration with PixInsight 1.8.9-2"),
    ))
    assert meta.capture_program == "PixInsight"
    assert meta.frame_type == "light"
    assert meta.exposure_s == 300.0 and meta.focal_length_mm == 805.5 and meta.pixel_size_um == 4.63
    assert (meta.binning_x, meta.binning_y) == (1, 1)
    assert meta.gain is None
    assert meta.ra_deg == approx(148.888221) and meta.dec_deg == approx(69.065295)
    assert (meta.site_lat, meta.site_lon, meta.site_elev) == (51.5072, -0.1276, 11.0)
    assert any("master" in w for w in meta.warnings)


def test_astro_pixel_processor_master_flat_with_decimal_commas():
    meta = normalize_header(raw_header(
        "SIMPLE  =                    T / Java FITS",
        "NAXIS   =                    2",
        "NAXIS1  =                 3008",
        "NAXIS2  =                 3008",
        "SOFTWARE= 'Astro Pixel Processor by Aries Productions' / software",
        "CALFRAME= 'MasterFlat'         / master flat frame",
        "INSTRUME= 'ZWO ASI533MC Pro'   / instrument name",
        "CFAIMAGE= 'RGGB    '           / Color Filter Array pattern",
        "EXPTIME =                 0.75 / exposure time (s)",
        "GAIN    = ' 1,00E+02'          / gain or ISO depending on instrument",
        "FILT-1  = 'UV/IR   '           / filter used",
    ))
    assert meta.capture_program == "Astro Pixel Processor"
    assert meta.frame_type == "flat"
    assert meta.bayer_pattern == "RGGB"
    assert meta.gain == 100.0
    assert meta.filter_name == "UV/IR"


def test_iraf_style_frame_with_kelvin_date_only_and_gain_in_electrons():
    meta = normalize_header(raw_header(
        "SIMPLE  =                    T",
        "NAXIS   =                    2",
        "NAXIS1  =                  536         / columns",
        "NAXIS2  =                  520         / rows",
        "OBSERVAT= 'SAAO    '                   / observatory",
        "DATE-OBS= '2014-03-02'                 / UT date",
        "OBJECT  = 'field 7   '                 /",
        "IMAGETYP= 'object    '                 / IRAF image type",
        "RA      = ' 10:04:08'                  / ra",
        "DEC     = '-20:55:31'                  / dec",
        "UT      = '21:57:33'                   / UT at Exposure start",
        "EXPTIME =              150.040         / integration time in secs",
        "GAIN    =                  1.9         / e-/ADU",
        "CCD-TEMP=                180.2         / CCD Cu block temperature",
    ))
    assert meta.frame_type == "light"
    assert meta.date_obs == utc(2014, 3, 2, 21, 57, 33)
    assert meta.ccd_temp_c == approx(180.2 - 273.15)
    assert meta.gain is None
    assert meta.ra_deg == approx((10 + 4 / 60 + 8 / 3600) * 15)
    assert meta.dec_deg == approx(-(20 + 55 / 60 + 31 / 3600))
    assert meta.site_name == "SAAO"
    assert any("kelvin" in w for w in meta.warnings)
    assert any("e-/ADU" in w for w in meta.warnings)


# --------------------------------------------------------------------------- frame types


@pytest.mark.parametrize("value, expected", [
    ("Light Frame", "light"), ("LIGHT", "light"), ("Light", "light"), ("Master Light", "light"),
    ("lightframe", "light"), ("object", "light"), ("Tricolor Image", "light"), ("SNAPSHOT", "light"),
    ("Dark Frame", "dark"), ("DARK", "dark"), ("Master Dark", "dark"),
    ("Bias Frame", "bias"), ("BIAS", "bias"), ("Zero", "bias"), ("ZERO", "bias"), ("Offset", "bias"),
    ("Flat Field", "flat"), ("FLAT", "flat"), ("Flat Frame", "flat"), ("MasterFlat", "flat"), ("SkyFlat", "flat"),
    ("DarkFlat", "dark_flat"), ("Flat Dark", "dark_flat"), ("dark flat", "dark_flat"), ("DARK_FLAT", "dark_flat"),
    ("comp", None), ("focus", None), ("", None),
])
def test_frame_type_by_meaning(value, expected):
    assert classify_frame_type(value) == expected


def test_unknown_imagetyp_value_warns():
    meta = normalize_header(header(("IMAGETYP", "Focus"), ("EXPTIME", 2.0)))
    assert meta.frame_type == "unknown"
    assert any("Focus" in w for w in meta.warnings)


def test_missing_imagetyp_zero_exposure_is_bias():
    meta = normalize_header(header(("EXPTIME", 0.0), ("INSTRUME", "SBIG ST-8")))
    assert meta.frame_type == "bias"
    assert any("bias" in w for w in meta.warnings)


def test_missing_imagetyp_with_object_is_light():
    meta = normalize_header(header(("EXPTIME", 60.0), ("OBJECT", "M 13")))
    assert meta.frame_type == "light"
    assert any("inferred as light from OBJECT" in w for w in meta.warnings)


def test_missing_imagetyp_and_nothing_else_is_unknown():
    meta = normalize_header(header(("EXPTIME", 10.0), ("INSTRUME", "SBIG ST-7"), ("OBJECT", "        ")))
    assert meta.frame_type == "unknown"


def test_bias_with_long_exposure_warns():
    meta = normalize_header(header(("IMAGETYP", "BIAS"), ("EXPTIME", 30.0)))
    assert meta.frame_type == "bias"
    assert any("is the frame type right" in w for w in meta.warnings)


# --------------------------------------------------------------------------- times


def test_date_only_with_time_obs():
    meta = normalize_header(header(("DATE-OBS", "2015-01-02"), ("TIME-OBS", "03:04:05.5")))
    assert meta.date_obs == utc(2015, 1, 2, 3, 4, 5, 500000)


def test_date_only_with_fractional_mjd():
    meta = normalize_header(header(("DATE-OBS", "2018-08-23"), ("MJD-OBS", 58353.25)))
    assert meta.date_obs == utc(2018, 8, 23, 6, 0, 0)


def test_date_only_without_time_assumes_midnight_and_warns():
    meta = normalize_header(header(("DATE-OBS", "2013-07-13"), ("MJD-OBS", 56486.0)))
    assert meta.date_obs == utc(2013, 7, 13)
    assert any("without a time" in w for w in meta.warnings)


@pytest.mark.parametrize("text, expected", [
    ("2020-05-30T00:22:49Z", utc(2020, 5, 30, 0, 22, 49)),
    ("2020-05-30T00:22:49.0968820", utc(2020, 5, 30, 0, 22, 49, 96882)),
    ("2020-05-30T02:22:49+02:00", utc(2020, 5, 30, 0, 22, 49)),
    ("2020-05-30 00:22", utc(2020, 5, 30, 0, 22)),
    ("30/05/98", utc(1998, 5, 30)),
])
def test_date_obs_spellings(text, expected):
    assert normalize_header(header(("DATE-OBS", text))).date_obs == expected


def test_mjd_and_jd_fallbacks():
    assert normalize_header(header(("MJD-OBS", 60000.5))).date_obs == utc(2023, 2, 25, 12)
    assert normalize_header(header(("JD", 2460000.25))).date_obs == utc(2023, 2, 24, 18)


def test_missing_date_warns():
    meta = normalize_header(header(("IMAGETYP", "DARK"), ("EXPTIME", 60.0)))
    assert meta.date_obs is None and meta.night is None
    assert any("observation time unknown" in w for w in meta.warnings)


def test_observing_night_follows_local_solar_time():
    moment = utc(2024, 1, 10, 3, 0)
    assert observing_night(moment, None) == date(2024, 1, 9)       # UTC - 12 h
    assert observing_night(moment, -120.0) == date(2024, 1, 9)     # 19:00 local on the 9th
    assert observing_night(moment, 150.0) == date(2024, 1, 10)     # 13:00 local on the 10th: a new night
    assert observing_night(utc(2024, 1, 10, 12, 30), 0.0) == date(2024, 1, 10)
    assert observing_night(None, 10.0) is None


# --------------------------------------------------------------------------- junk and odd values


def test_junk_values_warn_and_never_raise():
    meta = normalize_header(raw_header(
        "SIMPLE  =                    T",
        "IMAGETYP= Light Frame",                   # unquoted string
        "EXPTIME = 1,5",                           # decimal comma, unquoted
        "CCD-TEMP= N/A / no sensor",
        "SET-TEMP= 'cold    '",
        "XBINNING= 'x       '",
        "DATE-OBS= '2024-13-45T25:00:00'",
        "GAIN    =                  nan",
        "RA      = 'somewhere'",
        "DEC     = '+12 00 00'",
        "BAYERPAT= 'TRUE    '",
        "SITELAT = '+123 00 00'",
        "FILTER  = 'Red' junk after the string",
        "OBJECT  = 'NGC 1 without its closing quote",
        "FOCUS   =",
        "INSTRUME=                    T",
    ))
    assert meta.filter_name == "Red" and meta.object_name == "NGC 1 without its closing quote"
    assert meta.camera is None
    assert meta.frame_type == "light"
    assert meta.exposure_s == 1.5
    assert meta.ccd_temp_c is None and meta.set_temp_c is None
    assert meta.binning_x is None and meta.gain is None
    assert meta.date_obs is None and meta.ra_deg is None
    assert meta.bayer_pattern is None and meta.site_lat is None
    text = " | ".join(meta.warnings)
    for fragment in ("CCD-TEMP", "SET-TEMP", "XBINNING", "DATE-OBS", "RA", "BAYERPAT", "SITELAT"):
        assert fragment in text


def test_header_is_not_modified():
    original = raw_header("SIMPLE  =                    T", "EXPTIME = 1,5", "IMAGETYP= Dark Frame")
    before = [card._image for card in original.cards]
    normalize_header(original)
    assert [card._image for card in original.cards] == before


@pytest.mark.parametrize("cards, expected", [
    ((("XBINNING", 2), ("YBINNING", 3)), (2, 3)),
    ((("XBINNING", 2),), (2, 2)),
    ((("CCDXBIN", 4), ("CCDYBIN", 4)), (4, 4)),
    ((("BINNING", "2x2"),), (2, 2)),
    ((("BINNING", "3*3"),), (3, 3)),
    ((("BINNING", "1"),), (1, 1)),
    ((("CCDSUM", "2 2"),), (2, 2)),
    ((("XBINNING", 1.5),), (None, None)),
])
def test_binning_spellings(cards, expected):
    meta = normalize_header(header(*cards))
    assert (meta.binning_x, meta.binning_y) == expected


def test_temperatures():
    meta = normalize_header(header(("CCD_TEMP", 253.15), ("CCD-TSET", -20.0)))
    assert meta.ccd_temp_c == approx(-20.0) and meta.set_temp_c == -20.0
    far = normalize_header(header(("CCD-TEMP", -5.0), ("SET-TEMP", -25.0)))
    assert any("set point" in w for w in far.warnings)
    silly = normalize_header(header(("CCD-TEMP", 130.0)))
    assert silly.ccd_temp_c is None and silly.warnings


def test_egain_is_never_the_gain_and_iso_is():
    assert normalize_header(header(("EGAIN", 1.2))).gain is None
    assert normalize_header(header(("ISOSPEED", 800))).gain == 800.0


def test_zero_focal_length_means_unknown():
    assert normalize_header(header(("FOCALLEN", 0.0))).focal_length_mm is None


def test_site_from_geocentric_coordinates():
    meta = normalize_header(header(("OBSGEO-X", 4027894.0), ("OBSGEO-Y", 307045.0), ("OBSGEO-Z", 4919475.0)))
    assert meta.site_lat == pytest.approx(50.80, abs=0.01)
    assert meta.site_lon == pytest.approx(4.36, abs=0.01)


def test_altitude_is_elevation_only_when_in_metres():
    assert normalize_header(header(("ALTITUDE", 48.3))).site_elev is None
    assert normalize_header(header(("ALTITUDE", 311.8, "[meters] Observatory altitude"))).site_elev == 311.8


def test_size_of_raw_compressed_header():
    meta = normalize_header(header(("ZIMAGE", True), ("NAXIS1", 8), ("NAXIS2", 100), ("ZNAXIS1", 640),
                                   ("ZNAXIS2", 480)))
    assert (meta.width, meta.height) == (640, 480)


def test_unknown_program_keeps_its_name():
    meta = normalize_header(header(("SWCREATE", "SBIG Win CCDOPS Version 5.47")))
    assert meta.capture_program == "SBIG Win CCDOPS Version 5.47"
    assert normalize_header(header(("PROGRAM", "4.43"))).capture_program is None


@pytest.mark.parametrize("value, hours, expected", [
    ("-16 10 58.8", False, -(16 + 10 / 60 + 58.8 / 3600)),
    ("+46:52:00.408", False, 46 + 52 / 60 + 0.408 / 3600),
    ("-00 18 18", False, -(18 / 60 + 18 / 3600)),
    ("18h20m48s", True, (18 + 20 / 60 + 48 / 3600) * 15),
    ("-16d10m58.8s", False, -(16 + 10 / 60 + 58.8 / 3600)),
    ("3.7167", False, 3.7167),
    ("12 30 W", False, -12.5),
    ("51 3 0.000", False, 51.05),
    (4.5, True, 67.5),
    ("10 75 00", False, None),
    ("abc", False, None),
])
def test_parse_angle(value, hours, expected):
    result = parse_angle(value, hours=hours)
    assert result == (approx(expected) if expected is not None else None)


@pytest.mark.parametrize("value, expected", [
    (3, 3.0), ("120.00  ", 120.0), (" 9,78E-03", 0.00978), ("1.5D+02", 150.0),
    ("nan", None), (float("inf"), None), (True, None), ("1,000.5", None),
])
def test_to_float(value, expected):
    assert to_float(value) == (approx(expected) if expected is not None else None)


def test_empty_header():
    meta = normalize_header(fits.Header())
    assert isinstance(meta, FrameMeta)
    assert meta.frame_type == "unknown"
    assert meta.warnings


def test_unparsable_gain_labelled_in_electrons():
    meta = normalize_header(raw_header("GAIN    = 1,5 / e-/ADU"))
    assert meta.gain is None and any("e-/ADU" in w for w in meta.warnings)


def test_exposure_edge_cases():
    assert normalize_header(header(("EXPOINUS", 2500000))).exposure_s == 2.5
    negative = normalize_header(header(("EXPTIME", -1.0)))
    assert negative.exposure_s is None and any("negative" in w for w in negative.warnings)
    zero_light = normalize_header(header(("IMAGETYP", "Light Frame"), ("EXPTIME", 0.0)))
    assert any("zero exposure" in w for w in zero_light.warnings)


def test_bad_binning_text_warns():
    meta = normalize_header(header(("BINNING", "2 by 2 please")))
    assert meta.binning_x is None and any("BINNING" in w for w in meta.warnings)


def test_out_of_range_values_warn():
    meta = normalize_header(header(("RA", 400.0), ("DEC", 12.0), ("SITELONG", 350.0), ("SITEELEV", 20000.0),
                                   ("TIME-OBS", "noon"), ("DATE-OBS", "2020-01-02")))
    assert meta.ra_deg is None and meta.site_lon == -10.0 and meta.site_elev is None
    assert meta.date_obs == utc(2020, 1, 2)
    text = " | ".join(meta.warnings)
    assert "out of range" in text and "not plausible" in text and "TIME-OBS" in text


def test_geocentric_zeros_are_no_site():
    meta = normalize_header(header(("OBSGEO-X", 0.0), ("OBSGEO-Y", 0.0), ("OBSGEO-Z", 0.0)))
    assert meta.site_lat is None and meta.site_lon is None


@pytest.mark.parametrize("text", ["31/02/99", "tomorrow"])
def test_impossible_dates_warn(text):
    meta = normalize_header(header(("DATE-OBS", text)))
    assert meta.date_obs is None and any("not a date" in w for w in meta.warnings)


def test_parse_angle_rejects_non_values():
    assert parse_angle(None) is None and parse_angle(True) is None
    assert parse_angle(float("nan")) is None


def test_to_float_rejects_other_types():
    assert to_float(complex(1, 2)) is None and to_float(None) is None
