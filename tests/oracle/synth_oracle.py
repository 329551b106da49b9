#!/usr/bin/env python3
"""Oracle: synthetic models written by `tandem synth` read the same by tandem's GGUF
reader (gguf_dump_tool) and by the gguf Python package: metadata keys, types and values
in order, tensor names, shapes, types, offsets, sizes and bytes. The package also
dequantizes the first rows of every tensor, which must be finite and not all zero.

usage: synth_oracle.py TANDEM GGUF_DUMP_TOOL
"""
import json
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import gguf
from gguf import GGUFValueType

SMALL = ["--experts", "8", "--experts-used", "2", "--embd", "256", "--heads", "4",
         "--kv-heads", "2", "--head-dim", "64", "--ff", "256"]
# gguf's reader takes ~7 s per file (it walks 150k tokens): a few cases cover both
# architectures and the K-quant, float and MXFP4 recipes.
CASES = [
    ("qwen3moe", "q4_k_m", SMALL + ["--layers", "8"]),
    ("minimax-m2", "q3_k_xl", SMALL + ["--layers", "2", "--k-outliers", "4"]),
    ("minimax-m2", "f16", SMALL + ["--layers", "2"]),
    ("qwen3moe", "mxfp4", SMALL + ["--layers", "2"]),
]


def checksum(data: np.ndarray) -> int:
    """The dump tool's position-weighted byte sum mod 2^64."""
    b = data.reshape(-1).view(np.uint8).astype(np.uint64)
    k = np.arange(b.size, dtype=np.uint64)
    return int(np.sum((b + np.uint64(1)) * (k * np.uint64(2654435761) + np.uint64(1)), dtype=np.uint64))


def field_value(field):
    """(type, value) of a ReaderField in the dump tool's representation."""
    main = field.types[0]
    if main == GGUFValueType.ARRAY:
        sub = field.types[-1]
        if sub == GGUFValueType.STRING:
            items = [bytes(field.parts[i]).hex() for i in field.data]
        else:
            items = [field.parts[i].tolist()[0] for i in field.data]
            if sub == GGUFValueType.BOOL:
                items = [bool(x) for x in items]
        return int(main), {"elem_type": int(sub), "items": items}
    if main == GGUFValueType.STRING:
        return int(main), bytes(field.parts[field.data[0]]).hex()
    value = field.parts[field.data[0]].tolist()[0]
    if main == GGUFValueType.BOOL:
        value = bool(value)
    return int(main), value


def same_number(a, b):
    if isinstance(a, float) or isinstance(b, float):
        return np.float32(a) == np.float32(b) or a == b
    return a == b


def compare(path: Path, dump: dict) -> list[str]:
    errors = []
    reader = gguf.GGUFReader(path)
    fields = [f for name, f in reader.fields.items() if not name.startswith("GGUF.")]
    ours = dump["metadata"]
    if [f.name for f in fields] != [e["key"] for e in ours]:
        errors.append(f"metadata keys differ: gguf {[f.name for f in fields][:8]}... ours {[e['key'] for e in ours][:8]}...")
        return errors
    for field, entry in zip(fields, ours):
        t, v = field_value(field)
        if t != entry["type"]:
            errors.append(f"{field.name}: type gguf {t} ours {entry['type']}")
        elif isinstance(v, dict):
            theirs = entry["value"]
            if v["elem_type"] != theirs["elem_type"] or len(v["items"]) != len(theirs["items"]) or not all(
                    same_number(a, b) if not isinstance(a, str) else a == b for a, b in zip(v["items"], theirs["items"])):
                errors.append(f"{field.name}: array differs")
        elif not (v == entry["value"] if isinstance(v, str) else same_number(v, entry["value"])):
            errors.append(f"{field.name}: value gguf {v!r} ours {entry['value']!r}")
    if len(reader.tensors) != len(dump["tensors"]):
        errors.append(f"tensor count gguf {len(reader.tensors)} ours {len(dump['tensors'])}")
        return errors
    for t, o in zip(reader.tensors, dump["tensors"]):
        got = (t.name, [int(x) for x in t.shape], int(t.tensor_type), int(t.data_offset - reader.data_offset), int(t.n_bytes))
        want = (o["name"], o["ne"], o["type"], o["offset"], o["nbytes"])
        if got != want:
            errors.append(f"tensor differs: gguf {got} ours {want}")
            continue
        if checksum(np.ascontiguousarray(t.data)) != o["checksum"]:
            errors.append(f"{t.name}: data bytes differ")
        rows = np.asarray(t.data).reshape(-1, np.asarray(t.data).shape[-1])[:256]  # first rows suffice
        values = gguf.quants.dequantize(rows, t.tensor_type)
        if not np.all(np.isfinite(values)):
            errors.append(f"{t.name}: non-finite values after dequantization")
        elif values.std() == 0 and values.size > 1 and values.mean() == 0:
            errors.append(f"{t.name}: all zero")
    return errors


def main() -> int:
    tandem, dump_tool = sys.argv[1], sys.argv[2]
    failures = 0
    with tempfile.TemporaryDirectory() as tmp:
        for arch, recipe, flags in CASES:
            path = Path(tmp) / f"{arch}-{recipe}.gguf"
            subprocess.run([tandem, "synth", "--arch", arch, "--recipe", recipe, "--out", str(path), *flags],
                           check=True, capture_output=True)
            dump = json.loads(subprocess.run([dump_tool, str(path)], check=True, capture_output=True).stdout)
            errors = compare(path, dump)
            status = "ok" if not errors else "FAIL"
            print(f"{arch:<11} {recipe:<8} {len(dump['metadata'])} keys, {len(dump['tensors'])} tensors: {status}")
            for e in errors[:10]:
                print("   ", e)
            failures += bool(errors)
    print(f"{len(CASES) - failures} passed, {failures} failed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
