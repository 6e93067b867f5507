"""`packed[:K]`: the serial executor with a packing step (any executor takes one as
`+packed[:K]`, e.g. `local:2+packed`; base.py): the jobs of a call are grouped by shape
(same spec shape, configs, dataset and training-set size) and each group of up to K jobs trains
at once as one network (training/packed.py). On a GPU one small model leaves the device idle;
on a CPU a pack pays its per-step overhead once (RAVDESS, 1 seed: 1.83x faster than serial,
BENCHMARKS.md)."""

from __future__ import annotations

from .base import SerialExecutor, register_executor


@register_executor("packed", "packed[:K]")
class PackedExecutor(SerialExecutor):
    """serial+packed[:K], under its own name."""

    def __init__(self, pack: int = 64, threads: int | None = None):
        super().__init__(threads)
        self.pack = max(1, pack)

    @classmethod
    def from_spec(cls, arg: str, threads: int | None) -> "PackedExecutor":
        return cls(int(arg) if arg else 64, threads)
