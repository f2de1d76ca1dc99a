"""The master worker: dramatiq actors (ingest) plus the event consumer (node events).

``obsy master worker`` runs a supervisor that keeps N worker processes alive
(each with T threads) and consumes node events itself.
"""
from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import sys
import threading
import time

import dramatiq
from dramatiq import Worker

from common import names
from common.contracts import (CloudMap, FrameIngested, InvalidMessage, JobProgress, NodeHeartbeat, RebuildMaster,
                              RoofCommandResult, RoofState, SafetyState, SolexJob, UpdateLiveStack, WeatherReport,
                              parse_message)
from common.jobs import RETRY_OPTIONS, DeadLetterReasons, ReasonRecordingEncoder, make_broker, send_science_job
from .ingest.claim import ingest_claim
from .library.build import rebuild_master
from .library.triggers import on_frame_ingested
from .live import start_live_publisher
from .stacking.final import run_final_stack
from .stacking.live import update_live_stack
from .science.photometry_job import run_photometry_job
from .science.transit_job import run_transit_job
from .science.solex_job import run_solex
from .auto_replan import auto_replan, safety_before
from .models import DeadLetter
from .nodes import (record_cloud_map, record_heartbeat, record_job_progress, record_roof_result, record_roof_state,
                    record_safety, record_weather)

log = logging.getLogger(__name__)
NODE_EVENTS_QUEUE = "obsy.master.node-events"
PROCESSING_TRIGGERS_QUEUE = "obsy.master.processing-triggers"
WORKER_QUEUES = {names.INGEST_QUEUE, names.PROCESSING_QUEUE, names.SCIENCE_QUEUE}


def dead_letter_recorder(services):
    def record(message: dramatiq.Message, reason: str) -> None:
        body = json.dumps(message.args[0] if message.args else None, default=str)[:100_000]
        with services.sessions() as session:
            session.add(DeadLetter(queue=message.queue_name, message_id=message.message_id,
                                   reason=reason, body=body))
            session.commit()
        log.warning("dead-lettered %s on %s: %s", message.message_id, message.queue_name, reason)
    return record


def printable(body: bytes) -> str:
    # Text columns (PostgreSQL) refuse NUL; keep every other byte visible.
    return body.decode("utf-8", "backslashreplace").replace("\x00", "\\x00")


def undecodable_recorder(services):
    def record(body: bytes, reason: str) -> None:
        with services.sessions() as session:
            session.add(DeadLetter(queue=names.INGEST_QUEUE, message_id=None, reason=reason.replace("\x00", "\\x00"),
                                   body=printable(body[:100_000])))
            session.commit()
        log.warning("dead-lettered an undecodable job: %s", reason)
    return record


def build_broker(services, broker=None) -> dramatiq.Broker:
    """The broker with the master's actors registered on it."""
    if broker is None:
        broker = make_broker(services.config.broker)
    broker.add_middleware(DeadLetterReasons(dead_letter_recorder(services)))

    def queue_solex(capture_id: int) -> None:
        send_science_job(broker, names.SOLEX_ACTOR, SolexJob(ser_capture_id=capture_id))

    def ingest_frame(message):
        ingest_claim(services, message, on_ser=queue_solex)

    def solex_reconstruct(message):
        run_solex(services, message)

    def photometry_run(message):
        run_photometry_job(services, message)

    def final_stack(message):
        run_final_stack(services, message)

    def transit_fit(message):
        run_transit_job(services, message)

    dramatiq.actor(ingest_frame, broker=broker, actor_name=names.INGEST_FRAME_ACTOR,
                   queue_name=names.INGEST_QUEUE, throws=(InvalidMessage,), time_limit=600_000,
                   **RETRY_OPTIONS)

    def rebuild(message):
        rebuild_master(services, parse_message(message, RebuildMaster))

    dramatiq.actor(rebuild, broker=broker, actor_name=names.REBUILD_MASTER_ACTOR,
                   queue_name=names.PROCESSING_QUEUE, throws=(InvalidMessage,), time_limit=1_800_000,
                   **RETRY_OPTIONS)

    def live_stack(message):
        update_live_stack(services, parse_message(message, UpdateLiveStack))

    dramatiq.actor(live_stack, broker=broker, actor_name=names.UPDATE_LIVE_STACK_ACTOR,
                   queue_name=names.PROCESSING_QUEUE, throws=(InvalidMessage,), time_limit=300_000,
                   **RETRY_OPTIONS)
    for actor, name in ((solex_reconstruct, names.SOLEX_ACTOR), (photometry_run, names.PHOTOMETRY_ACTOR),
                        (final_stack, names.FINAL_STACK_ACTOR), (transit_fit, names.TRANSIT_ACTOR)):
        # a long scan or a night of frames: an hour before dramatiq gives up on the attempt
        dramatiq.actor(actor, broker=broker, actor_name=name, queue_name=names.SCIENCE_QUEUE,
                       throws=(InvalidMessage,), time_limit=3_600_000, **RETRY_OPTIONS)
    return broker


def subscribe_events(services) -> None:
    recorders = {NodeHeartbeat: record_heartbeat, JobProgress: record_job_progress, SafetyState: record_safety,
                 RoofState: record_roof_state, RoofCommandResult: record_roof_result, WeatherReport: record_weather,
                 CloudMap: record_cloud_map}

    def on_event(routing_key, message):
        record = recorders.get(type(message))
        if record is None:
            return
        before = safety_before(services.sessions, message.node) if isinstance(message, SafetyState) else None
        record(services.sessions, message)
        if isinstance(message, SafetyState) and before == "unsafe" and message.state == "safe":
            auto_replan(services, safety=message.state, safety_before=before)
        elif isinstance(message, CloudMap):
            auto_replan(services)

    services.bus.subscribe([names.HEARTBEAT_PATTERN, names.JOB_PROGRESS_PATTERN, names.SAFETY_PATTERN,
                            names.ROOF_PATTERN, names.ROOF_RESULT_PATTERN, names.WEATHER_PATTERN,
                            names.CLOUDS_PATTERN], on_event, queue_name=NODE_EVENTS_QUEUE)

    def on_ingested(routing_key, message):
        if isinstance(message, FrameIngested):
            on_frame_ingested(services, message)

    services.bus.subscribe([names.FRAME_INGESTED_KEY], on_ingested, queue_name=PROCESSING_TRIGGERS_QUEUE)


def run_worker_process(config, threads: int) -> None:
    """One worker process: consume jobs until SIGTERM/SIGINT."""
    from .services import MasterServices

    services = MasterServices(config)
    dramatiq.set_encoder(ReasonRecordingEncoder(undecodable_recorder(services)))
    broker = build_broker(services)
    worker = Worker(broker, queues=WORKER_QUEUES, worker_threads=threads, worker_timeout=1000)
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    worker.start()
    parent = os.getppid()
    threading.Thread(target=_exit_with_parent, args=(parent, stop), daemon=True).start()
    log.info("worker process %s consuming %s with %d threads", os.getpid(), sorted(WORKER_QUEUES), threads)
    stop.wait()
    worker.stop(timeout=10_000)
    broker.close()
    services.close()


def _exit_with_parent(parent: int, stop: threading.Event) -> None:
    # If the supervisor dies (even by SIGKILL) its workers must not run on unsupervised.
    while not stop.wait(1.0):
        if os.getppid() != parent:
            log.warning("supervisor %s is gone; worker %s stopping", parent, os.getpid())
            stop.set()


def supervise(config, config_path: str | None, processes: int, threads: int) -> None:
    """Keep ``processes`` worker processes running; consume events here."""
    from .services import MasterServices

    services = MasterServices(config)  # migrates once, before children start
    subscribe_events(services)
    live_publisher = start_live_publisher(services)  # MQTT live topics, when [mqtt] host is set
    command = [sys.executable, "-m", "master.worker_process", "--threads", str(threads)]
    if config_path:
        command += ["--config", str(config_path)]
    children: list[subprocess.Popen] = []
    stopping = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stopping.set())
    try:
        children = [subprocess.Popen(command) for _ in range(processes)]
        print(f"obsy master worker: {processes} processes x {threads} threads", flush=True)
        while not stopping.wait(1.0):
            for index, child in enumerate(children):
                if child.poll() is not None:
                    log.warning("worker process %s exited with %s; restarting", child.pid, child.returncode)
                    time.sleep(1.0)
                    children[index] = subprocess.Popen(command)
    finally:
        for child in children:
            if child.poll() is None:
                child.terminate()
        for child in children:
            try:
                child.wait(timeout=15)
            except subprocess.TimeoutExpired:
                child.kill()
        if live_publisher is not None:
            live_publisher.stop()
        services.close()
