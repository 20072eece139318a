"""ControllerWatch (separate ingress): losing the controller answers at once instead of holding."""
import asyncio

import pytest

from alpa_serve_like.runtime.controller_watch import ControllerUnavailable, ControllerWatch


class FakeController:
    """Answers pings and calls while ``alive``; once dead, every await hangs (as a handle call
    does while Serve restarts the replica)."""

    def __init__(self):
        self.alive = True
        self.calls = 0

    async def ping(self):
        while not self.alive:
            await asyncio.sleep(3600)
        return True

    async def infer(self, delay_s=0.0):
        self.calls += 1
        await asyncio.sleep(delay_s)
        while not self.alive:
            await asyncio.sleep(3600)
        return {"outcome": "ok"}


def test_calls_pass_through_while_the_controller_answers():
    async def main():
        fake = FakeController()
        watch = ControllerWatch(fake.ping, period_s=0.01, timeout_s=5.0)
        out = await watch.guard(lambda: fake.infer(0.05))
        watch.stop()
        return out

    assert asyncio.run(main()) == {"outcome": "ok"}


def test_a_call_in_flight_when_the_controller_is_lost_is_answered_not_held():
    async def main():
        fake = FakeController()
        watch = ControllerWatch(fake.ping, period_s=0.01, timeout_s=1.0)
        watch.start()
        held = asyncio.ensure_future(watch.guard(lambda: fake.infer(0.05)))
        await asyncio.sleep(0.01)
        fake.alive = False
        # generous cap: the guard must resolve long before this (by the first failed ping)
        with pytest.raises(ControllerUnavailable, match="stopped answering"):
            await asyncio.wait_for(held, 30)
        calls_before = fake.calls
        with pytest.raises(ControllerUnavailable, match="unavailable"):
            await asyncio.wait_for(watch.guard(lambda: fake.infer()), 30)
        assert fake.calls == calls_before, "no call may be made while the controller is down"
        fake.alive = True
        for _ in range(3000):  # recovers after the next good ping
            if watch.up:
                break
            await asyncio.sleep(0.01)
        out = await asyncio.wait_for(watch.guard(lambda: fake.infer()), 30)
        watch.stop()
        return out

    assert asyncio.run(main()) == {"outcome": "ok"}


def test_bad_periods_are_refused():
    with pytest.raises(ValueError, match="period_s"):
        ControllerWatch(lambda: None, period_s=0, timeout_s=1)
