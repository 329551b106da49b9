#!/usr/bin/env python3
"""Oracle test of tandem's CPU quant reference against gguf-py (ggml's own Python port).

usage: dequant_oracle.py PATH/TO/dequant_tool

For each of the 16 supported types:
  1. dequantize: random raw blocks (random bytes for quant fields, random finite f16
     scales, a sane e8m0 byte for MXFP4, random finite bit patterns for F32/F16/BF16)
     go through `dequant_tool TYPE` and gguf.quants.dequantize; the f32 outputs must be
     bit-identical.
  2. quantize: random normal data (plus an all-zero block and outliers) goes through
     `dequant_tool quantize TYPE`; gguf's dequantize of our bytes must equal our own
     DequantizeRow of them bit for bit (our block layout is what ggml reads), and the
     reconstruction must be near the input. For F32/F16/BF16 our bytes must also equal
     gguf.quants.quantize's bytes.
Prints one line per type and check; exits 1 on any mismatch.
"""

import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
from gguf import GGML_QUANT_SIZES, GGMLQuantizationType
from gguf.quants import dequantize, quantize

TYPES = ["F32", "F16", "BF16", "Q4_0", "Q4_1", "Q5_0", "Q5_1", "Q8_0",
         "Q2_K", "Q3_K", "Q4_K", "Q5_K", "Q6_K", "IQ4_NL", "IQ4_XS", "MXFP4"]

# Byte offsets of the f16 scale fields inside one block (see block_formats.h).
F16_FIELDS = {
    "Q4_0": [0], "Q4_1": [0, 2], "Q5_0": [0], "Q5_1": [0, 2], "Q8_0": [0], "IQ4_NL": [0],
    "Q2_K": [80, 82], "Q3_K": [108], "Q4_K": [0, 2], "Q5_K": [0, 2], "Q6_K": [208], "IQ4_XS": [0],
}
BLOCKS = 64   # blocks per type in the dequantize check
ROWS = 4      # gguf sees them as ROWS rows; dequant_tool as one row

# Loose sanity bound on the quantize check's reconstruction (normalised RMS error);
# the tight per-type bounds live in quant_test.cc.
SANE_NRMSE = 0.5


def random_blocks(rng: np.random.Generator, name: str) -> np.ndarray:
    """BLOCKS random raw blocks of `name` as uint8 of shape (ROWS, row_bytes)."""
    block_size, block_bytes = GGML_QUANT_SIZES[GGMLQuantizationType[name]]
    n_elems = BLOCKS * max(block_size, 32)  # float types: 2048 elements
    if name == "F32":
        bits = rng.integers(0, 2**32, n_elems, dtype=np.uint64).astype(np.uint32)
        exp_all_ones = (bits >> 23) & 0xFF == 0xFF
        bits[exp_all_ones] &= ~np.uint32(0x40000000)  # finite: clear an exponent bit
        raw = bits.view(np.uint8)
    elif name in ("F16", "BF16"):
        bits = rng.integers(0, 2**16, n_elems, dtype=np.uint32).astype(np.uint16)
        exp_mask = np.uint16(0x7C00 if name == "F16" else 0x7F80)
        bits[(bits & exp_mask) == exp_mask] &= ~np.uint16(0x4000)
        raw = bits.view(np.uint8)
    else:
        blocks = rng.integers(0, 256, (BLOCKS, block_bytes), dtype=np.uint16).astype(np.uint8)
        if name == "MXFP4":
            blocks[:, 0] = rng.integers(100, 151, BLOCKS)
        for off in F16_FIELDS.get(name, []):
            # |scale| in 2^-20 .. 2^8: f16 subnormals included, nothing near overflow
            mag = np.exp2(rng.uniform(-20, 8, BLOCKS)) * rng.choice([-1.0, 1.0], BLOCKS)
            blocks[:, off:off + 2] = mag.astype(np.float16).view(np.uint8).reshape(BLOCKS, 2)
        raw = blocks.reshape(-1)
    return raw.reshape(ROWS, -1)


def random_values(rng: np.random.Generator, name: str) -> tuple[np.ndarray, int]:
    """Normal f32 data: an all-zero block, an all-negative block, and outliers in the
    last two blocks. Returns the data and how many leading values are outlier-free."""
    block_size, _ = GGML_QUANT_SIZES[GGMLQuantizationType[name]]
    step = max(block_size, 32)
    x = rng.standard_normal(BLOCKS * step).astype(np.float32)
    x[:step] = 0.0
    x[step:2 * step] = -np.abs(x[step:2 * step]) - 1.0
    x[-2 * step + 7] = -2000.0
    x[-step + 3] = 300.0
    return x, x.size - 2 * step


def run_tool(tool: str, args: list[str]) -> None:
    subprocess.run([tool, *args], check=True)


def first_mismatch(name: str, ours: np.ndarray, theirs: np.ndarray, raw: np.ndarray) -> str:
    """Describe the first block whose f32 outputs differ."""
    block_size, block_bytes = GGML_QUANT_SIZES[GGMLQuantizationType[name]]
    ours_u = ours.view(np.uint32).reshape(-1)
    theirs_u = theirs.view(np.uint32).reshape(-1)
    i = int(np.flatnonzero(ours_u != theirs_u)[0])
    b = i // block_size
    lo, hi = b * block_size, (b + 1) * block_size
    block = raw.reshape(-1)[b * block_bytes:(b + 1) * block_bytes]
    bad = np.flatnonzero(ours_u[lo:hi] != theirs_u[lo:hi])
    return (f"  first mismatch: element {i} (block {b}, {bad.size} of {block_size} elements differ)\n"
            f"  block bytes: {block.tobytes().hex()}\n"
            f"  ours:   {ours.reshape(-1)[lo:hi][:16].tolist()}\n"
            f"  theirs: {theirs.reshape(-1)[lo:hi][:16].tolist()}")


def check_equal(label: str, name: str, ours: np.ndarray, theirs: np.ndarray, raw: np.ndarray) -> bool:
    ours = ours.reshape(-1)
    theirs = np.ascontiguousarray(theirs, dtype=np.float32).reshape(-1)
    if ours.shape != theirs.shape:
        print(f"FAIL {name:7s} {label}: {ours.size} values vs gguf's {theirs.size}")
        return False
    diff = int(np.count_nonzero(ours.view(np.uint32) != theirs.view(np.uint32)))
    if diff:
        print(f"FAIL {name:7s} {label}: {diff} of {ours.size} values differ from gguf")
        print(first_mismatch(name, ours, theirs, raw))
        return False
    print(f"ok   {name:7s} {label}: {ours.size} values bit-identical to gguf")
    return True


def check_dequantize(tool: str, tmp: Path, rng: np.random.Generator, name: str) -> bool:
    raw = random_blocks(rng, name)
    src, dst = tmp / f"{name}.blocks", tmp / f"{name}.f32"
    src.write_bytes(raw.tobytes())
    run_tool(tool, [name, str(src), str(dst)])
    ours = np.fromfile(dst, dtype=np.float32)
    theirs = dequantize(raw, GGMLQuantizationType[name])
    return check_equal("dequantize", name, ours, theirs, raw)


def check_quantize(tool: str, tmp: Path, rng: np.random.Generator, name: str) -> bool:
    qtype = GGMLQuantizationType[name]
    x, typical = random_values(rng, name)
    src, blocks, back = tmp / f"{name}.in.f32", tmp / f"{name}.q", tmp / f"{name}.back.f32"
    src.write_bytes(x.tobytes())
    run_tool(tool, ["quantize", name, str(src), str(blocks)])
    run_tool(tool, [name, str(blocks), str(back)])
    raw = np.fromfile(blocks, dtype=np.uint8).reshape(ROWS, -1)
    ours = np.fromfile(back, dtype=np.float32)
    ok = check_equal("quantize->dequantize", name, ours, dequantize(raw, qtype), raw)
    if name in ("F32", "F16", "BF16"):
        expected = np.asarray(quantize(x.reshape(ROWS, -1), qtype)).view(np.uint8).reshape(-1)
        same = np.array_equal(expected, raw.reshape(-1))
        print(f"{'ok  ' if same else 'FAIL'} {name:7s} quantize bytes {'equal' if same else 'differ from'} gguf's")
        ok &= same
    err = ours[:typical] - x[:typical]
    nrmse = float(np.sqrt(np.mean(err ** 2) / np.mean(x[:typical] ** 2)))
    sane = bool(np.all(np.isfinite(ours))) and nrmse < SANE_NRMSE
    print(f"{'ok  ' if sane else 'FAIL'} {name:7s} reconstruction nRMSE {nrmse:.4f} (sanity bound {SANE_NRMSE})")
    return ok and sane


def main() -> int:
    if len(sys.argv) != 2:
        print(__doc__)
        return 2
    tool = sys.argv[1]
    rng = np.random.default_rng(20240611)
    failed = []
    with tempfile.TemporaryDirectory(prefix="dequant_oracle_") as tmp:
        for name in TYPES:
            ok = check_dequantize(tool, Path(tmp), rng, name)
            ok &= check_quantize(tool, Path(tmp), rng, name)
            if not ok:
                failed.append(name)
    if failed:
        print(f"FAILED types: {' '.join(failed)}")
        return 1
    print(f"all {len(TYPES)} types bit-identical to gguf-py")
    return 0


if __name__ == "__main__":
    sys.exit(main())
