"""People's roof commands reach the controller on its own thread, late ones are refused, each is answered."""
from __future__ import annotations

from datetime import timedelta

from common.contracts import RoofCommand, SafetyState
from node_observatory.roof.base import RoofPosition
from node_observatory.roof.commands import RoofCommands
from tests.unit.test_roof_controller import Rig


def command(rig, action, age_s=0.0, node="roof1", command_id="c1"):
    return RoofCommand(node=node, action=action, command_id=command_id, user="ada",
                       sent_at=rig.clock() - timedelta(seconds=age_s))


def make(rig):
    answers = []
    return RoofCommands("roof1", rig.controller, answers.append, max_age_s=30, clock=rig.clock), answers


def test_commands_wait_for_the_loop_and_open_passes_the_interlock():
    rig = Rig(min_safe_s=0)
    commands, answers = make(rig)
    rig.controller.on_safety("safe", rig.clock())
    commands.on_event("master.roof1.roof_command", command(rig, "open"))
    commands.on_event("master.roof2.roof_command", command(rig, "open", node="roof2"))  # not ours
    commands.on_event("x", SafetyState(node="roof1", state="safe"))  # not a command
    assert answers == [] and rig.roof.state is RoofPosition.CLOSED  # nothing until the loop runs them
    (result,) = commands.run_pending()
    assert result.accepted and answers == [result] and result.command_id == "c1"
    for _ in range(15):
        rig.controller.step()
        rig.clock.advance(1)
    assert rig.roof.state is RoofPosition.OPEN and not rig.violations


def test_open_is_refused_when_not_safe_and_late_commands_are_refused():
    rig = Rig()
    commands, answers = make(rig)
    rig.controller.on_safety("unsafe", rig.clock())
    commands.on_event("k", command(rig, "open"))
    commands.on_event("k", command(rig, "close", age_s=45, command_id="c2"))
    refused, late = commands.run_pending()
    assert not refused.accepted and "sky is unsafe" in refused.reason
    assert not late.accepted and "45 s after it was sent" in late.reason and late.command_id == "c2"


def test_park_and_acknowledge():
    rig = Rig(parked=False)
    commands, answers = make(rig)
    commands.on_event("k", command(rig, "park"))
    rig.controller.alarm = object()
    commands.on_event("k", command(rig, "acknowledge", command_id="c2"))
    park, ack = commands.run_pending()
    assert park.accepted and ack.accepted and rig.controller.alarm is None
    rig.clock.advance(10)
    assert rig.mount.parked


def test_a_park_request_that_fails_is_answered_not_raised():
    rig = Rig()
    commands, answers = make(rig)

    def broken():
        raise ConnectionError("indiserver gone")

    rig.controller.request_park = broken
    commands.on_event("k", command(rig, "park"))
    (result,) = commands.run_pending()
    assert not result.accepted and "indiserver gone" in result.reason


def test_a_park_report_wakes_the_node_loop_and_an_old_one_does_not():
    from datetime import datetime, timezone

    from common.contracts import MountReport
    from node_observatory.roof.park import BusParkSource

    woken = []
    source = BusParkSource("scope1", on_update=lambda: woken.append(1))
    now = datetime.now(timezone.utc)
    source.on_event("telescope.scope1.mount", MountReport(node="scope1", parked=True, sent_at=now))
    source.on_event("telescope.scope1.mount", MountReport(node="scope1", parked=False, sent_at=now - timedelta(seconds=5)))
    source.on_event("telescope.scope2.mount", MountReport(node="scope2", parked=False, sent_at=now))
    assert woken == [1] and source.read().parked is True
