"""The store's Lua scripts: one file each in ``lua/``, composed once, at import, with the
fragments in ``lua/fragments/`` they include.

Each script begins with a header that is its contract::

    -- KEYS: record, leases
    -- ARGV: now, attempt, lease seconds

A line ``--#include NAME`` stands for ``lua/fragments/NAME.lua``. A call passes exactly the
keys and arguments its header names (an ``ARGV`` list ending in ``...`` takes any number more),
so a script and its callers cannot drift apart silently.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from importlib.resources import files
from string import Template
from typing import Any, Literal, get_args

import redis

from featviz import outbox
from featviz.store.keys import (
    EVENTS_CAP,
    OWNER_COUNTS_PREFIX,
    OWNER_PREFIX,
    UNCLAIMED_KEY,
    WEBHOOK_DUE_KEY,
    WEBHOOK_PAYLOADS_KEY,
    counted_packs_key,
    job_key,
)

ScriptName = Literal[
    "claim",
    "heartbeat",
    "hand_back",
    "reap",
    "transition",
    "request_cancel",
    "pack_progress",
    "announce",
    "progress",
    "snapshot",
    "take_deliveries",
    "settle_delivery",
    "drop_delivery",
    "take_unclaimed",
    "audit_unclaimed",
]

LUA = files("featviz.store") / "lua"
_INCLUDE = re.compile(r"^--#include (\w+)$", re.MULTILINE)
_HEADER = re.compile(r"^-- (KEYS|ARGV): (.+)$", re.MULTILINE)
# What the fragments name of the key layout (featviz.store.keys).
_LAYOUT = {
    "owner_prefix": OWNER_PREFIX,
    "owner_counts_prefix": OWNER_COUNTS_PREFIX,
    "events_cap": str(EVENTS_CAP),
    "webhook_due": WEBHOOK_DUE_KEY,
    "webhook_payloads": WEBHOOK_PAYLOADS_KEY,
    "unclaimed": UNCLAIMED_KEY,
    "job_prefix": job_key(""),
    "counted_packs_suffix": counted_packs_key("").removeprefix(job_key("")),
    "outbox": outbox.OUTBOX_KEY,
    "finish_entry_prefix": outbox.entry("finish", ""),
}


class ScriptCallError(TypeError):
    """A call passed other keys or arguments than the script's header names."""


@dataclass(frozen=True)
class LuaScript:
    """A script as Redis runs it, with the contract its header states."""

    name: ScriptName
    source: str
    keys: tuple[str, ...]
    args: tuple[str, ...]
    more_args: bool
    """Whether the script takes any number of arguments after ``args``."""

    def check(self, keys: list[str], args: list[Any]) -> None:
        """Raise ``ScriptCallError`` unless the call matches the header."""
        if len(keys) != len(self.keys):
            raise ScriptCallError(f"{self.name}.lua takes KEYS {self.keys}, not {len(keys)} keys")
        if len(args) < len(self.args) or (len(args) > len(self.args) and not self.more_args):
            raise ScriptCallError(
                f"{self.name}.lua takes ARGV {self.args}{' ...' if self.more_args else ''}, "
                f"not {len(args)} arguments"
            )


def _names(line: str) -> tuple[str, ...]:
    return tuple(name.strip() for name in line.split(","))


def compose(name: ScriptName) -> LuaScript:
    """Read a script, put in its fragments and the key layout, and parse its header."""
    text = (LUA / f"{name}.lua").read_text()
    header = dict(_HEADER.findall(text))
    if set(header) != {"KEYS", "ARGV"}:
        raise ValueError(f"{name}.lua: its header must name its KEYS and its ARGV")
    args = _names(header["ARGV"])
    more_args = args[-1].endswith("...")
    if more_args:
        args = args[:-1]
    source = _INCLUDE.sub(
        lambda include: (LUA / "fragments" / f"{include[1]}.lua").read_text(), text
    )
    return LuaScript(
        name=name,
        source=Template(source).substitute(_LAYOUT),
        keys=_names(header["KEYS"]),
        args=args,
        more_args=more_args,
    )


SCRIPTS: dict[ScriptName, LuaScript] = {name: compose(name) for name in get_args(ScriptName)}


class Scripts:
    """The scripts registered with a Redis client, called only as their headers say."""

    def __init__(self, client: redis.Redis[str]) -> None:
        self._registered = {
            name: client.register_script(script.source) for name, script in SCRIPTS.items()
        }

    def run(
        self,
        name: ScriptName,
        keys: list[str],
        args: list[Any],
        pipe: redis.client.Pipeline[str] | None = None,
    ) -> Any:
        """Run a script now, or as part of ``pipe``'s transaction when given."""
        SCRIPTS[name].check(keys, args)
        return self._registered[name](keys=keys, args=args, client=pipe)
