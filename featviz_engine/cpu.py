"""The CPU this process runs on, as ``/proc/cpuinfo`` describes it: its name, family, model and
flags.

Virtual machines often name the CPU only "AMD EPYC" or "Intel(R) Xeon(R) Processor"; the family
and model tell the generations apart, and the flags say which instructions it has. Where there
is no ``/proc/cpuinfo`` (macOS) the name comes from ``platform`` and the rest is unknown.
"""

from __future__ import annotations

import functools
import platform
from dataclasses import dataclass
from pathlib import Path

CPUINFO = Path("/proc/cpuinfo")

BFLOAT16_INSTRUCTIONS = frozenset({"avx512_bf16", "amx_bf16", "bf16"})
"""The ``/proc/cpuinfo`` flags of instructions that compute in bfloat16: x86's AVX512_BF16 and
AMX, Arm's BF16. Without any of them TensorFlow emulates bfloat16 on the CPU."""


@dataclass(frozen=True)
class CPU:
    """One CPU's description; None where ``/proc/cpuinfo`` does not say."""

    name: str
    family: str | None
    model: str | None
    flags: frozenset[str] | None

    @property
    def computes_bfloat16(self) -> bool | None:
        """Whether it has bfloat16 instructions; None where its flags are unknown."""
        return None if self.flags is None else bool(self.flags & BFLOAT16_INSTRUCTIONS)


def parse_cpuinfo(text: str) -> CPU:
    """The first processor that ``/proc/cpuinfo``'s ``text`` lists (x86 lists ``flags``, Arm
    ``Features``)."""
    fields: dict[str, str] = {}
    for line in text.splitlines():
        key, separator, value = line.partition(":")
        if separator:
            fields.setdefault(key.strip(), value.strip())
    flags = fields.get("flags", fields.get("Features"))
    return CPU(
        name=fields.get("model name") or platform.processor() or platform.machine(),
        family=fields.get("cpu family"),
        model=fields.get("model"),
        flags=None if flags is None else frozenset(flags.split()),
    )


@functools.cache
def this_cpu() -> CPU:
    """This machine's CPU, read once per process."""
    return parse_cpuinfo(CPUINFO.read_text() if CPUINFO.is_file() else "")
