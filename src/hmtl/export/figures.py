"""What a device needs to hold and compute for one clip through an exported graph, read from
the graph itself (every tensor's shape from one run at batch 1 and the training length), so
float and int8 files are counted the same way:

    bytes                  the file: what flash holds (graph, weights, metadata)
    weight_bytes           the initializers alone
    macs                   multiply-accumulates of Conv, Gemm and MatMul (and their integer
                           forms); macs_frontend: the part in front-end nodes (waveform input)
    peak_activation_bytes  an ESTIMATE of the working memory: the largest sum of live
                           intermediate tensors (graph input and outputs included) over a
                           depth-first node order, each freed after its last reader, with perfect
                           packing (no fragmentation; a tensor arena planner approaches it on
                           chain graphs). Fused forms are counted as a runtime executes them:
                           a tensor read only by a ReLU is fused away, reshapes are views, and
                           in a QDQ graph a DequantizeLinear output read only by integer-capable
                           ops and an op output read only by QuantizeLinear are not materialised
                           (the integer kernel reads and writes 8-bit tensors); an elementwise
                           op writes over an intermediate input nothing else reads. The input
                           itself counts (input_bytes): a graph that takes float features
                           holds them in float."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from .deps import need

MAC_OPS = {"Conv", "ConvInteger", "Gemm", "MatMul", "MatMulInteger"}
VIEWS = {"Reshape", "Squeeze", "Unsqueeze", "Flatten", "Identity"}
INTEGER_CAPABLE = {"Conv", "MaxPool", "Relu", "Gemm", "MatMul", "AveragePool",
                   "GlobalAveragePool"}
FUSED_ACTIVATIONS = {"Relu"}
IN_PLACE = {"Add", "Sub", "Mul", "Div", "Relu", "Clip", "Sigmoid", "Log", "Exp", "Sqrt", "Abs",
            "Neg"}


def value_types(proto, length: int, seed: int = 0) -> dict[str, tuple[list[int], int]]:
    """{name: (shape, bytes per element)} of the input, every node output and every initializer
    of `proto`, from one run of a random clip (batch 1, `length` on the input's dynamic axes)
    in onnxruntime, every value exposed as an output and nothing fused: exact where ONNX shape
    inference gives up (the front end's dynamic padding)."""
    onnx = need("onnx")
    ort = need("onnxruntime")
    from onnx import helper

    probe = onnx.ModelProto()
    probe.CopyFrom(proto)
    known = {o.name for o in probe.graph.output}
    extra = [o for n in probe.graph.node for o in n.output if o and o not in known]
    probe.graph.output.extend(onnx.ValueInfoProto(name=n) for n in extra)
    opts = ort.SessionOptions()
    opts.log_severity_level = 3
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    sess = ort.InferenceSession(probe.SerializeToString(), opts,
                                providers=["CPUExecutionProvider"])
    inp = sess.get_inputs()[0]
    shape = [d if isinstance(d, int) else (1 if i == 0 else int(length))
             for i, d in enumerate(inp.shape)]
    x = (0.1 * np.random.default_rng(seed).standard_normal(shape)).astype(np.float32)
    names = [o.name for o in sess.get_outputs()]
    out = {inp.name: (shape, 4)}
    for name, value in zip(names, sess.run(names, {inp.name: x})):
        value = np.asarray(value)
        out[name] = (list(value.shape), value.dtype.itemsize)
    for i in probe.graph.initializer:
        out[i.name] = (list(i.dims),
                       np.dtype(helper.tensor_dtype_to_np_dtype(i.data_type)).itemsize)
    return out


def macs(proto, types: dict, frontend: set[str] = frozenset()) -> tuple[int, int]:
    """(MACs of the graph, MACs of the nodes named in `frontend`) for one clip."""
    from onnx import helper

    total = front = 0
    for n in proto.graph.node:
        if n.op_type not in MAC_OPS:
            continue
        out = types.get(n.output[0], (None, 0))[0]
        a = types.get(n.input[0], (None, 0))[0]
        w = types.get(n.input[1], (None, 0))[0]
        if out is None or a is None or w is None:
            continue
        if n.op_type in ("Conv", "ConvInteger"):
            m = int(np.prod(out)) * int(np.prod(w[1:]))           # (Cin/groups) × kernel
        elif n.op_type == "Gemm":
            attrs = {x.name: helper.get_attribute_value(x) for x in n.attribute}
            m = int(np.prod(out)) * int(a[0] if attrs.get("transA", 0) else a[-1])
        else:
            m = int(np.prod(out)) * int(a[-1])
        total += m
        if n.name in frontend:
            front += m
    return total, front


def depth_first(graph) -> list:
    """The nodes in a topological order that finishes a branch before starting the next
    (ready nodes taken last-in first-out, ties in file order): the order a runtime with a
    memory planner would pick, and the same for a float graph and its QDQ version, whatever
    order the quantiser wrote the nodes in."""
    made = {o: k for k, n in enumerate(graph.node) for o in n.output}
    needs = [{made[i] for i in n.input if i in made} for n in graph.node]
    users: dict[int, list[int]] = {}
    for k, deps in enumerate(needs):
        for d in deps:
            users.setdefault(d, []).append(k)
    waiting = [len(d) for d in needs]
    stack = [k for k in reversed(range(len(needs))) if not waiting[k]]
    order = []
    while stack:
        k = stack.pop()
        order.append(graph.node[k])
        ready = []
        for u in users.get(k, []):
            waiting[u] -= 1
            if not waiting[u]:
                ready.append(u)
        stack.extend(sorted(ready, reverse=True))
    return order if len(order) == len(graph.node) else list(graph.node)


def peak_activation_bytes(proto, types: dict) -> int | None:
    """The working-memory estimate of the module docstring; None if a shape is unknown."""
    graph = proto.graph
    weights = {i.name for i in graph.initializer}
    readers: dict[str, list] = {}
    for n in graph.node:
        for i in n.input:
            if i:
                readers.setdefault(i, []).append(n)
    outputs = {o.name for o in graph.output}
    nodes = depth_first(graph)
    base: dict[str, str] = {}                     # a view's buffer: the tensor it views
    size: dict[str, int] = {}

    def nbytes(name: str) -> int | None:
        shape, itemsize = types.get(name, (None, 4))
        return None if shape is None else int(np.prod(shape)) * itemsize

    def materialised(node, name: str) -> bool:
        users = readers.get(name, [])
        if name in outputs or not users:
            return True
        if node.op_type == "DequantizeLinear":
            return not all(u.op_type in INTEGER_CAPABLE for u in users)
        if all(u.op_type == "QuantizeLinear" for u in users) \
                and node.op_type in INTEGER_CAPABLE:
            return False
        return not (len(users) == 1 and users[0].op_type in FUSED_ACTIVATIONS
                    and node.op_type in MAC_OPS)

    def in_place(node, name: str) -> bool:
        """An elementwise op may write over its first input: an intermediate (not the caller's
        input) of the same size that nothing else reads."""
        src = node.input[0]
        return (base.get(src) == src and src in size and size[src] > 0 and src not in outputs
                and src not in graph_inputs and len(readers.get(src, [])) == 1
                and nbytes(name) == size[src])

    graph_inputs = {v.name for v in graph.input}
    for v in graph.input:
        if v.name not in weights:
            b = nbytes(v.name)
            if b is None:
                return None
            base[v.name], size[v.name] = v.name, b
    for n in nodes:
        constant = n.op_type == "Constant" or (len(n.input) > 0
                                               and all(i in weights for i in n.input if i))
        for o in n.output:
            if constant:
                weights.add(o)                        # from weights alone: folded, in flash
            elif n.op_type in VIEWS and n.input[0] in base:
                base[o] = base[n.input[0]]
            elif n.op_type in IN_PLACE and in_place(n, o):
                base[o] = n.input[0]
            else:
                b = nbytes(o)
                if b is None:
                    return None
                base[o], size[o] = o, (b if materialised(n, o) else 0)
    last: dict[str, int] = {}                     # buffer -> index of its last reader
    for k, n in enumerate(nodes):
        for i in n.input:
            if i in base:
                last[base[i]] = k
    for o in outputs:
        if o in base:
            last[base[o]] = len(nodes)
    born = {b: 0 for b in size}                   # graph inputs: live from the start
    for k, n in enumerate(nodes):
        for o in n.output:
            if o in size:
                born[o] = k
    peak = 0
    for k in range(len(nodes)):
        live = sum(size[b] for b, start in born.items() if start <= k <= last.get(b, start))
        peak = max(peak, live)
    return peak


def graph_figures(path: str | Path, length: int, frontend: list[str] | None = None) -> dict:
    """bytes, weight_bytes, macs, macs_frontend and peak_activation_bytes (an estimate) of the
    ONNX file at `path` for one clip of `length` frames or samples."""
    onnx = need("onnx")
    proto = onnx.load(str(path))
    if frontend is None:
        from .quantize import frontend_nodes

        frontend = frontend_nodes(proto)
    figures = {"bytes": os.path.getsize(path),
               "weight_bytes": weight_bytes(proto)}
    try:
        types = value_types(proto, length)
    except Exception:  # noqa: BLE001 - a graph onnxruntime cannot probe: no figures
        return {**figures, "macs": None, "macs_frontend": None, "peak_activation_bytes": None,
                "input_bytes": None}
    total, front = macs(proto, types, set(frontend))
    shape, itemsize = types[proto.graph.input[0].name]
    return {**figures, "macs": total, "macs_frontend": front,
            "peak_activation_bytes": peak_activation_bytes(proto, types),
            "input_bytes": int(np.prod(shape)) * itemsize}


def weight_bytes(proto) -> int:
    """Bytes of the initializers and Constant nodes' tensors (the legacy exporter stores the
    front end's DFT kernels as constants)."""
    from onnx import numpy_helper

    tensors = list(proto.graph.initializer) + [
        a.t for n in proto.graph.node if n.op_type == "Constant" for a in n.attribute
        if a.name == "value"]
    return int(sum(numpy_helper.to_array(t).nbytes for t in tensors))
