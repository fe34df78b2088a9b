"""cocotbext-axi's ``AxiRam`` with an emulated memory latency: ``LatencyAxiRamRead`` / ``LatencyAxiRamWrite``.

Used by the adapter tests (``sim/cocotb_tests/test_axi_adapters.py``) and by the accelerator's AxiRam runs
(``sim/cocotb_tests/test_accelerator.py``, ``run_rtl(..., axi_model="axiram")``).

**Latency emulation.** ``AxiRam`` has no latency knob, and its own path from an AR handshake (cycle ``c``) to
the first R beat is 2 cycles (the sink queues the AR at the edge ending ``c``, the R source drives the beat at
the next edge). ``LatencyAxiRamRead`` stamps each AR with the time of its handshake edge (a wrapper around
the AR sink queue's ``put_nowait``) and makes the read process wait, before it hands a burst's first beat to
the R source, until half a cycle after the edge ending cycle ``c + LAT - 2``: the beat is then valid in cycle
``c + LAT``, or later when earlier bursts still stream (responses stay in order, one beat per cycle). Likewise
``LatencyAxiRamWrite`` stamps W beats and passes each B response to the B source through a forwarding task
half a cycle after the edge ending ``c + BLAT - 2``, ``c`` the cycle of the burst's last W beat, without
holding up the W channel. The sinks' queue limits are raised to :data:`QUEUE_LIMIT` so that AR / AW / W are
always ready unless a pause generator says otherwise; pause generators (``set_pause_generator``, :func:`pauses`)
give random backpressure. ``sim/models/lpg_axi_mem.v`` with the same LAT / BLAT and no backpressure has the same
timing, cycle for cycle (tests/test_axi_adapters.py, tests/test_rtl_offchip.py).

``period_steps``: the clock period in simulator steps (:func:`clock_period_steps` measures it).
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from typing import Any

import cocotb
from cocotb.queue import Queue
from cocotb.simtime import get_sim_time
from cocotb.triggers import RisingEdge, Timer
from cocotbext.axi import AxiRamRead, AxiRamWrite

#: queue limits of AxiRam's AR / AW / W sinks (its default, 2, would drop ready after two queued bursts)
QUEUE_LIMIT = 16


def now_steps() -> int:
    """The simulation time in simulator steps."""
    return int(get_sim_time("step"))


async def clock_period_steps(clock: Any) -> int:
    """The period of a running ``clock`` in simulator steps (two rising edges apart)."""
    await RisingEdge(clock)
    t0 = now_steps()
    await RisingEdge(clock)
    return now_steps() - t0


def _stamp_handshakes(channel: Any) -> None:
    """Stamp every transaction a sink queues with the sim time of its handshake edge (``handshake_step``)."""
    queue = channel.queue
    put = queue.put_nowait

    def stamped(obj: Any) -> None:
        obj.handshake_step = now_steps()
        put(obj)

    queue.put_nowait = stamped


class LatencyAxiRamRead(AxiRamRead):
    """AxiRam's read side with read latency ``latency`` >= 2 (AR handshake cycle -> first R beat cycle)."""

    def __init__(self, bus: Any, clock: Any, reset: Any, mem: bytearray, latency: int, *, period_steps: int) -> None:
        if latency < 2:
            raise ValueError(f"AxiRam's own read path takes 2 cycles; latency {latency} < 2")
        super().__init__(bus, clock, reset, size=len(mem), mem=mem)
        self.ar_channel.queue_occupancy_limit = QUEUE_LIMIT
        self.latency = latency
        self.period_steps = period_steps
        self._first_beat_step: int | None = None
        _stamp_handshakes(self.ar_channel)
        recv = self.ar_channel.recv

        async def recv_timed() -> Any:
            ar = await recv()
            self._first_beat_step = (ar.handshake_step + (self.latency - 2) * self.period_steps
                                     + self.period_steps // 2)
            return ar

        self.ar_channel.recv = recv_timed

    async def _read(self, address: int, length: int) -> bytes:
        if self._first_beat_step is not None:
            delay = self._first_beat_step - now_steps()
            self._first_beat_step = None
            if delay > 0:
                await Timer(delay, unit="step")
        return await super()._read(address, length)


class LatencyAxiRamWrite(AxiRamWrite):
    """AxiRam's write side with write-response latency ``latency`` >= 2 (last W beat cycle -> B cycle)."""

    def __init__(self, bus: Any, clock: Any, reset: Any, mem: bytearray, latency: int, *, period_steps: int) -> None:
        if latency < 2:
            raise ValueError(f"AxiRam's own write-response path takes 2 cycles; latency {latency} < 2")
        super().__init__(bus, clock, reset, size=len(mem), mem=mem)
        self.aw_channel.queue_occupancy_limit = QUEUE_LIMIT
        self.w_channel.queue_occupancy_limit = QUEUE_LIMIT
        _stamp_handshakes(self.w_channel)
        recv = self.w_channel.recv
        self._last_w_step = 0
        self.period_steps = period_steps

        async def recv_timed() -> Any:
            w = await recv()
            self._last_w_step = w.handshake_step
            return w

        self.w_channel.recv = recv_timed
        self.latency = latency
        send = self.b_channel.send
        pending: Queue[tuple[Any, int]] = Queue()

        async def send_later(b: Any) -> None:
            at = self._last_w_step + (self.latency - 2) * self.period_steps + self.period_steps // 2
            pending.put_nowait((b, at))

        async def forward() -> None:
            while True:
                b, at = await pending.get()
                delay = at - now_steps()
                if delay > 0:
                    await Timer(delay, unit="step")
                await send(b)

        self.b_channel.send = send_later
        cocotb.start_soon(forward())


def pauses(seed: int, p: float) -> Iterator[bool]:
    """Pause generator: paused in a random fraction ``p`` of the cycles."""
    rng = random.Random(seed)
    while True:
        yield rng.random() < p
