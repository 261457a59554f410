"""Read and write the safetensors format with numpy only (no `safetensors` module here).

Format (https://github.com/huggingface/safetensors, "Format" section):
    8 bytes      little-endian u64 N = length of the JSON header
    N bytes      UTF-8 JSON: {"__metadata__": {str: str}, "<name>": {"dtype": "F32",
                 "shape": [..], "data_offsets": [begin, end]}, ...}; offsets are relative to
                 the first byte after the header. Writers pad the header with spaces so the
                 data starts 8-byte aligned.
    rest         raw little-endian tensor bytes, row-major.

Supported dtypes: F32, F16, BF16 (plus F64/I32/I64 for completeness). numpy has no bfloat16,
so BF16 tensors are returned widened to float32 (exact) and written from float32 with
round-to-nearest-even, the same rule as Ember's kernels/half.h f32_to_bf16.

Also here: loading a whole Hugging Face checkpoint directory (single file or shards listed in
model.safetensors.index.json), since every script that reads checkpoints needs it.
"""
from __future__ import annotations

import json
import os
import struct
from typing import Callable, Dict, Iterable, Mapping, Optional, Sequence, Tuple, Union

import numpy as np

# safetensors dtype string -> numpy little-endian dtype of the stored bytes.
_STORAGE = {
    "F64": np.dtype("<f8"),
    "F32": np.dtype("<f4"),
    "F16": np.dtype("<f2"),
    "BF16": np.dtype("<u2"),  # raw bits; widened on read
    "I64": np.dtype("<i8"),
    "I32": np.dtype("<i4"),
    "I8": np.dtype("i1"),
    "U8": np.dtype("u1"),
}


# ----------------------------------------------------------------------------- bfloat16

def f32_to_bf16_bits(x: np.ndarray) -> np.ndarray:
    """float32 array -> uint16 bfloat16 bits, round-to-nearest-even; NaN stays (quiet) NaN.

    uint32 arithmetic: adding 0x7FFF + lsb cannot wrap for any non-NaN pattern (the largest,
    0xFF7FFFFF, becomes 0xFF807FFF = -inf after the shift, as it should).
    """
    bits = np.ascontiguousarray(x, dtype=np.float32).view(np.uint32)
    rounded = ((bits + np.uint32(0x7FFF) + ((bits >> np.uint32(16)) & np.uint32(1))) >> np.uint32(16)).astype(np.uint16)
    is_nan = (bits & np.uint32(0x7FFFFFFF)) > np.uint32(0x7F800000)
    if is_nan.any():
        rounded[is_nan] = ((bits[is_nan] >> np.uint32(16)) | np.uint32(0x40)).astype(np.uint16)
    return rounded


def bf16_bits_to_f32(b: np.ndarray) -> np.ndarray:
    """uint16 bfloat16 bits -> float32 (exact)."""
    return (np.asarray(b, dtype=np.uint16).astype(np.uint32) << 16).view(np.float32)


def round_to_dtype(x: np.ndarray, dtype: str) -> np.ndarray:
    """Round values to what storing them as `dtype` (F32/F16/BF16) keeps; returns float64.

    This is the "reference on the same rounded weights" used by the parity tests.
    """
    dtype = dtype.upper()
    x32 = np.asarray(x, dtype=np.float32)
    if dtype == "F32":
        out = x32
    elif dtype == "F16":
        out = x32.astype(np.float16)  # IEEE round-to-nearest-even, like f32_to_f16
    elif dtype == "BF16":
        out = bf16_bits_to_f32(f32_to_bf16_bits(x32))
    else:
        raise ValueError(f"round_to_dtype: unsupported dtype {dtype}")
    return out.astype(np.float64)


# ----------------------------------------------------------------------------- reading

def read_header(path: str) -> Tuple[dict, int]:
    """Return (header dict, byte offset where tensor data starts)."""
    with open(path, "rb") as f:
        raw = f.read(8)
        if len(raw) != 8:
            raise ValueError(f"{path}: too short for a safetensors header")
        (n,) = struct.unpack("<Q", raw)
        size = os.fstat(f.fileno()).st_size
        if 8 + n > size:
            raise ValueError(f"{path}: header length {n} runs past the end of the file ({size} bytes)")
        header = json.loads(f.read(n).decode("utf-8"))
    return header, 8 + n


def read_safetensors(path: str, names: Optional[Iterable[str]] = None) -> Dict[str, np.ndarray]:
    """Load tensors of one .safetensors file as numpy arrays (BF16 widened to float32).

    names: optional subset to load. Arrays are copies, not views of a mapping.
    """
    header, data_start = read_header(path)
    wanted = None if names is None else set(names)
    out: Dict[str, np.ndarray] = {}
    blob = np.memmap(path, dtype=np.uint8, mode="r")
    for name, info in header.items():
        if name == "__metadata__" or (wanted is not None and name not in wanted):
            continue
        dt = info["dtype"]
        if dt not in _STORAGE:
            raise ValueError(f"{path}: tensor {name}: unsupported dtype {dt}")
        begin, end = info["data_offsets"]
        shape = tuple(int(s) for s in info["shape"])
        storage = _STORAGE[dt]
        count = int(np.prod(shape, dtype=np.int64)) if shape else 1
        if end - begin != count * storage.itemsize:
            raise ValueError(f"{path}: tensor {name}: data_offsets span {end - begin} bytes, "
                             f"shape {list(shape)} of {dt} needs {count * storage.itemsize}")
        if data_start + end > len(blob):
            raise ValueError(f"{path}: tensor {name}: data runs past the end of the file")
        arr = np.frombuffer(blob, dtype=storage, count=count, offset=data_start + begin).reshape(shape)
        if dt == "BF16":
            arr = bf16_bits_to_f32(arr)
        out[name] = arr.copy()
    return out


def tensor_dtypes(path: str) -> Dict[str, str]:
    """name -> safetensors dtype string, from the header only."""
    header, _ = read_header(path)
    return {k: v["dtype"] for k, v in header.items() if k != "__metadata__"}


def checkpoint_files(hf_dir: str) -> list:
    """The .safetensors files of an HF directory: from the index if present, else model.safetensors."""
    index = os.path.join(hf_dir, "model.safetensors.index.json")
    if os.path.exists(index):
        with open(index) as f:
            weight_map = json.load(f)["weight_map"]
        return [os.path.join(hf_dir, p) for p in sorted(set(weight_map.values()))]
    single = os.path.join(hf_dir, "model.safetensors")
    if os.path.exists(single):
        return [single]
    raise FileNotFoundError(f"{hf_dir}: neither model.safetensors nor model.safetensors.index.json")


def load_checkpoint(hf_dir: str) -> Tuple[Dict[str, np.ndarray], Dict[str, str]]:
    """All tensors of an HF checkpoint directory -> (name -> array, name -> stored dtype)."""
    tensors: Dict[str, np.ndarray] = {}
    dtypes: Dict[str, str] = {}
    for path in checkpoint_files(hf_dir):
        part = read_safetensors(path)
        for k in part:
            if k in tensors:
                raise ValueError(f"{hf_dir}: tensor {k} appears in more than one shard")
        tensors.update(part)
        dtypes.update(tensor_dtypes(path))
    return tensors, dtypes


# ----------------------------------------------------------------------------- writing

def _encode(arr: np.ndarray, dtype: str) -> bytes:
    dtype = dtype.upper()
    if dtype == "BF16":
        return f32_to_bf16_bits(np.asarray(arr, dtype=np.float32)).tobytes()
    if dtype not in _STORAGE:
        raise ValueError(f"unsupported dtype {dtype}")
    return np.ascontiguousarray(arr, dtype=_STORAGE[dtype]).tobytes()


def write_safetensors(path: str, tensors: Mapping[str, Tuple[str, np.ndarray]],
                      metadata: Optional[Mapping[str, str]] = None) -> None:
    """Write tensors {name: (dtype string, array)} in the given order.

    Values are converted to the storage dtype here (F16 and BF16 round to nearest even).
    The JSON header is padded with spaces to a multiple of 8 bytes.
    """
    specs = [(name, dtype, np.shape(arr)) for name, (dtype, arr) in tensors.items()]
    write_safetensors_streaming(path, specs, lambda name: tensors[name][1], metadata)


def write_safetensors_streaming(path: str, specs: Sequence[Tuple[str, str, Sequence[int]]],
                                produce: Callable[[str], Union[np.ndarray, Iterable[np.ndarray]]],
                                metadata: Optional[Mapping[str, str]] = None) -> None:
    """Write tensors one at a time: specs = [(name, dtype, shape)].

    produce(name) returns the tensor as an array, or as an iterable of arrays that are
    consecutive row-major pieces of it (so a 545M-value embedding never sits in memory as a
    whole). The header is computed from the specs first. Written to PATH.tmp and renamed, so
    an interrupted run leaves no truncated file.
    """
    header: dict = {}
    if metadata:
        header["__metadata__"] = {str(k): str(v) for k, v in metadata.items()}
    offset = 0
    for name, dtype, shape in specs:
        nbytes = tensor_nbytes(dtype, shape)
        header[name] = {"dtype": dtype.upper(), "shape": [int(s) for s in shape],
                        "data_offsets": [offset, offset + nbytes]}
        offset += nbytes
    hbytes = json.dumps(header, separators=(",", ":")).encode("utf-8")
    hbytes += b" " * ((-len(hbytes)) % 8)
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(struct.pack("<Q", len(hbytes)))
        f.write(hbytes)
        for name, dtype, shape in specs:
            produced = produce(name)
            pieces = [produced] if isinstance(produced, np.ndarray) else produced
            written = 0
            for piece in pieces:
                data = _encode(piece, dtype)
                f.write(data)
                written += len(data)
            begin, end = header[name]["data_offsets"]
            if written != end - begin:
                raise ValueError(f"{name}: produced {written} bytes, shape {list(shape)} of {dtype} "
                                 f"needs {end - begin}")
    os.replace(tmp, path)


def tensor_nbytes(dtype: str, shape) -> int:
    itemsize = 2 if dtype.upper() == "BF16" else _STORAGE[dtype.upper()].itemsize
    return int(np.prod(shape, dtype=np.int64)) * itemsize
