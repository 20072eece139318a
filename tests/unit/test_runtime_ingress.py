"""The separate ingress without Ray: its controller handle is a fake, its class used directly."""
import asyncio

from ray.serve.exceptions import BackPressureError

from alpa_serve_like.controllers.ingress import Ingress, is_replica_death
from alpa_serve_like.runtime.options import RuntimeOptions
from alpa_serve_like.runtime.requests import InferRequest


class Method:
    def __init__(self, fn):
        self.fn = fn

    def remote(self, *args):
        return self.fn(*args)


class FakeHandle:
    """Answers ``infer`` with ``answer()``; ``ping`` and ``vigil`` as a healthy controller does."""

    def __init__(self, answer):
        self.infer = Method(lambda *args: answer())
        self.ping = Method(lambda: asyncio.sleep(0, True))
        self.vigil = Method(lambda hold_s: asyncio.sleep(hold_s, True))


def ingress(answer, **options) -> Ingress:
    # Our class itself, under Serve's deployment and ASGI wrappers (whose __init__ wants a loop)
    own = next(k for k in Ingress.func_or_class.__mro__ if "_forward" in vars(k))
    return own(FakeHandle(answer), ["bert-tiny-0"], RuntimeOptions(**options).to_dict())


def test_a_full_controller_queue_is_answered_overloaded_not_unavailable():
    async def full():
        raise BackPressureError(num_queued_requests=200, max_queued_requests=200)

    async def main():
        front = ingress(full)
        out = await front._forward(InferRequest("bert-tiny-0", 4, None, None), 0.0)
        front.watch.stop()
        return out, front.watch.up, front.forwarding

    out, up, forwarding = asyncio.run(main())
    assert (out["outcome"], out["reason"]) == ("rejected", "overloaded")
    assert up and forwarding == 0


def test_the_ingress_sheds_above_max_pending_requests_forwarded():
    async def main():
        release = asyncio.Event()

        async def slow():
            await release.wait()
            return {"outcome": "ok"}

        front = ingress(slow, max_pending_requests=2)
        calls = [asyncio.ensure_future(front._forward(InferRequest("bert-tiny-0", 4, None, None), 0.0))
                 for _ in range(2)]
        await asyncio.sleep(0.01)
        full = front.overloaded()
        release.set()
        await asyncio.gather(*calls)
        front.watch.stop()
        return full, front.overloaded()

    assert asyncio.run(main()) == (True, False)


def test_only_actor_errors_count_as_the_controller_dying():
    import ray

    assert is_replica_death(ray.exceptions.ActorUnavailableError("gone", None))
    assert not is_replica_death(BackPressureError(num_queued_requests=1, max_queued_requests=1))
    assert not is_replica_death(RuntimeError("model raised"))
