"""Carry out an operation's steps: with blocking I/O, or with asyncio.

These two functions are the only difference between ``Client`` and ``AsyncClient``. Each sends
requests, sleeps, and follows a Server-Sent Events stream (``Listen``, then ``NextEvent``) until
the operation asks for anything else, which closes the stream.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Iterator
from typing import TypeVar

import httpx
from httpx_sse import EventSource, ServerSentEvent

from featviz_client.operations import Listen, NextEvent, Operation, Outcome, Sleep, is_event_stream

T = TypeVar("T")


def run_blocking(operation: Operation[T], http: httpx.Client) -> T:
    """Run ``operation``, sending its requests with ``http``."""
    outcome: Outcome = None
    failure: httpx.TransportError | None = None
    stream: httpx.Response | None = None
    events: Iterator[ServerSentEvent] = iter(())
    try:
        while True:
            try:
                step = operation.send(outcome) if failure is None else operation.throw(failure)
            except StopIteration as finished:
                result: T = finished.value
                return result
            outcome, failure = None, None
            if stream is not None and not isinstance(step, NextEvent):
                stream.close()
                stream = None
            if isinstance(step, Sleep):
                time.sleep(step.seconds)
                continue
            try:
                if isinstance(step, Listen):
                    stream = http.send(step.request, stream=True)
                    if not is_event_stream(stream):
                        stream.read()
                        outcome = stream
                        continue
                    events = EventSource(stream).iter_sse()
                if isinstance(step, Listen | NextEvent):
                    outcome = next(events, None)
                else:
                    outcome = http.send(step)
            except httpx.TransportError as error:
                failure = error
    finally:
        if stream is not None:
            stream.close()


async def run_async(operation: Operation[T], http: httpx.AsyncClient) -> T:
    """Run ``operation``, sending its requests with ``http``."""
    outcome: Outcome = None
    failure: httpx.TransportError | None = None
    stream: httpx.Response | None = None
    events: AsyncIterator[ServerSentEvent] | None = None
    try:
        while True:
            try:
                step = operation.send(outcome) if failure is None else operation.throw(failure)
            except StopIteration as finished:
                result: T = finished.value
                return result
            outcome, failure = None, None
            if stream is not None and not isinstance(step, NextEvent):
                await stream.aclose()
                stream = None
            if isinstance(step, Sleep):
                await asyncio.sleep(step.seconds)
                continue
            try:
                if isinstance(step, Listen):
                    stream = await http.send(step.request, stream=True)
                    if not is_event_stream(stream):
                        await stream.aread()
                        outcome = stream
                        continue
                    events = EventSource(stream).aiter_sse()
                if isinstance(step, Listen | NextEvent):
                    assert events is not None, "NextEvent follows a Listen"
                    outcome = await anext(events, None)
                else:
                    outcome = await http.send(step)
            except httpx.TransportError as error:
                failure = error
    finally:
        if stream is not None:
            await stream.aclose()
