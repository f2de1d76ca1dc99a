"""People's roof commands from the portal, carried out by the roof controller's own thread.

Commands arrive on the event bus (any thread) and wait in a queue; the node's loop hands them
to the controller between two steps, so a command never races the interlock. A command older
than ``max_age_s`` when it is carried out is refused: "open" sent while the node was down must
not happen hours later. Every command gets a ``RoofCommandResult`` back, accepted or not, with
the reason.
"""
from __future__ import annotations

import logging
import queue
from datetime import datetime, timezone
from typing import Callable

from common.contracts import RoofCommand, RoofCommandResult

log = logging.getLogger(__name__)


def utc_now() -> datetime:
    return datetime.now(timezone.utc)


class RoofCommands:
    def __init__(self, node: str, controller, publish: Callable[[RoofCommandResult], None], *,
                 max_age_s: float = 30.0, clock: Callable[[], datetime] = utc_now,
                 on_queued: Callable[[], None] = lambda: None):
        self.node = node
        self.controller = controller
        self.publish = publish
        self.max_age_s = max_age_s
        self.clock = clock
        self._queue: queue.Queue[RoofCommand] = queue.Queue(maxsize=100)
        self.on_queued = on_queued  # wake the node loop so the command does not wait for the next tick

    def on_event(self, routing_key: str, message) -> None:
        """Bus handler: only this node's commands, queued for the loop."""
        if not isinstance(message, RoofCommand) or message.node != self.node:
            return
        try:
            self._queue.put_nowait(message)
        except queue.Full:
            self._answer(message, False, "too many roof commands waiting")
            return
        self.on_queued()

    def run_pending(self) -> list[RoofCommandResult]:
        """Carry out the queued commands (on the thread that steps the controller)."""
        results = []
        while True:
            try:
                command = self._queue.get_nowait()
            except queue.Empty:
                return results
            results.append(self._run(command))

    def _run(self, command: RoofCommand) -> RoofCommandResult:
        age = (self.clock() - command.sent_at).total_seconds()
        if age > self.max_age_s:
            return self._answer(command, False, f"command arrived {age:.0f} s after it was sent "
                                                f"(max {self.max_age_s:g} s); send it again")
        who = f" by {command.user}" if command.user else ""
        log.warning("roof command %s%s", command.action, who)
        if command.action in ("open", "close"):
            decision = self.controller.command(command.action)
            return self._answer(command, decision.accepted, decision.reason or None)
        if command.action == "park":
            try:
                self.controller.request_park()
            except Exception as exc:
                return self._answer(command, False, f"park request failed: {exc}")
            return self._answer(command, True, "park requested")
        self.controller.acknowledge()
        return self._answer(command, True, None)

    def _answer(self, command: RoofCommand, accepted: bool, reason: str | None) -> RoofCommandResult:
        result = RoofCommandResult(node=self.node, command_id=command.command_id, action=command.action,
                                   accepted=accepted, reason=reason)
        try:
            self.publish(result)
        except Exception as exc:  # the person sees no answer; the node carries on
            log.error("roof command result not published: %s", exc)
        return result
