"""The export extra (onnx, onnxruntime, onnxscript) is optional: import it here, on use, with a
message that says how to get it."""

from __future__ import annotations

import importlib
from types import ModuleType

from ..errors import HmtlError

HINT = "pip install 'hmtl[export]' (onnx, onnxruntime, onnxscript)"
HINTS = {"tflite_micro": "pip install 'hmtl[mcu]' (tflite-micro, for --target mcu)"}


def need(module: str) -> ModuleType:
    """Import `module` (e.g. 'onnxruntime', 'onnxruntime.quantization') or raise HmtlError."""
    try:
        return importlib.import_module(module)
    except ImportError as e:
        raise HmtlError(f"this needs {module.split('.')[0]}, which is not installed "
                        f"({e.name or e}); {HINTS.get(module.split('.')[0], HINT)}") from None
