"""What users deploy: ONNX export of a run's models (optionally with the front end and int8
weights), parity checks against torch, latency and size, and prediction on audio files.

Submodules import torch and the optional export extra (onnx, onnxruntime, onnxscript) when
used; `hmtl --help` imports none of them."""
