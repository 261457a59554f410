"""numpy implementation of Ember's quantized block formats (kernels/quant.h), independent of the C++.

Both formats cut each row into blocks of 32 values (the last block zero-padded) and store
one IEEE f16 scale per block:

    q8: value[i] = s * q[i],        q[i] in [-127, 127]
        ideal scale d = absmax / 127
    q4: value[i] = s * (n[i] - 8),  nibble n[i] in [0, 15]
        m = the block's value of largest magnitude, with its sign (the first one on ties),
        ideal scale d = m / -8, so m maps exactly to nibble 0;
        byte j (0..15) of a block holds element j in its low nibble, element j+16 in its high one.

The stored scale s (kernels/quant.cpp, f16_scale_not_below): the f16 nearest to d, moved one
f16 step away from zero if that nearest value is smaller in magnitude than d; an infinite
result is capped at +-65504. An all-zero block stores s = 0 and q = 0.
Elements are quantized with the *stored* scale: q = clamp(nearbyint(x / s), lo, hi), with
nearbyint = round half to even (the default FP rounding mode), lo/hi = -127/127 (q8) or
-8/7 (q4, then +8).

All arithmetic that decides a rounding is done in float32, step by step as quant.cpp does it,
so the integers here equal the C++ ones bit for bit (the parity tests depend on that).
`fake_quantize` = quantize then dequantize: the exact weights Ember multiplies with.
"""
from __future__ import annotations

from typing import Tuple

import numpy as np

QBLOCK = 32
Q8_BLOCK_BYTES = 2 + QBLOCK        # sizeof(BlockQ8)
Q4_BLOCK_BYTES = 2 + QBLOCK // 2   # sizeof(BlockQ4)

_F16_SIGN = np.uint16(0x8000)
_F16_INF = 0x7C00
_F16_MAX_FINITE = np.uint16(0x7BFF)


def _blocks(x: np.ndarray) -> Tuple[np.ndarray, int]:
    """[rows, n] float -> ([rows, nb, 32] float32 zero-padded, n)."""
    x = np.asarray(x, dtype=np.float32)
    if x.ndim == 1:
        x = x[None, :]
    rows, n = x.shape
    nb = (n + QBLOCK - 1) // QBLOCK
    padded = np.zeros((rows, nb * QBLOCK), dtype=np.float32)
    padded[:, :n] = x
    return padded.reshape(rows, nb, QBLOCK), n


def f16_scale_not_below(d: np.ndarray) -> np.ndarray:
    """quant.cpp f16_scale_not_below: f16 bits of the stored scale for ideal scales d (float32).

    Nearest f16 (round to nearest even); if its magnitude is below |d|, the next f16 outward;
    inf/NaN capped to the largest finite f16 of the same sign.
    """
    d = np.asarray(d, dtype=np.float32)
    with np.errstate(over="ignore"):
        h = d.astype(np.float16).view(np.uint16).copy()
    mag = h & np.uint16(0x7FFF)
    lost = (mag < _F16_INF) & (np.abs(h.view(np.float16).astype(np.float32)) < np.abs(d))
    h = (h + lost.astype(np.uint16)).astype(np.uint16)
    overflow = (h & np.uint16(0x7FFF)) >= _F16_INF
    return np.where(overflow, (h & _F16_SIGN) | _F16_MAX_FINITE, h).astype(np.uint16)


def _quantize_values(b: np.ndarray, scale: np.ndarray, lo: float, hi: float) -> np.ndarray:
    """quant.cpp quantize_value: clamp(nearbyint(x / scale), lo, hi); 0 where scale == 0."""
    safe = np.where(scale == 0, np.float32(1.0), scale).astype(np.float32)
    r = np.rint((b / safe).astype(np.float32))          # round half to even, like nearbyint
    r = np.clip(r, lo, hi)
    return np.where(scale == 0, np.float32(0.0), r)


def quantize_q8(x: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
    """quantize_row_q8_ref on every row of x [rows, n].

    Returns (scales f16 [rows, nb], q int8 [rows, nb, 32]).
    """
    b, _ = _blocks(x)
    amax = np.max(np.abs(b), axis=-1, keepdims=True)                    # [rows, nb, 1] f32
    d = (amax / np.float32(127.0)).astype(np.float32)
    bits = np.where(amax == 0, np.uint16(0), f16_scale_not_below(d)).astype(np.uint16)
    scale = bits.view(np.float16).astype(np.float32)
    q = _quantize_values(b, scale, -127.0, 127.0).astype(np.int8)
    return bits[..., 0].view(np.float16), q


def dequantize_q8(scales: np.ndarray, q: np.ndarray, n: int) -> np.ndarray:
    """dequantize_row_q8_ref: value = f32(scale) * q, float32 [rows, n]."""
    v = scales.astype(np.float32)[..., None] * q.astype(np.float32)
    return v.reshape(v.shape[0], -1)[:, :n].astype(np.float32)


def quantize_q4(x: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
    """quantize_row_q4_ref on every row of x [rows, n].

    Returns (scales f16 [rows, nb], nibbles uint8 [rows, nb, 32] in 0..15, unpacked).
    """
    b, _ = _blocks(x)
    idx = np.argmax(np.abs(b), axis=-1)[..., None]                      # first max on ties
    extreme = np.take_along_axis(b, idx, axis=-1)                       # signed, [rows, nb, 1]
    d = (extreme / np.float32(-8.0)).astype(np.float32)
    bits = np.where(extreme == 0, np.uint16(0), f16_scale_not_below(d)).astype(np.uint16)
    scale = bits.view(np.float16).astype(np.float32)
    q = _quantize_values(b, scale, -8.0, 7.0) + np.float32(8.0)
    return bits[..., 0].view(np.float16), q.astype(np.uint8)


def dequantize_q4(scales: np.ndarray, nibbles: np.ndarray, n: int) -> np.ndarray:
    """dequantize_row_q4_ref: value = f32(scale) * (nibble - 8), float32 [rows, n]."""
    v = scales.astype(np.float32)[..., None] * (nibbles.astype(np.float32) - np.float32(8.0))
    return v.reshape(v.shape[0], -1)[:, :n].astype(np.float32)


def fake_quantize(x: np.ndarray, fmt: str) -> np.ndarray:
    """Quantize then dequantize a matrix (or vector) row-wise; returns float32 of x's shape."""
    x = np.asarray(x, dtype=np.float32)
    shape = x.shape
    rows = x.reshape(-1, shape[-1]) if x.ndim > 1 else x[None, :]
    n = rows.shape[1]
    if fmt == "q8":
        s, q = quantize_q8(rows)
        y = dequantize_q8(s, q, n)
    elif fmt == "q4":
        s, q = quantize_q4(rows)
        y = dequantize_q4(s, q, n)
    else:
        raise ValueError(f"unknown quant format {fmt!r}")
    return y.reshape(shape)


# ----------------------------------------------------------------------------- packed bytes

def pack_q8(scales: np.ndarray, q: np.ndarray) -> bytes:
    """BlockQ8 array bytes: per block, u16 scale then 32 int8 (row-major over [rows, nb])."""
    rows, nb = scales.shape
    out = np.zeros((rows, nb, Q8_BLOCK_BYTES), dtype=np.uint8)
    out[..., :2] = scales.astype("<f2").view(np.uint8).reshape(rows, nb, 2)
    out[..., 2:] = q.view(np.uint8)
    return out.tobytes()


def pack_q4(scales: np.ndarray, nibbles: np.ndarray) -> bytes:
    """BlockQ4 array bytes: u16 scale, then byte j = nib[j] | nib[j+16] << 4."""
    rows, nb = scales.shape
    out = np.zeros((rows, nb, Q4_BLOCK_BYTES), dtype=np.uint8)
    out[..., :2] = scales.astype("<f2").view(np.uint8).reshape(rows, nb, 2)
    out[..., 2:] = nibbles[..., :16] | (nibbles[..., 16:] << 4)
    return out.tobytes()


def unpack_q4(raw: bytes, rows: int, n: int) -> Tuple[np.ndarray, np.ndarray]:
    """Inverse of pack_q4 -> (scales f16 [rows, nb], nibbles [rows, nb, 32])."""
    nb = (n + QBLOCK - 1) // QBLOCK
    a = np.frombuffer(raw, dtype=np.uint8).reshape(rows, nb, Q4_BLOCK_BYTES)
    scales = a[..., :2].copy().view("<f2")[..., 0]
    lo, hi = a[..., 2:] & 0x0F, a[..., 2:] >> 4
    return scales, np.concatenate([lo, hi], axis=-1)


def unpack_q8(raw: bytes, rows: int, n: int) -> Tuple[np.ndarray, np.ndarray]:
    """Inverse of pack_q8 -> (scales f16 [rows, nb], q int8 [rows, nb, 32])."""
    nb = (n + QBLOCK - 1) // QBLOCK
    a = np.frombuffer(raw, dtype=np.uint8).reshape(rows, nb, Q8_BLOCK_BYTES)
    scales = a[..., :2].copy().view("<f2")[..., 0]
    return scales, a[..., 2:].copy().view(np.int8)
