"""The CPU's description from /proc/cpuinfo: what benchmark tables name, and what tells whether
bfloat16 is computed or emulated."""

from __future__ import annotations

import pytest

from featviz_engine.cpu import CPUINFO, parse_cpuinfo, this_cpu

ZEN3 = """processor\t: 0
vendor_id\t: AuthenticAMD
cpu family\t: 25
model\t\t: 1
model name\t: AMD EPYC
flags\t\t: fpu sse2 avx fma avx2

processor\t: 1
cpu family\t: 26
model\t\t: 2
model name\t: another
flags\t\t: fpu avx512_bf16
"""

GRAVITON3 = """processor\t: 0
BogoMIPS\t: 2100.00
Features\t: fp asimd sve bf16 i8mm
CPU implementer\t: 0x41
"""


def test_the_first_x86_processor_is_described() -> None:
    cpu = parse_cpuinfo(ZEN3)
    assert (cpu.name, cpu.family, cpu.model) == ("AMD EPYC", "25", "1")
    assert cpu.flags == frozenset({"fpu", "sse2", "avx", "fma", "avx2"})
    assert cpu.computes_bfloat16 is False


@pytest.mark.parametrize("flag", ["avx512_bf16", "amx_bf16"])
def test_an_x86_cpu_with_bfloat16_instructions_computes_in_it(flag: str) -> None:
    assert parse_cpuinfo(ZEN3.replace("avx2\n", f"avx2 {flag}\n", 1)).computes_bfloat16 is True


def test_an_arm_cpu_lists_its_features() -> None:
    cpu = parse_cpuinfo(GRAVITON3)
    assert cpu.flags is not None
    assert "sve" in cpu.flags
    assert cpu.computes_bfloat16 is True
    assert (cpu.family, cpu.model) == (None, None)
    assert cpu.name  # the platform's name for it, as it has no "model name"


def test_a_cpu_whose_flags_are_not_listed_is_not_presumed_to_lack_any() -> None:
    cpu = parse_cpuinfo("processor\t: 0\n")
    assert cpu.flags is None
    assert cpu.computes_bfloat16 is None


@pytest.mark.skipif(not CPUINFO.is_file(), reason="no /proc/cpuinfo here")
def test_this_cpu_is_the_first_one_proc_cpuinfo_lists() -> None:
    assert this_cpu() == parse_cpuinfo(CPUINFO.read_text())
    assert this_cpu().flags
