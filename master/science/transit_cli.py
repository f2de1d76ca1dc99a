"""``obsy science transit LIGHTCURVE.csv``: fit a transit to a light curve and write the AAVSO report.

The light curve is the CSV a photometry run stores (``bjd_tdb``, ``rel_flux``, ``rel_flux_err``,
``airmass``, ``good``); flagged rows are left out.
"""
from __future__ import annotations

from pathlib import Path

import click

__all__ = ["transit_command", "read_curve"]


def read_curve(path: str | Path) -> dict:
    """Time, flux, error and airmass arrays of the good rows; ClickException if the file is not a light curve."""
    from .lightcurve_csv import parse_lightcurve_csv, transit_arrays

    try:
        return transit_arrays(parse_lightcurve_csv(Path(path).read_text()))
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise click.ClickException(f"cannot read {path}: {exc}") from None


@click.command("transit")
@click.argument("path", type=click.Path(exists=True, dir_okay=False))
@click.option("--period", type=float, required=True, help="Orbital period, days (fixed).")
@click.option("--t0", type=float, required=True, help="First guess of the mid-time, BJD_TDB.")
@click.option("--rp", type=float, default=0.1, show_default=True, help="First guess of Rp/R*.")
@click.option("--a", "a_rs", type=float, default=10.0, show_default=True, help="First guess of a/R*.")
@click.option("--inc", type=float, default=88.0, show_default=True, help="First guess of the inclination, degrees.")
@click.option("--u1", type=float, default=0.4, show_default=True, help="Quadratic limb darkening (fixed).")
@click.option("--u2", type=float, default=0.2, show_default=True)
@click.option("--mcmc-steps", type=int, default=0, show_default=True,
              help="emcee steps after the least-squares fit (0: errors from the covariance).")
@click.option("--obscode", default="na", show_default=True, help="AAVSO observer code.")
@click.option("--star", "star_name", default="na", show_default=True, help="Host star name.")
@click.option("--planet", "planet_name", default="na", show_default=True, help="Planet name.")
@click.option("--filter", "filter_name", default="CV", show_default=True, help="AAVSO filter code.")
@click.option("--exposure", type=float, default=0.0, show_default=True, help="Exposure time, seconds.")
@click.option("--report", "report_path", type=click.Path(dir_okay=False), help="AAVSO exoplanet report to write.")
def transit_command(path, period, t0, rp, a_rs, inc, u1, u2, mcmc_steps, obscode, star_name, planet_name, filter_name,
                    exposure, report_path) -> None:
    """Fit a transit (batman model, airmass detrending) to a photometry run's light curve CSV."""
    from .transit import TransitParams, fit_transit, format_exotic_report

    curve = read_curve(path)
    params = TransitParams(period=period, tc=t0, rp=rp, a=a_rs, inc=inc, u1=u1, u2=u2)
    try:
        fit = fit_transit(curve["time"], curve["flux"], curve["flux_err"], params, curve["airmass"],
                          mcmc_steps=mcmc_steps)
    except ValueError as exc:
        raise click.ClickException(str(exc)) from None
    v, e = fit.values, fit.errors
    click.echo(f"Tc       {v['tc']:.5f} ± {e['tc']:.5f} BJD_TDB")
    click.echo(f"Rp/R*    {v['rp']:.4f} ± {e['rp']:.4f}")
    click.echo(f"depth    {fit.depth:.5f} ± {2 * v['rp'] * e['rp']:.5f}")
    click.echo(f"duration {fit.duration * 24:.3f} ± {fit.duration_err * 24:.3f} h")
    click.echo(f"a/R*     {v['a']:.2f} ± {e['a']:.2f}")
    click.echo(f"inc      {v['inc']:.2f} ± {e['inc']:.2f} deg")
    click.echo(f"chi2     {fit.chi2:.1f} for {fit.dof} degrees of freedom ({fit.method}, {len(fit.time)} points)")
    if report_path:
        Path(report_path).write_text(format_exotic_report(
            fit, obscode=obscode, star_name=star_name, planet_name=planet_name, filter_name=filter_name,
            exposure_time=exposure))
        click.echo(f"report written to {report_path}")
