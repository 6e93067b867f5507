"""What `hmtl export --target` can write. Every target is derived from the float ONNX graph,
which is always written (it is what the others are quantised from and checked against)."""

from __future__ import annotations

from dataclasses import dataclass

from ..errors import HmtlError


@dataclass(frozen=True)
class Target:
    name: str          # --target value
    file: str          # file name in the export folder
    session: str       # its key in export.json's "parity" and "metrics"
    precision: str     # in words, for tables
    help: str


TARGETS = {t.name: t for t in (
    Target("onnx", "model.onnx", "onnx", "float32", "the float graph (always written)"),
    Target("onnx-int8", "model.int8.onnx", "onnx_int8", "int8 static",
           "static int8 (QDQ), activations calibrated on training clips: integer kernels, "
           "as fast as float or faster"),
    Target("onnx-int8-dynamic", "model.int8-dynamic.onnx", "onnx_int8_dynamic", "int8 dynamic",
           "int8 weights, activations quantised at run time (no calibration; slower than "
           "float on most CPUs); what --int8 wrote before static int8"),
    Target("mcu", "model.tflite", "tflm", "int8 full-integer (TFLM)",
           "full-integer int8 TensorFlow Lite model for microcontrollers, run and checked in "
           "TensorFlow Lite Micro (pip install 'hmtl[mcu]'); features in, the front end and "
           "input normalisation on the host"),
)}
DEFAULT = ("onnx",)


def parse_targets(values: list[str] | tuple[str, ...] | str | None, int8: bool = False
                  ) -> list[str]:
    """Target names in TARGETS order from --target values (repeatable, comma-separated);
    onnx always included; `int8` (--int8) adds onnx-int8."""
    if isinstance(values, str):
        values = [values]
    wanted = {"onnx"}
    for value in values or ():
        for name in (v.strip() for v in str(value).split(",")):
            if not name:
                continue
            if name not in TARGETS:
                raise HmtlError(f"--target: one of {', '.join(TARGETS)}, got '{name}'")
            wanted.add(name)
    if int8:
        wanted.add("onnx-int8")
    return [t for t in TARGETS if t in wanted]
