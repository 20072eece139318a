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


class Died(Exception):
    """Stands for Ray's ActorDiedError."""


class VigilController(FakeController):
    """Its vigil is held until the controller dies, then fails with ``Died`` (as a Serve handle
    call in flight on a killed replica does); later vigils and pings hang until it is back."""

    def __init__(self):
        super().__init__()
        self.death = asyncio.Event()
        self.vigils = 0

    async def vigil(self):
        self.vigils += 1
        while not self.alive:
            await asyncio.sleep(3600)
        await self.death.wait()
        raise Died("the actor died")

    def die(self):
        self.alive = False
        self.death.set()


def test_a_dead_controller_is_seen_by_its_vigil_long_before_a_ping_times_out():
    async def main():
        fake = VigilController()
        # pings that would take an hour to time out: only the vigil can explain a prompt answer
        watch = ControllerWatch(fake.ping, vigil=fake.vigil, is_death=lambda e: isinstance(e, Died),
                                period_s=0.01, timeout_s=3600)
        watch.start()
        held = asyncio.ensure_future(watch.guard(lambda: fake.infer(3600)))
        for _ in range(3000):
            if fake.vigils:
                break
            await asyncio.sleep(0.01)
        fake.die()
        with pytest.raises(ControllerUnavailable, match="died"):
            await asyncio.wait_for(held, 30)
        with pytest.raises(ControllerUnavailable, match="unavailable"):
            await watch.guard(lambda: fake.infer())
        watch.stop()

    asyncio.run(main())


def test_an_answer_to_a_ping_sent_before_the_loss_does_not_bring_the_controller_back():
    async def main():
        release = asyncio.Event()

        async def slow_ping():  # sent while alive, answered after the vigil saw the death
            await release.wait()
            return True

        async def vigil():
            raise Died("the actor died")

        watch = ControllerWatch(slow_ping, vigil=vigil, is_death=lambda e: isinstance(e, Died),
                                period_s=3600, timeout_s=3600)
        watch.start()
        await asyncio.sleep(0.05)
        assert not watch.up and watch.losses >= 1
        release.set()
        await asyncio.sleep(0.05)
        up = watch.up
        watch.stop()
        return up

    assert asyncio.run(main()) is False


def test_a_vigil_error_that_is_not_a_death_keeps_the_controller_up():
    async def main():
        async def vigil():
            raise RuntimeError("queue full")

        watch = ControllerWatch(lambda: asyncio.sleep(0, True), vigil=vigil, is_death=lambda e: isinstance(e, Died),
                                period_s=0.01, timeout_s=30)
        watch.start()
        await asyncio.sleep(0.1)
        watch.stop()
        return watch.up, watch.losses

    assert asyncio.run(main()) == (True, 0)


def test_an_actor_error_raised_by_the_call_itself_is_not_taken_as_the_controllers_death():
    async def raises():  # e.g. the controller's code passing on a stage actor's death
        raise Died("a stage actor died")

    async def main():
        watch = ControllerWatch(lambda: asyncio.sleep(0, True), is_death=lambda e: isinstance(e, Died),
                                period_s=3600, timeout_s=3600)
        with pytest.raises(Died):
            await watch.guard(raises)
        state = (watch.up, watch.losses)
        watch.stop()
        return state

    assert asyncio.run(main()) == (True, 0)


def test_a_ping_refused_because_the_controller_is_busy_keeps_it_up():
    class Busy(Exception):
        pass

    async def main():
        refused = 0

        async def ping():
            nonlocal refused
            refused += 1
            raise Busy("queue full")

        watch = ControllerWatch(ping, is_busy=lambda exc: isinstance(exc, Busy), period_s=0.001, timeout_s=1.0)
        watch.start()
        while refused < 5:
            await asyncio.sleep(0.001)
        up = watch.up
        watch.stop()
        return up

    assert asyncio.run(main()) is True  # overload is not a loss: requests keep reaching the controller
