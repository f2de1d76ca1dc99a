"""Benchmark: safety latencies through a real RabbitMQ (the issue's target: p99 under 200 ms each).

Run with `.venv/bin/python -m tests.bench.bench_safety_latency [--rounds N]` (not part of the
suite). A private RabbitMQ node; the observatory side is the real node loop (`run_loop` with the
safety monitor, its publisher, and a roof controller on a simulated roof) on its own bus
connection; the telescope side is a real `TelescopeNode` (simulator backend) on another.

Per round:
1. rain → park: the weather file says rain; measured from the start of the monitor step that
   reads it to the telescope node calling its backend's park (monitor → SafetyState on
   RabbitMQ → telescope node).
2. park confirmed → close: the telescope node publishes its MountReport "parked"; measured from
   that report's publication to the roof controller's close command (RabbitMQ → park source →
   node loop woken → interlock → close).
Baseline, in the same run: one event's publish → delivery through the same broker (RabbitEventBus).
"""
from __future__ import annotations

import argparse
import json
import logging
import statistics
import tempfile
import threading
import time
from datetime import datetime, timezone
from pathlib import Path

from common import names
from common.config import load_config
from common.contracts import MountReport, SafetyState
from common.events import RabbitEventBus
from common.jobs import make_broker
from common.objectstore import LocalObjectStore
from node_observatory.cli import run_loop, status_handler
from node_observatory.publish import SafetyPublisher
from node_observatory.roof.base import RoofPosition
from node_observatory.roof.controller import RoofController, RoofSettings
from node_observatory.roof.park import BusParkSource, ParkReading, ParkSource
from node_observatory.roof.simulator import SimulatedRoof
from node_observatory.safety.factory import build_monitor
from node_telescope.node import TelescopeNode
from tests.servers import RabbitMQServer


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def summary(label: str, values_s: list[float], baseline_p50_s: float) -> str:
    ms = [v * 1000 for v in values_s]
    return (f"{label:<28} n={len(ms):3d}  p50 {statistics.median(ms):7.1f} ms  p99 {percentile(ms, 0.99):7.1f} ms  "
            f"max {max(ms):7.1f} ms  p50/baseline {statistics.median(values_s) / baseline_p50_s:6.1f}x")


class AlwaysParked(ParkSource):
    """The second park source (the mount over INDI in production), here always fresh and parked."""
    name = "direct"

    def read(self) -> ParkReading:
        return ParkReading(self.name, True, datetime.now(timezone.utc))


def wait_until(predicate, what: str, timeout_s: float = 15.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not predicate():
        if time.monotonic() > deadline:
            raise RuntimeError(f"timed out waiting for {what}")
        time.sleep(0.01)


def broker_baseline(url: str, rounds: int) -> list[float]:
    sender, receiver = RabbitEventBus(url), RabbitEventBus(url)
    got = threading.Event()
    receiver.subscribe(["bench.*.baseline"], lambda key, message: got.set())  # a transient queue, as the park source uses
    time.sleep(1.0)
    out = []
    try:
        for _ in range(rounds + 5):  # the first few warm the connections up and are not counted
            got.clear()
            t0 = time.monotonic()
            sender.publish("bench.x.baseline", SafetyState(node="roof1", state="safe"))
            if not got.wait(5):
                raise RuntimeError("baseline event not delivered")
            out.append(time.monotonic() - t0)
            time.sleep(0.02)
    finally:
        sender.close()
        receiver.close()
    return out[5:]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=50)
    args = parser.parse_args()
    logging.basicConfig(level=logging.ERROR)  # the nodes log every park and refused move as warnings
    with RabbitMQServer() as rabbit, tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        baseline = broker_baseline(rabbit.url, args.rounds)
        base_p50 = statistics.median(baseline)

        station = root / "weather.json"

        def weather(rain: bool) -> None:
            station.write_text(json.dumps({"time": datetime.now(timezone.utc).isoformat(), "rain": rain}))

        weather(False)
        obs_config = load_config("observatory", None, node={"name": "roof1"}, broker={"kind": "rabbitmq", "url": rabbit.url},
                                 safety={"min_safe_minutes": 0, "tick_s": 1.0, "sources": [
                                     {"name": "station", "type": "json", "path": str(station), "cadence_s": 0.05,
                                      "max_age_s": 60}]})
        tel_config = load_config("telescope", None, broker={"kind": "rabbitmq", "url": rabbit.url},
                                 spool={"path": str(root / "spool")}, simulator={"time_scale": 10_000})
        obs_bus, tel_bus = RabbitEventBus(rabbit.url), RabbitEventBus(rabbit.url)
        telescope = TelescopeNode(tel_config, broker=make_broker(tel_config.broker), bus=tel_bus,
                                  store=LocalObjectStore(root / "store"))
        park_called = threading.Event()
        park_times: list[float] = []
        real_park = telescope.backend.park

        def timed_park():
            park_times.append(time.monotonic())
            park_called.set()
            real_park()

        telescope.backend.park = timed_park
        telescope.backend.connect()
        tel_bus.subscribe([names.SAFETY_PATTERN], telescope.on_safety, queue_name="bench.telescope.safety")

        wake, stop = threading.Event(), threading.Event()
        roof = SimulatedRoof(travel_s=0.0, initial=RoofPosition.OPEN)
        close_times: list[float] = []
        real_close = roof.close

        def timed_close():
            close_times.append(time.monotonic())
            real_close()

        roof.close = timed_close
        reports = BusParkSource("scope1", on_update=wake.set)
        reports.subscribe(obs_bus)
        controller = RoofController("roof1", roof, [AlwaysParked(), reports], request_park=lambda: None,
                                    settings=RoofSettings(min_safe_s=0, park_max_age_s=60, republish_s=3600))
        monitor = build_monitor(obs_config, hold_at_start=False)
        step = {"started": 0.0, "first_unsafe": None}

        def clock():
            step["started"] = time.monotonic()
            return datetime.now(timezone.utc)

        publish = SafetyPublisher(obs_bus, "roof1", 30.0)

        def publish_and_note(status):
            # The step that first reads the rain is the one whose verdict turns unsafe.
            if status.state.value != "safe" and step["first_unsafe"] is None:
                step["first_unsafe"] = step["started"]
            return publish(status)

        handler = status_handler(publish_and_note, controller)
        loop = threading.Thread(target=run_loop, args=(monitor, 0.02, stop, lambda line: None, clock, handler, wake),
                                daemon=True)
        time.sleep(1.5)  # the consumers' queues are bound
        loop.start()
        rain_to_park, park_to_close = [], []
        try:
            for _ in range(args.rounds):
                # Reset: dry sky, mount parked, roof opened, then the mount unparks.
                weather(False)
                tel_bus.publish(names.mount_key("scope1"), MountReport(node="scope1", parked=True))
                wait_until(lambda: controller.sky(datetime.now(timezone.utc)) == "safe", "a safe sky")
                wait_until(lambda: controller.command("open").accepted, "the open command accepted")
                wait_until(lambda: roof.state is RoofPosition.OPEN, "the roof open")
                telescope.backend.slew(10.0, 41.0, "M 31")
                tel_bus.publish(names.mount_key("scope1"), MountReport(node="scope1", parked=False))
                wait_until(lambda: reports.read().parked is False, "the unparked report")
                park_called.clear()
                step["first_unsafe"] = None
                weather(True)
                if not park_called.wait(10):
                    raise RuntimeError("the telescope node never parked")
                rain_to_park.append(park_times[-1] - step["first_unsafe"])
                closes = len(close_times)
                sent = time.monotonic()
                tel_bus.publish(names.mount_key("scope1"), MountReport(node="scope1", parked=True))
                deadline = time.monotonic() + 10
                while len(close_times) == closes and time.monotonic() < deadline:
                    time.sleep(0.001)
                if len(close_times) == closes:
                    raise RuntimeError("the roof never got its close command")
                park_to_close.append(close_times[-1] - sent)
        finally:
            stop.set()
            wake.set()
            loop.join(5)
            obs_bus.close()
            tel_bus.close()
        print(f"RabbitMQ {rabbit.url.split('@')[-1]}, {args.rounds} rounds")
        print(summary("baseline publish→deliver", baseline, base_p50))
        print(summary("rain reading → park", rain_to_park, base_p50))
        print(summary("park confirmed → close", park_to_close, base_p50))


if __name__ == "__main__":
    main()
