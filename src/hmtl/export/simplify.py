"""Exact rewrites of an exported ONNX graph that make it smaller and faster without changing a
value (the export's parity check runs on the rewritten graph).

MaxPoolTime (onnx_export) keeps torch.export's time axis dynamic by pooling (B, C, 1, T) in 2-D:
in ONNX that is Unsqueeze -> MaxPool(1, 2) -> Squeeze. Written back as a 1-D MaxPool(2) the
graph loses two nodes per block, and int8 graphs keep their activations int8 through the pool
(onnxruntime's layout pass stops at Unsqueeze/Squeeze, adding transposes and re-quantisation)."""

from __future__ import annotations


def _constants(graph) -> dict:
    from onnx import numpy_helper

    out = {i.name: numpy_helper.to_array(i) for i in graph.initializer}
    for n in graph.node:
        if n.op_type == "Constant" and n.attribute and n.attribute[0].name == "value":
            out[n.output[0]] = numpy_helper.to_array(n.attribute[0].t)
    return out


def _axes(node, consts: dict) -> list[int] | None:
    """The axes of an Unsqueeze/Squeeze: its second input (opset >= 13) or attribute."""
    import numpy as np
    from onnx import helper

    if len(node.input) > 1:
        value = consts.get(node.input[1])
        return None if value is None else [int(v) for v in np.ravel(value)]
    for a in node.attribute:
        if a.name == "axes":
            return [int(v) for v in helper.get_attribute_value(a)]
    return None


def pool_time_1d(proto) -> int:
    """Replace each Unsqueeze(axis 2) -> MaxPool(kernel and stride (1, 2), no padding) ->
    Squeeze(axis 2) chain by MaxPool(kernel 2, stride 2); returns how many were replaced."""
    from onnx import helper

    graph = proto.graph
    consts = _constants(graph)
    producer = {o: n for n in graph.node for o in n.output}
    users: dict[str, list] = {}
    for n in graph.node:
        for i in n.input:
            users.setdefault(i, []).append(n)
    outputs = {o.name for o in graph.output}
    drop: set[int] = set()
    new: dict[int, object] = {}
    for n in graph.node:
        if n.op_type != "MaxPool" or n.domain not in ("", "ai.onnx"):
            continue
        a = {x.name: helper.get_attribute_value(x) for x in n.attribute}
        if (list(a.get("kernel_shape", [])) != [1, 2] or list(a.get("strides", [])) != [1, 2]
                or any(a.get("pads", [])) or a.get("ceil_mode", 0) or len(n.output) != 1
                or any(d != 1 for d in a.get("dilations", [1, 1]))):
            continue
        un = producer.get(n.input[0])
        after = users.get(n.output[0], [])
        if un is None or un.op_type != "Unsqueeze" or len(after) != 1 \
                or after[0].op_type != "Squeeze":
            continue
        sq = after[0]
        if len(users.get(un.output[0], [])) != 1 or {un.output[0], n.output[0]} & outputs \
                or _axes(un, consts) != [2] or _axes(sq, consts) != [2]:
            continue
        drop |= {id(un), id(sq)}
        new[id(n)] = helper.make_node("MaxPool", [un.input[0]], [sq.output[0]], name=n.name,
                                      kernel_shape=[2], strides=[2])
    if new:
        nodes = [new.get(id(n), n) for n in graph.node if id(n) not in drop]
        del graph.node[:]
        graph.node.extend(nodes)
        drop_unused(proto)
    return len(new)


def drop_unused(proto) -> None:
    """Remove initializers and Constant nodes that nothing reads any more."""
    graph = proto.graph
    while True:
        used = {i for n in graph.node for i in n.input} | {o.name for o in graph.output}
        dead = [n for n in graph.node if n.op_type == "Constant" and n.output[0] not in used]
        for n in dead:
            graph.node.remove(n)
        if not dead:
            break
    used = {i for n in graph.node for i in n.input} | {o.name for o in graph.output}
    keep = [i for i in graph.initializer if i.name in used]
    if len(keep) != len(graph.initializer):
        del graph.initializer[:]
        graph.initializer.extend(keep)


def simplify(proto) -> dict:
    """Apply every rewrite in place; returns {rewrite: count} for the record."""
    return {"maxpool_1d": pool_time_1d(proto)}
