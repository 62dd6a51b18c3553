"""What a benchmark ran on, for the header of every table: the CPU by name, family and model
with the flags that decide reduced-precision speed (AMX, AVX512_BF16, AVX512_FP16), the cores
this process may use, TensorFlow's version and build, the oneDNN setting, and the TV
implementation.

Figures from different machine kinds differ by more than any change measured on one (bfloat16
is faster than float32 on a Xeon with AMX and on an AMD EPYC of family 25 model 17, no faster on
a Xeon without AMX), so no table goes out without this line. Virtual machines often name the CPU
only "AMD EPYC" or "Intel(R) Xeon(R) Processor": the family and model tell the generations apart.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from importlib import metadata

import tensorflow as tf

from featviz_engine.cpu import this_cpu
from featviz_engine.tv import default_implementation

FLAGS = {
    "AMX": ("amx_bf16", "amx_tile"),
    "AVX512_BF16": ("avx512_bf16",),
    "AVX512_FP16": ("avx512_fp16",),
}
"""Each flag reported, and the /proc/cpuinfo flags that must all be present for it."""


@dataclass(frozen=True)
class Machine:
    cpu: str
    family_model: str
    flags: dict[str, bool]
    cores: int
    tensorflow: str
    onednn: str
    tv: str

    def line(self) -> str:
        flags = ", ".join(
            f"{name} {'yes' if present else 'no'}" for name, present in self.flags.items()
        )
        return (
            f"{self.cpu} ({self.family_model}; {flags}), {self.cores} cores; {self.tensorflow}; "
            f"TF_ENABLE_ONEDNN_OPTS {self.onednn}; TV denoising: {self.tv}"
        )


def _tensorflow_build() -> str:
    package = next(
        (name for name in ("tensorflow-cpu", "tensorflow", "tensorflow-intel") if _installed(name)),
        "tensorflow",
    )
    info = tf.sysconfig.get_build_info()
    kind = f"CUDA {info['cuda_version']}" if info.get("is_cuda_build") else "CPU build"
    return f"{package} {tf.__version__} ({kind})"


def _installed(name: str) -> bool:
    try:
        metadata.version(name)
    except metadata.PackageNotFoundError:
        return False
    return True


def machine() -> Machine:
    cpu = this_cpu()
    flags = cpu.flags or frozenset()
    return Machine(
        cpu=cpu.name,
        family_model=f"family {cpu.family or '?'} model {cpu.model or '?'}",
        flags={name: all(flag in flags for flag in needed) for name, needed in FLAGS.items()},
        cores=len(os.sched_getaffinity(0)),
        tensorflow=_tensorflow_build(),
        onednn=os.environ.get("TF_ENABLE_ONEDNN_OPTS", "unset (TensorFlow's default on x86: on)"),
        tv=default_implementation(),
    )


def machine_line() -> str:
    """One line naming the machine, for a table's header or footer."""
    return machine().line()


if __name__ == "__main__":
    print(machine_line())
