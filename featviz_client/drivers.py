"""Carry out an operation's requests and sleeps: with blocking I/O, or with asyncio.

These two functions are the only difference between ``Client`` and ``AsyncClient``.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

import httpx

from featviz_client.operations import Operation, Sleep

T = TypeVar("T")


def run_blocking(operation: Operation[T], send: Callable[[httpx.Request], httpx.Response]) -> T:
    """Run ``operation``, sending its requests with ``send`` (``httpx.Client.send``)."""
    outcome: httpx.Response | None = None
    failure: httpx.TransportError | None = None
    while True:
        try:
            step = operation.send(outcome) if failure is None else operation.throw(failure)
        except StopIteration as finished:
            result: T = finished.value
            return result
        outcome, failure = None, None
        if isinstance(step, Sleep):
            time.sleep(step.seconds)
            continue
        try:
            outcome = send(step)
        except httpx.TransportError as error:
            failure = error


async def run_async(
    operation: Operation[T], send: Callable[[httpx.Request], Awaitable[httpx.Response]]
) -> T:
    """Run ``operation``, sending its requests with ``send`` (``httpx.AsyncClient.send``)."""
    outcome: httpx.Response | None = None
    failure: httpx.TransportError | None = None
    while True:
        try:
            step = operation.send(outcome) if failure is None else operation.throw(failure)
        except StopIteration as finished:
            result: T = finished.value
            return result
        outcome, failure = None, None
        if isinstance(step, Sleep):
            await asyncio.sleep(step.seconds)
            continue
        try:
            outcome = await send(step)
        except httpx.TransportError as error:
            failure = error
