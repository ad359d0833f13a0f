"""One HTTP request's engine sequences, their outputs handed to the event loop, and the client
watch that aborts them when the client goes away (streaming or not)."""
from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Awaitable, Callable, MutableMapping
from typing import Any

import anyio

from .engine import Engine
from .protocol import APIError
from .responses import Choice
from .sequence import Output, SamplingParams, Sequence

Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]


class Submission:
    def __init__(self, engine: Engine, choices: list[Choice]):
        self.engine, self.choices = engine, {c.index: c for c in choices}
        self.loop = asyncio.get_running_loop()
        self.queue: asyncio.Queue[tuple[int, Output]] = asyncio.Queue()
        self.seqs: list[Sequence] = []
        self.unfinished = len(choices)

    def submit(self, params: list[SamplingParams], min_shared: int) -> None:
        """One sequence per choice, in order. A choice whose prompt shares at least ``min_shared``
        tokens with the first one's waits for that one's prefill, then reuses its cached blocks."""
        leader = None
        for c, p in zip(self.choices.values(), params):
            gate = leader if leader is not None and _shared(leader.prompt_ids, c.prompt_ids) >= min_shared else None
            seq = self.engine.add(c.prompt_ids, p, self._deliver(c.index), wait_for=gate)
            leader = leader or seq
            self.seqs.append(seq)

    def _deliver(self, index: int) -> Callable[[Output], None]:
        def deliver(out: Output) -> None:  # on the engine thread
            self.loop.call_soon_threadsafe(self.queue.put_nowait, (index, out))
        return deliver

    async def outputs(self) -> AsyncIterator[tuple[Choice, Output]]:
        while self.unfinished:
            index, out = await self.queue.get()
            c = self.choices[index]
            c.text += out.text
            c.token_ids += out.token_ids
            c.logprobs += out.logprobs
            if out.prompt_logprobs is not None:
                c.prompt_logprobs = out.prompt_logprobs
            c.cached_tokens = out.num_cached_tokens
            if out.finished:
                c.finish_reason = out.finish_reason
                self.unfinished -= 1
                if out.finish_reason == "error":
                    raise APIError(500, "the engine failed while running this request", "server_error")
            yield c, out

    async def wait_all(self) -> list[Choice]:
        async for _ in self.outputs():
            pass
        return list(self.choices.values())

    def abort(self) -> None:
        for seq in self.seqs:
            self.engine.abort(seq)


def _shared(a: list[int], b: list[int]) -> int:
    n = 0
    for x, y in zip(a, b):
        if x != y:
            break
        n += 1
    return n


async def until_disconnect(receive: Receive) -> None:
    while (await receive())["type"] != "http.disconnect":
        pass


async def unless_disconnected(receive: Receive, work: Awaitable[Any], on_disconnect: Callable[[], None]) -> Any:
    """``await work``, unless the client disconnects first: then ``on_disconnect()`` and None."""
    task = asyncio.ensure_future(work)
    watch = asyncio.ensure_future(until_disconnect(receive))
    try:
        await asyncio.wait({task, watch}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        watch.cancel()
    if task.done():
        return task.result()
    task.cancel()
    on_disconnect()
    return None


class EventStream:
    """A server-sent-events response that stops, and calls ``on_disconnect``, when the client leaves."""

    def __init__(self, events: AsyncIterator[dict], on_disconnect: Callable[[], None]):
        self.events, self.on_disconnect = events, on_disconnect

    async def __call__(self, scope: dict, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"content-type", b"text/event-stream; charset=utf-8"), (b"cache-control", b"no-cache")]})
        finished = False
        async with anyio.create_task_group() as tg:
            async def watch() -> None:
                await until_disconnect(receive)
                if not finished:
                    self.on_disconnect()
                tg.cancel_scope.cancel()

            tg.start_soon(watch)
            try:
                async for event in self.events:
                    await send({"type": "http.response.body", "body": _sse(event), "more_body": True})
                await send({"type": "http.response.body", "body": b"data: [DONE]\n\n", "more_body": True})
            except APIError as e:  # the headers are out: the error goes in the stream, as OpenAI's does
                await send({"type": "http.response.body", "body": _sse(e.body()), "more_body": True})
            except OSError:
                self.on_disconnect()
            finished = True
            await send({"type": "http.response.body", "body": b"", "more_body": False})
            tg.cancel_scope.cancel()


def _sse(obj: dict) -> bytes:
    return b"data: " + json.dumps(obj, ensure_ascii=False).encode() + b"\n\n"
