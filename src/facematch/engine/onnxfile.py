"""Just enough of the ONNX file format to drop graph inputs that no runtime should ask for.

Some published models (the bundled SFace file among them) list weight names as graph inputs that
no node reads, or that an initializer already provides. onnxruntime then demands them at run time
and OpenCV refuses to pick the real input by default. Pruning them needs no ``onnx`` package:
ONNX files are protobuf, and the two messages touched here are rewritten field by field (every
other byte, weights included, is copied as it is). Field numbers follow onnx.proto3:
ModelProto.graph = 7; GraphProto.node = 1, initializer = 5, input = 11; NodeProto.input = 1;
TensorProto.name = 8; ValueInfoProto.name = 1.
"""

from __future__ import annotations

from collections.abc import Iterator

from facematch.errors import ModelError

_VARINT, _I64, _LEN, _I32 = 0, 1, 2, 5
_MODEL_GRAPH = 7
_GRAPH_NODE, _GRAPH_INITIALIZER, _GRAPH_INPUT = 1, 5, 11
_NODE_INPUT = 1
_TENSOR_NAME = 8
_VALUE_INFO_NAME = 1


def _varint(data: bytes | memoryview, pos: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        if pos >= len(data) or shift > 63:
            raise ModelError("truncated or malformed ONNX file")
        byte = data[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return value, pos
        shift += 7


def _encode_varint(value: int) -> bytes:
    out = bytearray()
    while True:
        low = value & 0x7F
        value >>= 7
        if value:
            out.append(low | 0x80)
        else:
            out.append(low)
            return bytes(out)


def _fields(data: memoryview) -> Iterator[tuple[int, int, memoryview, memoryview]]:
    """(field number, wire type, payload, the field's raw bytes) for each top-level field."""
    pos = 0
    while pos < len(data):
        start = pos
        key, pos = _varint(data, pos)
        number, wire = key >> 3, key & 7
        if wire == _VARINT:
            _, end = _varint(data, pos)
            payload_start = pos
        elif wire == _LEN:
            length, payload_start = _varint(data, pos)
            end = payload_start + length
        elif wire == _I64:
            payload_start, end = pos, pos + 8
        elif wire == _I32:
            payload_start, end = pos, pos + 4
        else:
            raise ModelError(f"unsupported protobuf wire type {wire} in ONNX file")
        if end > len(data):
            raise ModelError("truncated ONNX file")
        yield number, wire, data[payload_start:end], data[start:end]
        pos = end


def _strings(message: memoryview, number: int) -> list[str]:
    return [bytes(p).decode() for n, w, p, _ in _fields(message) if n == number and w == _LEN]


def _length_field(number: int, payload: bytes) -> bytes:
    return _encode_varint(number << 3 | _LEN) + _encode_varint(len(payload)) + payload


def _prune_graph(graph: memoryview) -> tuple[bytes, int]:
    consumed: set[str] = set()
    provided: set[str] = set()
    for number, wire, payload, _ in _fields(graph):
        if wire != _LEN:
            continue
        if number == _GRAPH_NODE:
            consumed.update(_strings(payload, _NODE_INPUT))
        elif number == _GRAPH_INITIALIZER:
            provided.update(_strings(payload, _TENSOR_NAME))
    out = bytearray()
    dropped = 0
    for number, wire, payload, raw in _fields(graph):
        if number == _GRAPH_INPUT and wire == _LEN:
            names = _strings(payload, _VALUE_INFO_NAME)
            name = names[0] if names else ""
            if name not in consumed or name in provided:
                dropped += 1
                continue
        out += raw
    return bytes(out), dropped


def prune_graph_inputs(model: bytes) -> tuple[bytes, int]:
    """``model`` without the graph inputs that no node reads or that an initializer provides,
    and how many were dropped (0: the bytes come back unchanged)."""
    view = memoryview(model)
    out = bytearray()
    dropped = 0
    found = False
    for number, wire, payload, raw in _fields(view):
        if number == _MODEL_GRAPH and wire == _LEN:
            graph, dropped = _prune_graph(payload)
            out += _length_field(_MODEL_GRAPH, graph)
            found = True
        else:
            out += raw
    if not found:
        raise ModelError("the file holds no ONNX graph")
    return (bytes(out), dropped) if dropped else (model, 0)


def graph_inputs(model: bytes) -> list[str]:
    """The names of the graph's inputs, in order."""
    for number, wire, payload, _ in _fields(memoryview(model)):
        if number == _MODEL_GRAPH and wire == _LEN:
            return [
                name
                for n, w, p, _ in _fields(payload)
                if n == _GRAPH_INPUT and w == _LEN
                for name in _strings(p, _VALUE_INFO_NAME)[:1]
            ]
    raise ModelError("the file holds no ONNX graph")
