"""The event bus: a RabbitMQ topic exchange through pika, or in-process.

Routing keys are ``<role>.<node>.<kind>``; patterns use AMQP topic syntax
(``*`` one word, ``#`` any number). Handlers receive validated messages; an
invalid one is set aside with its reason (RabbitMQ: the ``obsy.events.dead``
queue) and never stops the consumer.
"""
from __future__ import annotations

import logging
import queue
import re
import threading
import time
from abc import ABC, abstractmethod
from typing import Callable

from . import names
from .contracts import InvalidMessage, Message, parse_message

log = logging.getLogger(__name__)

Handler = Callable[[str, Message], None]
DEAD_EVENTS_QUEUE = f"{names.EVENTS_EXCHANGE}.dead"


def topic_matches(pattern: str, key: str) -> bool:
    parts = []
    for word in pattern.split("."):
        parts.append({"*": r"[^.]+", "#": r".*"}.get(word, re.escape(word)))
    regex = r"\.".join(parts).replace(r".*\.", r"(?:.*\.)?")
    return re.fullmatch(regex, key) is not None


class EventBus(ABC):
    @abstractmethod
    def publish(self, routing_key: str, message: Message) -> None: ...

    @abstractmethod
    def subscribe(self, patterns: list[str], handler: Handler, queue_name: str | None = None) -> None:
        """Deliver matching events to ``handler``; a named queue is durable and
        keeps events while the subscriber is away."""

    def close(self) -> None:
        pass


class InProcessEventBus(EventBus):
    """Events delivered on one dispatcher thread, in publish order."""

    def __init__(self):
        self._subscribers: list[tuple[list[str], Handler]] = []
        self._queue: queue.Queue = queue.Queue()
        self.dead: list[tuple[str, str]] = []
        self._thread = threading.Thread(target=self._run, name="obsy-events", daemon=True)
        self._thread.start()

    def publish(self, routing_key, message):
        self._queue.put((routing_key, message.to_json()))

    def publish_raw(self, routing_key: str, body: bytes | str) -> None:
        self._queue.put((routing_key, body))

    def subscribe(self, patterns, handler, queue_name=None):
        self._subscribers.append((list(patterns), handler))

    def _run(self):
        while True:
            item = self._queue.get()
            if item is None:
                return
            key, body = item
            if key == "__drain__":
                body.set()
                continue
            try:
                message = parse_message(body)
            except InvalidMessage as exc:
                log.warning("dropping invalid event %s: %s", key, exc.reason)
                self.dead.append((key, exc.reason))
                continue
            for patterns, handler in list(self._subscribers):
                if any(topic_matches(p, key) for p in patterns):
                    try:
                        handler(key, message)
                    except Exception:
                        log.exception("event handler failed for %s", key)

    def drain(self, timeout: float = 5.0) -> None:
        """Wait until every event published so far has been handled."""
        done = threading.Event()
        self._queue.put(("__drain__", done))
        done.wait(timeout)

    def close(self):
        self._queue.put(None)


class RabbitEventBus(EventBus):
    """Topic exchange ``obsy.events``; one connection per publishing thread,
    one per subscription, each reconnecting with back-off."""

    def __init__(self, url: str, connect_timeout: float = 5.0):
        import pika

        self._pika = pika
        self.params = pika.URLParameters(url)
        self.params.socket_timeout = connect_timeout
        self.params.blocked_connection_timeout = 30
        self._local = threading.local()
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []

    def _declare(self, channel):
        channel.exchange_declare(names.EVENTS_EXCHANGE, exchange_type="topic", durable=True)
        channel.queue_declare(DEAD_EVENTS_QUEUE, durable=True)

    def _publisher_channel(self):
        channel = getattr(self._local, "channel", None)
        if channel is None or channel.is_closed or channel.connection.is_closed:
            connection = self._pika.BlockingConnection(self.params)
            channel = connection.channel()
            channel.confirm_delivery()
            self._declare(channel)
            self._local.channel = channel
        return channel

    def publish(self, routing_key, message):
        self.publish_raw(routing_key, message.to_json().encode())

    def publish_raw(self, routing_key: str, body: bytes, headers: dict | None = None,
                    exchange: str = names.EVENTS_EXCHANGE) -> None:
        properties = self._pika.BasicProperties(
            content_type="application/json", delivery_mode=2, headers=headers or None)
        for attempt in (1, 2):
            try:
                self._publisher_channel().basic_publish(exchange, routing_key, body, properties)
                return
            except self._pika.exceptions.AMQPError:
                self._local.channel = None
                if attempt == 2:
                    raise

    def subscribe(self, patterns, handler, queue_name=None):
        if queue_name:
            # Declare the durable queue now, so events published from this moment
            # are kept even before the consumer thread is connected.
            try:
                self._bind(queue_name, patterns)
            except self._pika.exceptions.AMQPError as exc:
                log.warning("could not declare %s yet (%s); the consumer will retry", queue_name, exc)
        thread = threading.Thread(target=self._consume_forever, args=(list(patterns), handler, queue_name),
                                  name=f"obsy-events-{queue_name or 'anon'}", daemon=True)
        thread.start()
        self._threads.append(thread)

    def _bind(self, queue_name, patterns):
        connection = self._pika.BlockingConnection(self.params)
        try:
            channel = connection.channel()
            self._declare(channel)
            channel.queue_declare(queue_name, durable=True)
            for pattern in patterns:
                channel.queue_bind(queue_name, names.EVENTS_EXCHANGE, routing_key=pattern)
        finally:
            connection.close()

    def _consume_forever(self, patterns, handler, queue_name):
        delay = 0.5
        while not self._stop.is_set():
            try:
                self._consume(patterns, handler, queue_name)
                delay = 0.5
            except self._pika.exceptions.AMQPError as exc:
                log.warning("event subscription lost (%s); reconnecting in %.1fs", exc, delay)
            except Exception:
                log.exception("event subscription failed; reconnecting in %.1fs", delay)
            self._stop.wait(delay)
            delay = min(delay * 2, 10.0)

    def _consume(self, patterns, handler, queue_name):
        connection = self._pika.BlockingConnection(self.params)
        try:
            channel = connection.channel()
            self._declare(channel)
            if queue_name:
                channel.queue_declare(queue_name, durable=True)
                name = queue_name
            else:
                name = channel.queue_declare("", exclusive=True, auto_delete=True).method.queue
            for pattern in patterns:
                channel.queue_bind(name, names.EVENTS_EXCHANGE, routing_key=pattern)
            channel.basic_qos(prefetch_count=50)
            for method, properties, body in channel.consume(name, inactivity_timeout=0.5):
                if self._stop.is_set():
                    break
                if method is None:
                    continue
                self._deliver(channel, method, body, handler)
            channel.cancel()
        finally:
            if connection.is_open:
                connection.close()

    def _deliver(self, channel, method, body, handler):
        try:
            message = parse_message(body)
        except InvalidMessage as exc:
            log.warning("invalid event on %s: %s", method.routing_key, exc.reason)
            channel.basic_publish("", DEAD_EVENTS_QUEUE, body, self._pika.BasicProperties(
                delivery_mode=2, headers={"x-obsy-reason": exc.reason[:1000],
                                          "x-obsy-routing-key": method.routing_key}))
            channel.basic_ack(method.delivery_tag)
            return
        try:
            handler(method.routing_key, message)
        except Exception:
            # The handler could not finish (e.g. database down): try again later.
            log.exception("event handler failed for %s; requeueing", method.routing_key)
            time.sleep(1.0)
            channel.basic_nack(method.delivery_tag, requeue=True)
            return
        channel.basic_ack(method.delivery_tag)

    def close(self):
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=3)
        channel = getattr(self._local, "channel", None)
        if channel is not None and channel.connection.is_open:
            channel.connection.close()


def make_event_bus(config) -> EventBus:
    if config.kind == "rabbitmq":
        return RabbitEventBus(config.url)
    return InProcessEventBus()
