"""Job broker wiring: RabbitMQ through dramatiq, or dramatiq's in-process broker.

A node enqueues a job by actor name (from ``common.names``) without importing
the master. Invalid messages raise ``InvalidMessage``: they are never retried,
their reason is recorded, and the broker moves them to its dead-letter queue
(``<queue>.XQ`` on RabbitMQ).
"""
from __future__ import annotations

import logging
from typing import Callable

import dramatiq
from dramatiq.encoder import JSONEncoder
from dramatiq.errors import DecodeError
from dramatiq.middleware import Middleware

from . import names
from .contracts import IngestFrame, InvalidMessage, Message, ScheduleJob

log = logging.getLogger(__name__)

# Bounded retries with back-off: about an hour of attempts before dead-lettering.
RETRY_OPTIONS = dict(max_retries=20, min_backoff=500, max_backoff=300_000)


class DeadLetterReasons(Middleware):
    """Calls ``recorder(message, reason)`` whenever a message is given up on."""

    def __init__(self, recorder: Callable[[dramatiq.Message, str], None]):
        self.recorder = recorder

    def after_process_message(self, broker, message, *, result=None, exception=None):
        if exception is None:
            return
        if isinstance(exception, InvalidMessage):
            reason = exception.reason
        else:
            retries = message.options.get("retries", 0)
            limit = message.options.get("max_retries", RETRY_OPTIONS["max_retries"])
            if retries < limit:
                return
            reason = f"gave up after {retries} attempts: {type(exception).__name__}: {exception}"
        try:
            self.recorder(message, reason)
        except Exception:  # recording must never take the worker down
            log.exception("could not record dead-letter reason for %s", message.message_id)


MESSAGE_FIELDS = ("queue_name", "actor_name", "args", "kwargs", "options", "message_id", "message_timestamp")


class ReasonRecordingEncoder(JSONEncoder):
    """dramatiq's JSON encoding, plus a recorded reason for bodies it cannot decode.

    dramatiq dead-letters such bodies by itself (nack → ``<queue>.XQ``) but
    only logs why; this keeps the why where a person will look for it.
    """

    def __init__(self, recorder: Callable[[bytes, str], None]):
        self.recorder = recorder

    def decode(self, data: bytes):
        try:
            fields = super().decode(data)
            if not isinstance(fields, dict):
                raise DecodeError(f"a job must be a JSON object, got {type(fields).__name__}", data, None)
            missing = [name for name in MESSAGE_FIELDS if name not in fields]
            if missing:
                raise DecodeError(f"not a dramatiq job: missing {', '.join(missing)}", data, None)
            return fields
        except DecodeError as exc:
            try:
                self.recorder(bytes(data) if isinstance(data, (bytes, bytearray)) else str(data).encode(),
                              f"undecodable job: {exc.args[0][:300]}")
            except Exception:
                log.exception("could not record an undecodable job")
            raise


def make_broker(config, middleware: list[Middleware] | None = None) -> dramatiq.Broker:
    """The job broker a ``BrokerConfig`` describes."""
    if config.kind == "rabbitmq":
        from dramatiq.brokers.rabbitmq import RabbitmqBroker

        broker = RabbitmqBroker(url=config.url, confirm_delivery=True)
    else:
        from dramatiq.brokers.stub import StubBroker

        broker = StubBroker()
        broker.emit_after("process_boot")
    for item in middleware or []:
        broker.add_middleware(item)
    broker.declare_queue(names.INGEST_QUEUE)
    broker.declare_queue(names.PROCESSING_QUEUE)
    broker.declare_queue(names.SCIENCE_QUEUE)
    return broker


def send_schedule(broker: dramatiq.Broker, job: ScheduleJob) -> None:
    """Hand a night's schedule to one telescope node."""
    queue = names.schedule_queue(job.node)
    broker.declare_queue(queue)
    broker.enqueue(dramatiq.Message(queue_name=queue, actor_name=names.RUN_SCHEDULE_ACTOR,
                                    args=(job.to_wire(),), kwargs={}, options={}))


def send_ingest_frame(broker: dramatiq.Broker, job: IngestFrame) -> None:
    """Claim check: ask the master to ingest the object named in ``job``."""
    message = dramatiq.Message(
        queue_name=names.INGEST_QUEUE,
        actor_name=names.INGEST_FRAME_ACTOR,
        args=(job.to_wire(),),
        kwargs={},
        options={},
    )
    broker.enqueue(message)


def send_science_job(broker: dramatiq.Broker, actor_name: str, job: Message) -> None:
    """A science job (``SolexJob``, ``PhotometryJob``) for the master's workers."""
    broker.enqueue(dramatiq.Message(queue_name=names.SCIENCE_QUEUE, actor_name=actor_name,
                                    args=(job.to_wire(),), kwargs={}, options={}))
