"""``obsy observatory``: the observatory node: safety monitor and, when ``[roof]`` is configured, roof control."""
from __future__ import annotations

import json
import signal
import threading
import time
from datetime import datetime, timezone
from typing import Callable

import click

from common import names
from common.cli import load_role_config

from .safety.monitor import SafetyMonitor, SafetyStatus


def utc_now() -> datetime:
    return datetime.now(timezone.utc)


def _value_text(value) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def format_status(status: SafetyStatus) -> str:
    """A readable table of the state and every source."""
    when = status.time.isoformat(timespec="seconds")
    lines = [f"state: {status.state.value}  (conditions {status.conditions.value}, at {when})"]
    lines += [f"  - {reason}" for reason in status.reasons]
    lines.append("")
    lines.append(f"{'source':<16} {'kind':<9} {'verdict':<8} {'age':>9}  values")
    for source in status.sources:
        age = "-" if source.age_s is None else f"{round(source.age_s):d} s"
        values = source.reading.values if source.reading else {}
        shown = ", ".join(f"{k}={_value_text(v)}" for k, v in values.items())
        lines.append(f"{source.name:<16} {'required' if source.required else 'advisory':<9} "
                     f"{source.verdict.value:<8} {age:>9}  {shown}")
        lines += [f"{'':<16} {'':<9} {'':<8} {'':>9}  ! {reason}" for reason in source.reasons]
    return "\n".join(lines)


def run_loop(monitor: SafetyMonitor, tick_s: float, stop: threading.Event,
             echo: Callable[[str], None], clock: Callable[[], datetime] = utc_now,
             on_status: Callable[[SafetyStatus], object] = lambda status: None,
             wake: threading.Event | None = None) -> SafetyStatus | None:
    """Step the monitor every ``tick_s``, or at once when ``wake`` is set (a park report, a roof
    command), until ``stop`` is set; echo each change of state."""
    wake = wake if wake is not None else stop
    last: SafetyStatus | None = None
    while not stop.is_set():
        status = monitor.step(clock())
        on_status(status)
        if last is None or status.state is not last.state:
            reasons = "; ".join(status.reasons) or "all required sources safe"
            echo(f"{status.time.isoformat(timespec='seconds')} safety {status.state.value}: {reasons}")
        last = status
        wake.wait(tick_s)
        if wake is not stop:
            wake.clear()
    return last


def status_handler(publish: Callable[[SafetyStatus], object], roof=None,
                   exports: Callable[[SafetyStatus], object] | None = None,
                   commands=None, notify: Callable[[SafetyStatus], object] | None = None
                   ) -> Callable[[SafetyStatus], None]:
    """Each tick: publish the verdict, hand it to the exports and the notifications (which only
    queue), carry out people's roof commands, then let the roof controller act on it all."""
    def handle(status: SafetyStatus) -> None:
        publish(status)
        if exports is not None:
            exports(status)
        if notify is not None:
            notify(status)
        if roof is not None:
            roof.on_safety(status.state.value, status.time)
            if commands is not None:
                commands.run_pending()
            roof.step()
    return handle


def _publishers(*publishers) -> Callable[[SafetyStatus], None]:
    def publish(status: SafetyStatus) -> None:
        for each in publishers:
            each(status)
    return publish


@click.group("observatory", invoke_without_command=True)
@click.option("--config", "config_path", type=click.Path(dir_okay=False),
              help="TOML config (default ~/.config/obsy/observatory.toml).")
@click.pass_context
def observatory_group(ctx, config_path) -> None:
    """The observatory node: for now, the safety monitor, publishing and printing its verdict."""
    ctx.obj = {"config_path": config_path}
    if ctx.invoked_subcommand is not None:
        return
    from .safety.factory import build_monitor

    config = load_role_config("observatory", config_path)
    monitor = build_monitor(config)
    stop, wake = threading.Event(), threading.Event()

    def on_signal(*_):
        stop.set()
        wake.set()

    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, on_signal)
    from common.events import make_event_bus
    from .publish import CloudMapPublisher, SafetyPublisher, WeatherPublisher

    from .exports.factory import start_exports
    from .notify.factory import build_notifications
    from .roof.factory import build_roof_controller

    bus = make_event_bus(config.broker)
    notifications = build_notifications(config)
    roof = build_roof_controller(config, bus, wake, on_alarm=notifications.on_alarm)
    commands = None
    if roof is not None:
        from .roof.commands import RoofCommands

        node_name = config.node.name
        commands = RoofCommands(node_name, roof, lambda result: bus.publish(names.roof_result_key(node_name), result),
                                max_age_s=config.roof.command_max_age_s, on_queued=wake.set)
        bus.subscribe([names.roof_command_key(node_name)], commands.on_event)
    exports = start_exports(config)
    click.echo(f"observatory node {config.node.name}: safety monitor with {len(monitor.slots)} source(s), "
               f"publishing on {names.safety_key(config.node.name)}; "
               + (f"roof ({config.roof.kind}) on {names.roof_key(config.node.name)}" if roof else "no roof control")
               + f"; {exports.describe()}; {notifications.describe()}")
    try:
        if roof is not None:
            roof.recover()
        run_loop(monitor, config.safety.tick_s, stop, click.echo,
                 on_status=status_handler(_publishers(SafetyPublisher(bus, config.node.name, config.publish_every_s),
                                                      CloudMapPublisher(bus, config.node.name, monitor),
                                                      WeatherPublisher(bus, config.node.name, config.publish_every_s)), roof,
                                          exports, commands, notifications.on_status), wake=wake)
    finally:
        notifications.close()
        exports.close()
        bus.close()


@observatory_group.command("status")
@click.option("--once", is_flag=True, help="Evaluate every source once and exit (required for now).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
@click.option("--config", "config_path", type=click.Path(dir_okay=False),
              help="TOML config (default ~/.config/obsy/observatory.toml).")
@click.pass_context
def status_command(ctx, once: bool, as_json: bool, config_path: str | None) -> None:
    """Read every configured safety source once and print the combined state.

    The minimum safe time is not applied to a one-shot evaluation: the state shows the
    conditions now, and url sources wait for their fetch (each up to twice its timeout_s)
    when their cached copy is due. Exit status 0 when safe, 1 otherwise.
    """
    from .safety.factory import build_monitor

    if not once:
        raise click.UsageError("asking a running node for its status needs the broker (not built yet); "
                               "use --once to evaluate the sources here")
    config = load_role_config("observatory", config_path or (ctx.obj or {}).get("config_path"))
    monitor = build_monitor(config, hold_at_start=False, wait_fetch=True)
    started = time.monotonic()
    status = monitor.step(utc_now())
    if as_json:
        payload = status.to_dict()
        payload["node"] = config.node.name
        payload["elapsed_s"] = round(time.monotonic() - started, 3)
        click.echo(json.dumps(payload, indent=2))
    else:
        click.echo(format_status(status))
    ctx.exit(0 if status.is_safe else 1)
