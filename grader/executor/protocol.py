"""Data-only codec shared by the grader and the worker that runs student code.

Wire format: frames of a 4-byte big-endian length followed by that many bytes of UTF-8 JSON.
Every frame holds one JSON object (a request, a response or an event).

Values travel as JSON with a few tagged objects, because JSON alone cannot carry them:

    {"$float": "nan" | "inf" | "-inf"}   non-finite floats (JSON has none)
    {"$int": "-1f..."}                   ints too long for Python's int<->str digit limit (hex)
    {"$complex": [re, im]}               complex numbers (re, im encoded as floats)
    {"$tuple": [...]}                    tuples (JSON only has lists)
    {"$set": [...]}                      sets and frozensets (decoded as ``set``)
    {"$dict": [[k, v], ...]}             dicts whose keys are not all plain strings, or where
                                         some key starts with "$" (else: a plain JSON object)
    {"$npy": "<base64>"}                 numpy arrays, ``np.save(allow_pickle=False)`` bytes
    {"$qualname": "pkg.mod.Name"}        classes, functions and modules, by name only

This module is loaded *by path* in the worker (which must not import the ``grader`` package),
so it may import only the standard library and numpy.

Trust: ``encode_value`` runs in the worker on student results, where the student controls
everything anyway; it only aims to be helpful to honest code. ``decode_value`` runs in the
trusted grader and is strict: no pickle, exact ``np.ndarray`` of a numeric dtype, only the tags
above, bounded depth, and never a call into an object the student built.
"""

from __future__ import annotations

import base64
import inspect
import json
import math
import os
import re
import struct
import sys
from typing import Any

import numpy as np

__all__ = [
    "MAX_DEPTH",
    "MAX_FRAME_BYTES",
    "MAX_ITEMS",
    "FrameDecoder",
    "FrameReader",
    "ProtocolError",
    "QualifiedName",
    "UnencodableValue",
    "decode_frame",
    "decode_value",
    "encode_frame",
    "encode_value",
    "npy_array",
    "npy_bytes",
    "write_frame",
]

MAX_FRAME_BYTES = 64 * 1024 * 1024
MAX_DEPTH = 100  # nesting of containers in one value
MAX_ITEMS = 5_000_000  # containers' elements in one value, counted over all levels
MAX_QUALNAME_CHARS = 1000
NUMERIC_KINDS = "biufc"  # bool, signed int, unsigned int, float, complex

_HEADER = struct.Struct(">I")
_NPY_MAGIC = b"\x93NUMPY"
_NPY_PREFIX = _NPY_MAGIC + b"\x01\x00"  # format 1.0
_NPY_ALIGN = 64  # header ends where the data can be aligned, as np.save does
_NPY_GROWTH_DIGITS = 21  # np.lib.format.GROWTH_AXIS_MAX_DIGITS
# Python refuses int<->str conversions beyond 4300 digits (CVE-2020-10735); stay well below.
_MAX_DECIMAL_DIGITS = 4000
_TAGS = frozenset({"$float", "$int", "$complex", "$tuple", "$set", "$dict", "$npy", "$qualname"})


class ProtocolError(Exception):
    """A frame or a value that does not follow the protocol (fail closed: treat as no result)."""


class UnencodableValue(Exception):
    """A value that cannot travel as plain data, e.g. an arbitrary object."""


class QualifiedName(str):
    """The dotted name of a class, function or module, e.g. ``torch.nn.modules.pooling.MaxPool2d``.

    Only the name travels, never the object: the grader compares names.
    """

    __slots__ = ()

    def __repr__(self) -> str:
        return f"QualifiedName({str.__repr__(self)})"


# --------------------------------------------------------------------------- frames


# Made once: json.dumps and json.loads build a new encoder or decoder on every call that
# passes an option (~5 us a frame, two frames per call).
_JSON_ENCODER = json.JSONEncoder(allow_nan=False, separators=(",", ":"))


def encode_frame(message: dict[str, Any], max_bytes: int = MAX_FRAME_BYTES) -> bytes:
    """Serialize one message (already made of plain JSON types) to a length-prefixed frame."""
    try:
        payload = _JSON_ENCODER.encode(message).encode("utf-8")
    except (TypeError, ValueError, RecursionError) as exc:
        raise ProtocolError(f"message is not plain JSON: {exc}") from exc
    if len(payload) > max_bytes:
        raise ProtocolError(f"frame of {len(payload)} bytes exceeds the limit of {max_bytes}")
    return _HEADER.pack(len(payload)) + payload


def _reject_constant(name: str) -> Any:
    raise ProtocolError(f"bare {name} in JSON (non-finite floats must be tagged)")


_JSON_DECODER = json.JSONDecoder(parse_constant=_reject_constant)


def decode_frame(payload: bytes) -> dict[str, Any]:
    """Parse the payload of one frame (without its length prefix) into a JSON object."""
    try:
        message = _JSON_DECODER.decode(payload.decode("utf-8"))
    except ProtocolError:
        raise
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise ProtocolError(f"frame is not valid UTF-8 JSON: {exc}") from exc
    if not isinstance(message, dict):
        raise ProtocolError(f"frame holds a JSON {type(message).__name__}, not an object")
    return message


class FrameDecoder:
    """Incremental frame splitter for a non-blocking reader: feed bytes, take whole payloads."""

    def __init__(self, max_bytes: int = MAX_FRAME_BYTES) -> None:
        self._buffer = bytearray()
        self._max_bytes = max_bytes

    def feed(self, data: bytes) -> None:
        self._buffer += data
        # Check the announced length as soon as it is known, before buffering a huge frame.
        self._announced_length()

    def _announced_length(self) -> int | None:
        if len(self._buffer) < _HEADER.size:
            return None
        (length,) = _HEADER.unpack_from(self._buffer)
        if length > self._max_bytes:
            raise ProtocolError(f"frame of {length} bytes exceeds the limit of {self._max_bytes}")
        return length

    def next_payload(self) -> bytes | None:
        """The next complete payload, or None when more bytes are needed."""
        length = self._announced_length()
        if length is None or len(self._buffer) < _HEADER.size + length:
            return None
        payload = bytes(self._buffer[_HEADER.size : _HEADER.size + length])
        del self._buffer[: _HEADER.size + length]
        return payload

    @property
    def pending(self) -> int:
        """Bytes received but not yet returned as a payload."""
        return len(self._buffer)


class FrameReader:
    """Blocking reads of whole messages from a descriptor, taking as many bytes per read as
    there are (requests are sent ahead: usually one read for many of them)."""

    def __init__(self, fd: int, max_bytes: int = MAX_FRAME_BYTES) -> None:
        self._fd = fd
        self._frames = FrameDecoder(max_bytes)

    def read(self) -> dict[str, Any] | None:
        """The next message; None on a clean end of stream."""
        while True:
            payload = self._frames.next_payload()
            if payload is not None:
                return decode_frame(payload)
            chunk = os.read(self._fd, 1 << 20)
            if not chunk:
                if self._frames.pending:
                    raise ProtocolError("stream ended inside a frame")
                return None
            self._frames.feed(chunk)


def write_frame(fd: int, message: dict[str, Any], max_bytes: int = MAX_FRAME_BYTES) -> None:
    """Blocking write of one message to a file descriptor."""
    view = memoryview(encode_frame(message, max_bytes))
    while view:
        written = os.write(fd, view)
        view = view[written:]


# --------------------------------------------------------------------------- encoding


def is_named_object(obj: Any) -> bool:
    """Classes, functions, methods, builtins and modules travel by name."""
    return (
        inspect.isclass(obj)
        or inspect.isroutine(obj)
        or inspect.ismodule(obj)
        or isinstance(obj, np.ufunc)
    )


def _plain_str(value: Any) -> str | None:
    return str.__str__(value) if isinstance(value, str) else None


def qualified_name_of(obj: Any) -> str:
    """``module.qualname`` of a class or function, ``name`` of a module (best effort)."""
    if inspect.ismodule(obj):
        return _plain_str(getattr(obj, "__name__", None)) or "?"
    module = _plain_str(getattr(obj, "__module__", None))
    qualname = _plain_str(getattr(obj, "__qualname__", None)) or _plain_str(
        getattr(obj, "__name__", None)
    )
    if qualname is None:
        qualname = "?"
    return f"{module}.{qualname}" if module else qualname


def _encode_float(value: float) -> Any:
    if math.isfinite(value):
        return value
    return {"$float": "nan" if math.isnan(value) else ("inf" if value > 0 else "-inf")}


def _encode_int(value: int) -> Any:
    # bit_length is a cheap upper bound for the decimal digits (log10(2) ~ 0.30103).
    if value.bit_length() * 0.30103 < _MAX_DECIMAL_DIGITS:
        return value
    return {"$int": format(value, "x")}


def _encode_array(array: np.ndarray, path: tuple[Any, ...]) -> dict[str, str]:
    if array.dtype.kind not in NUMERIC_KINDS or array.dtype.names is not None:
        raise UnencodableValue(f"returned an array of dtype {array.dtype}{_format_path(path)}")
    if array.nbytes > MAX_FRAME_BYTES:
        raise UnencodableValue(f"returned an array of {array.nbytes} bytes{_format_path(path)} (too large)")
    return {"$npy": base64.b64encode(npy_bytes(array)).decode("ascii")}


def npy_bytes(array: np.ndarray) -> bytes:
    """What np.save(allow_pickle=False) writes for a numeric array, in format 1.0, with the
    header made here: np.save formats it in Python, ~25 us, most of encoding a small array."""
    descr = array.dtype.str
    if array.dtype.kind not in NUMERIC_KINDS or array.dtype.names is not None:
        raise ValueError(f"npy_bytes takes numeric arrays, not dtype {array.dtype}")
    fortran = array.flags.f_contiguous and not array.flags.c_contiguous
    shape = array.shape
    header = f"{{'descr': '{descr}', 'fortran_order': {fortran}, 'shape': {shape!r}, }}"
    if shape:  # np.save's room for the growth axis to be rewritten in place
        header += " " * (_NPY_GROWTH_DIGITS - len(repr(shape[-1 if fortran else 0])))
    padding = -(len(_NPY_PREFIX) + 2 + len(header) + 1) % _NPY_ALIGN
    header_bytes = (header + " " * padding + "\n").encode("latin1")
    data = array.T.tobytes() if fortran else array.tobytes()
    return b"".join((_NPY_PREFIX, len(header_bytes).to_bytes(2, "little"), header_bytes, data))


def _tensor_to_numpy(tensor: Any) -> np.ndarray:
    plain = tensor.detach().cpu()
    if plain.layout != sys.modules["torch"].strided:
        plain = plain.to_dense()
    plain = plain.resolve_conj().resolve_neg()
    try:
        return plain.numpy()
    except (TypeError, RuntimeError):
        # bfloat16 and friends have no numpy dtype: widen, the value is what matters.
        if plain.is_floating_point():
            return plain.float().numpy()
        raise


def _format_path(path: tuple[Any, ...]) -> str:
    """(("a", 0), ...) -> " (at ['a'][0])"; built only when an error is raised."""
    if not path:
        return ""
    parts = []
    for step in path:
        if isinstance(step, int) and not isinstance(step, bool):
            parts.append(f"[{step}]")
        elif isinstance(step, str) and step.startswith("<"):
            parts.append(step)
        else:
            parts.append(f"[{str.__repr__(step) if isinstance(step, str) else '...'}]")
    return f" (at {''.join(parts)})"


class _Encoder:
    def __init__(self) -> None:
        self.items = 0

    def encode(self, obj: Any, depth: int, path: tuple[Any, ...]) -> Any:
        kind = type(obj)
        # Exact primitive types first (bool before int: bool is an int subclass).
        if obj is None or kind is bool or kind is str:
            return obj
        if kind is int:
            return _encode_int(obj)
        if kind is float:
            return _encode_float(obj)
        if depth > MAX_DEPTH:
            raise UnencodableValue(f"returned a value nested deeper than {MAX_DEPTH} levels")
        torch = sys.modules.get("torch")  # never import torch just to check
        if torch is not None and isinstance(obj, torch.Tensor):
            try:
                array = _tensor_to_numpy(obj)
            except Exception as exc:  # noqa: BLE001 - any failure means "cannot send"
                raise UnencodableValue(
                    f"returned a tensor that numpy cannot hold{_format_path(path)}: {exc}"
                ) from exc
            return _encode_array(np.array(array, copy=True, subok=False), path)
        if isinstance(obj, np.ndarray):
            # A copy as a plain ndarray drops any subclass behaviour (__eq__, __array_ufunc__...).
            return _encode_array(np.array(obj, copy=True, subok=False), path)
        if isinstance(obj, np.generic):
            return _encode_numpy_scalar(obj, path)
        if isinstance(obj, bool):
            return bool(obj)
        if isinstance(obj, int):
            return _encode_int(int.__int__(obj))  # plain int even from a subclass
        if isinstance(obj, float):
            return _encode_float(float.__float__(obj))
        if isinstance(obj, complex):
            return _encode_complex(complex.__complex__(obj))
        if kind is QualifiedName:
            return {"$qualname": str.__str__(obj)[:MAX_QUALNAME_CHARS]}
        if isinstance(obj, str):
            return str.__str__(obj)
        if isinstance(obj, (list, tuple, set, frozenset, dict)):
            return self._encode_container(obj, depth, path)
        if is_named_object(obj):
            return {"$qualname": qualified_name_of(obj)[:MAX_QUALNAME_CHARS]}
        raise UnencodableValue(f"returned {_type_name(kind)}{_format_path(path)}")

    def _count(self, n: int) -> None:
        self.items += n
        if self.items > MAX_ITEMS:
            raise UnencodableValue(f"returned a value with more than {MAX_ITEMS} elements")

    def _encode_container(self, obj: Any, depth: int, path: tuple[Any, ...]) -> Any:
        if isinstance(obj, dict):
            items = list(dict.items(obj))
            self._count(len(items))
            keys = [self.encode(k, depth + 1, (*path, "<key>")) for k, _ in items]
            values = [self.encode(v, depth + 1, (*path, k)) for k, v in zip(keys, dict.values(obj))]
            if all(type(k) is str and not k.startswith("$") for k in keys):
                return dict(zip(keys, values))
            return {"$dict": [[k, v] for k, v in zip(keys, values)]}
        elements = list(obj)
        self._count(len(elements))
        if isinstance(obj, (set, frozenset)):
            return {"$set": [self.encode(e, depth + 1, (*path, "<set>")) for e in elements]}
        encoded = [self.encode(e, depth + 1, (*path, i)) for i, e in enumerate(elements)]
        return {"$tuple": encoded} if isinstance(obj, tuple) else encoded


def _type_name(kind: type) -> str:
    module = _plain_str(getattr(kind, "__module__", None))
    name = _plain_str(getattr(kind, "__qualname__", None)) or "?"
    return name if module in (None, "builtins") else f"{module}.{name}"


def _encode_complex(value: complex) -> dict[str, list[Any]]:
    return {"$complex": [_encode_float(value.real), _encode_float(value.imag)]}


def _encode_numpy_scalar(obj: np.generic, path: tuple[Any, ...]) -> Any:
    if isinstance(obj, np.bool_):
        return bool(obj)
    if isinstance(obj, np.integer):
        return _encode_int(int(obj))
    if isinstance(obj, np.floating):
        return _encode_float(float(obj))
    if isinstance(obj, np.complexfloating):
        return _encode_complex(complex(obj))
    if isinstance(obj, np.str_):
        return str.__str__(obj)
    raise UnencodableValue(f"returned a numpy {type(obj).__name__}{_format_path(path)}")


def encode_value(obj: Any) -> Any:
    """Turn a value into plain JSON data, or raise UnencodableValue saying what it was.

    torch tensors become numpy arrays, numpy scalars become Python numbers, ndarray
    subclasses become plain ndarray copies, classes/functions/modules become their qualified
    names; any other object is refused.
    """
    try:
        return _Encoder().encode(obj, 0, ())
    except RecursionError as exc:
        raise UnencodableValue("returned a value nested too deeply") from exc


# --------------------------------------------------------------------------- decoding


def _decode_npy(text: Any) -> np.ndarray:
    if not isinstance(text, str):
        raise ProtocolError("$npy must hold a base64 string")
    try:
        raw = base64.b64decode(text.encode("ascii"), validate=True)
    except (ValueError, UnicodeEncodeError) as exc:
        raise ProtocolError(f"$npy is not base64: {exc}") from exc
    if not raw.startswith(_NPY_MAGIC):
        raise ProtocolError("$npy does not hold .npy bytes")
    array = npy_array(raw)
    if array is None:
        raise ProtocolError("$npy is not what np.save writes for a numeric array (format 1.0)")
    return array


# The header np.save writes for a numeric array (format 1.0), and nothing else: bool, int, uint,
# float or complex, an explicit byte order, a shape of small whole numbers. Every array
# `npy_bytes` makes has it; any other header is refused. np.load would parse it with
# ast.literal_eval: ~0.1 ms an array, and a parse that races the grader's other threads
# (grader/ast_lock.py).
_PLAIN_NPY_HEADER = re.compile(
    rb"\{'descr': '([<>|])([biufc])([0-9]{1,2})', 'fortran_order': (True|False), "
    rb"'shape': \(((?:[0-9]{1,12}, )*[0-9]{1,12},?|)\), \} *\n")


def npy_array(raw: bytes) -> np.ndarray | None:
    """The array of `raw` when it is an np.save-made header for a numeric array and exactly its
    data (what `npy_bytes` writes); None for anything else."""
    if raw[6:8] != b"\x01\x00" or len(raw) < 10:
        return None
    end = 10 + int.from_bytes(raw[8:10], "little")
    match = _PLAIN_NPY_HEADER.fullmatch(raw, 10, end)
    if match is None:
        return None
    order, kind, size, fortran, dims = match.groups()
    try:
        dtype = np.dtype((order + kind + size).decode("ascii"))
    except TypeError:
        return None
    shape = tuple(int(d) for d in dims.split(b",") if d.strip())
    count = math.prod(shape)
    if dtype.kind != kind.decode("ascii") or len(raw) - end != count * dtype.itemsize:
        return None
    flat = np.frombuffer(raw, dtype=dtype, count=count, offset=end).copy()  # writeable
    if fortran == b"True":
        return flat.reshape(shape[::-1]).transpose()
    return flat.reshape(shape)


def _decode_float(tag: Any) -> float:
    if tag == "nan":
        return math.nan
    if tag == "inf":
        return math.inf
    if tag == "-inf":
        return -math.inf
    raise ProtocolError(f"unknown $float value {tag!r}")


def _decode_number(data: Any) -> float:
    if type(data) in (int, float):
        return float(data)
    if type(data) is dict and set(data) == {"$float"}:
        return _decode_float(data["$float"])
    raise ProtocolError("$complex parts must be numbers")


def _decode_int(text: Any) -> int:
    if not isinstance(text, str) or not 0 < len(text) <= 2 * MAX_FRAME_BYTES:
        raise ProtocolError("$int must hold a hex string")
    try:
        return int(text, 16)  # base 16 is linear time and has no digit limit
    except ValueError as exc:
        raise ProtocolError(f"$int is not hex: {exc}") from exc


def _expect_list(tag: str, data: Any) -> list[Any]:
    if type(data) is not list:
        raise ProtocolError(f"{tag} must hold a list")
    return data


def _hashable(value: Any, tag: str) -> Any:
    try:
        hash(value)
    except TypeError as exc:
        raise ProtocolError(f"{tag} holds an unhashable key or element") from exc
    return value


def _decode_tagged(tag: str, body: Any, depth: int) -> Any:
    if tag == "$float":
        return _decode_float(body)
    if tag == "$int":
        return _decode_int(body)
    if tag == "$complex":
        parts = _expect_list(tag, body)
        if len(parts) != 2:
            raise ProtocolError("$complex must hold [re, im]")
        return complex(_decode_number(parts[0]), _decode_number(parts[1]))
    if tag == "$tuple":
        return tuple(_decode(_expect_list(tag, body), depth))  # a list's checks (and fast path)
    if tag == "$set":
        return {_hashable(_decode(e, depth + 1), tag) for e in _expect_list(tag, body)}
    if tag == "$dict":
        result = {}
        for pair in _expect_list(tag, body):
            if type(pair) is not list or len(pair) != 2:
                raise ProtocolError("$dict must hold [key, value] pairs")
            key = _hashable(_decode(pair[0], depth + 1), tag)
            result[key] = _decode(pair[1], depth + 1)
        return result
    if tag == "$npy":
        return _decode_npy(body)
    if tag == "$qualname":
        if type(body) is not str or not 0 < len(body) <= MAX_QUALNAME_CHARS:
            raise ProtocolError("$qualname must hold a non-empty string")
        return QualifiedName(body)
    raise ProtocolError(f"unknown tag {tag!r}")


def _finite_numbers(items: list[Any]) -> bool:
    """Whether `items` are all ints, or all finite floats (nothing in them to decode)."""
    kinds = set(map(type, items))
    if kinds == {float}:
        return all(map(math.isfinite, items))
    return kinds == {int}


def _decode(data: Any, depth: int) -> Any:
    if depth > MAX_DEPTH:
        raise ProtocolError(f"value nested deeper than {MAX_DEPTH} levels")
    kind = type(data)
    if data is None or kind in (bool, int, float, str):
        if kind is float and not math.isfinite(data):
            raise ProtocolError("untagged non-finite float")
        return data
    if kind is list:
        if _finite_numbers(data):  # a row of a result: the same checks, at C speed
            return list(data)
        return [_decode(e, depth + 1) for e in data]
    if kind is dict:
        dollar_keys = [k for k in data if k.startswith("$")]
        if not dollar_keys:
            return {k: _decode(v, depth + 1) for k, v in data.items()}
        if len(data) != 1 or dollar_keys[0] not in _TAGS:
            raise ProtocolError(f"unknown or mixed tags {sorted(dollar_keys)!r}")
        return _decode_tagged(dollar_keys[0], data[dollar_keys[0]], depth)
    raise ProtocolError(f"unexpected JSON type {kind.__name__}")


def decode_value(data: Any) -> Any:
    """Turn plain JSON data from the wire back into a value; raise ProtocolError if malformed.

    The result holds only None, bool, int, float, complex, str, list, tuple, set, dict,
    QualifiedName and exact ``np.ndarray`` of a numeric dtype.
    """
    if type(data) is int or type(data) is str:  # the commonest answers need no other check
        return data
    try:
        return _decode(data, 0)
    except RecursionError as exc:
        raise ProtocolError("value nested too deeply") from exc
