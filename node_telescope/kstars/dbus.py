"""A small D-Bus session client for talking to KStars (jeepney, pure Python).

Every call has a timeout and every failure becomes ``DBusFailure`` with the
object, method and cause, so that a KStars that hangs or dies shows up as a
clear error within a bounded time, never as a blocked thread.

jeepney rather than dbus-python: dbus-python only builds from source and
needs a GLib main loop (PyGObject) to receive signals; jeepney receives them
on its own thread into plain queues, which is what a node process wants.
"""
from __future__ import annotations

import os
import queue
import threading
from dataclasses import dataclass

from jeepney import DBusAddress, DBusErrorResponse, HeaderFields, MatchRule, MessageType, Properties, message_bus, new_method_call
from jeepney.low_level import Message
from jeepney.io.threading import DBusConnection, DBusRouter, Proxy, RouterClosed, open_dbus_connection

KSTARS_SERVICE = "org.kde.kstars"


class DBusFailure(Exception):
    """A D-Bus call failed: no answer in time, an error reply, or a lost bus."""


@dataclass(frozen=True)
class Signal:
    path: str
    interface: str
    member: str
    args: tuple

    @property
    def key(self) -> str:
        return f"{self.path.rsplit('/', 1)[-1]}.{self.member}"


def unwrap(value):
    """A D-Bus variant (signature, value) → value; one-field structs such as ``(i)`` → their field."""
    if isinstance(value, tuple) and len(value) == 2 and isinstance(value[0], str) and value[0].isprintable() \
            and len(value[0]) <= 4 and not value[0].startswith("("):
        value = value[1]
    if isinstance(value, tuple) and len(value) == 1:
        value = value[0]
    if isinstance(value, dict):
        return {k: unwrap(v) for k, v in value.items()}
    return value


class SessionBus:
    """One connection to a session bus, with a receiver thread feeding signal queues."""

    def __init__(self, address: str = "", timeout_s: float = 10.0):
        self.address = address or os.environ.get("DBUS_SESSION_BUS_ADDRESS", "")
        if not self.address:
            raise DBusFailure("no D-Bus session bus: set ekos.dbus_address or DBUS_SESSION_BUS_ADDRESS")
        self.timeout_s = timeout_s
        try:
            self._conn: DBusConnection = open_dbus_connection(bus=self.address, auth_timeout=timeout_s)
        except (OSError, TimeoutError, ValueError) as exc:
            raise DBusFailure(f"cannot connect to the D-Bus session bus {self.address}: {exc}") from None
        self._router = DBusRouter(self._conn)
        self._bus = Proxy(message_bus, self._router, timeout=timeout_s)
        self._lock = threading.Lock()
        self._closed = False

    # --- calls ------------------------------------------------------------------
    def call(self, path: str, interface: str, method: str, signature: str | None = None, *args,
             service: str = KSTARS_SERVICE, timeout_s: float | None = None) -> tuple:
        address = DBusAddress(path, bus_name=service, interface=interface)
        message = new_method_call(address, method, signature, args) if signature else new_method_call(address, method)
        return self._send(message, f"{interface}.{method} on {path}", timeout_s).body

    def get(self, path: str, interface: str, name: str, *, timeout_s: float | None = None):
        message = Properties(DBusAddress(path, bus_name=KSTARS_SERVICE, interface=interface)).get(name)
        return unwrap(self._send(message, f"property {interface}.{name} on {path}", timeout_s).body[0])

    def _send(self, message, what: str, timeout_s: float | None) -> Message:
        """One call and its reply; every way it can fail becomes ``DBusFailure`` naming ``what``."""
        timeout_s = timeout_s or self.timeout_s
        try:
            reply = self._router.send_and_get_reply(message, timeout=timeout_s)
        except TimeoutError:
            raise DBusFailure(f"{what}: no answer within {timeout_s:g} s") from None
        except (RouterClosed, OSError, ConnectionError) as exc:
            raise DBusFailure(f"{what}: the D-Bus connection is gone ({exc or type(exc).__name__})") from None
        if reply.header.message_type is MessageType.error:
            name = reply.header.fields.get(HeaderFields.error_name, "error")
            detail = reply.body[0] if reply.body and isinstance(reply.body[0], str) else ""
            raise DBusFailure(f"{what}: {name} {detail}".strip())
        return reply

    def has_owner(self, service: str = KSTARS_SERVICE) -> bool:
        try:
            return bool(self._bus.NameHasOwner(service)[0])
        except DBusErrorResponse as exc:
            raise DBusFailure(f"NameHasOwner({service}): {exc}") from None
        except (TimeoutError, RouterClosed, OSError) as exc:
            raise DBusFailure(f"the D-Bus session bus does not answer ({exc or type(exc).__name__})") from None

    def owner_pid(self, service: str = KSTARS_SERVICE) -> int | None:
        try:
            return int(self._bus.GetConnectionUnixProcessID(service)[0])
        except Exception:
            return None

    # --- signals ----------------------------------------------------------------
    def subscribe(self, path_namespace: str = "/KStars", maxsize: int = 10_000) -> "Subscription":
        """Every signal KStars emits under ``path_namespace``, plus ownership changes of its name."""
        return Subscription(self, path_namespace, maxsize)

    @property
    def alive(self) -> bool:
        return not self._closed and self._router._rcv_thread.is_alive()

    def close(self) -> None:
        with self._lock:
            if self._closed:
                return
            self._closed = True
        try:
            self._router.close()
        finally:
            self._conn.close()


class Subscription:
    """A queue of ``Signal`` objects; use as a context manager or call ``close``."""

    def __init__(self, bus: SessionBus, path_namespace: str, maxsize: int):
        self._bus = bus
        self.queue: queue.Queue[Message] = queue.Queue(maxsize=maxsize)
        # The daemon filters by sender name; the local filter sees only the unique name,
        # so it matches on the path alone.
        owner_changes = MatchRule(type="signal", sender="org.freedesktop.DBus", member="NameOwnerChanged")
        owner_changes.add_arg_condition(0, KSTARS_SERVICE)
        self._remote_rules = [MatchRule(type="signal", sender=KSTARS_SERVICE, path_namespace=path_namespace),
                              owner_changes]
        self._handles = [bus._router.filter(MatchRule(type="signal", path_namespace=path_namespace), queue=self.queue),
                         bus._router.filter(MatchRule(type="signal", member="NameOwnerChanged"), queue=self.queue)]
        for rule in self._remote_rules:
            try:
                bus._bus.AddMatch(rule)
            except Exception as exc:
                self.close()
                raise DBusFailure(f"cannot subscribe to KStars signals: {exc}") from None

    def get(self, timeout_s: float) -> Signal | None:
        try:
            message = self.queue.get(timeout=timeout_s)
        except queue.Empty:
            return None
        fields = message.header.fields
        return Signal(fields.get(HeaderFields.path, ""), fields.get(HeaderFields.interface, ""),
                      fields.get(HeaderFields.member, ""), tuple(unwrap(a) for a in message.body))

    def close(self) -> None:
        for handle in self._handles:
            handle.close()
        self._handles = []
        if self._bus.alive:
            for rule in self._remote_rules:
                try:
                    self._bus._bus.RemoveMatch(rule, _timeout=2)
                except Exception:
                    pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
