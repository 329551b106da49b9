#!/usr/bin/env python3
"""Dump llama.cpp's intermediate tensors for a token sequence, to find where the CPU
engine and llama.cpp part (pair with `logits_tool ... --dump DIR`).

    llama_intermediates.py MODEL OUTDIR NAMES TOKEN...
    NAMES: comma-separated ggml tensor names, e.g. kqv_out-1,ffn_inp-1,ffn_moe_logits-1

Uses llama.cpp's scheduler eval callback and libggml-base's ggml_get_name /
ggml_backend_tensor_get through ctypes. Each f32 tensor is written to
OUTDIR/NAME.f32 (all tokens, [n_tokens, n]). Name pairs (ours = theirs):
attn = kqv_out, ffn_in = ffn_inp, ffn_norm = ffn_norm, router_logits = ffn_moe_logits,
layer_out = l_out, attn_norm = attn_norm (with -LAYER on both sides).
"""
import ctypes
import os
import sys

import numpy as np
import llama_cpp
import llama_cpp.llama


def main() -> int:
    model, outdir, names, tokens = sys.argv[1], sys.argv[2], set(sys.argv[3].split(",")), list(map(int, sys.argv[4:]))
    ggml = ctypes.CDLL(os.path.join(os.path.dirname(llama_cpp.__file__), "lib", "libggml-base.so"))
    ggml.ggml_get_name.restype = ctypes.c_char_p
    ggml.ggml_get_name.argtypes = [ctypes.c_void_p]
    ggml.ggml_nbytes.restype = ctypes.c_size_t
    ggml.ggml_nbytes.argtypes = [ctypes.c_void_p]
    ggml.ggml_nelements.restype = ctypes.c_int64
    ggml.ggml_nelements.argtypes = [ctypes.c_void_p]
    ggml.ggml_backend_tensor_get.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_size_t, ctypes.c_size_t]

    @llama_cpp.ggml_backend_sched_eval_callback
    def observe(tensor, ask, _user):
        name = ggml.ggml_get_name(tensor).decode()
        if ask:
            return name in names
        n = ggml.ggml_nelements(tensor)
        if ggml.ggml_nbytes(tensor) == 4 * n:  # f32 only
            buf = np.empty(n, dtype=np.float32)
            ggml.ggml_backend_tensor_get(tensor, buf.ctypes.data, 0, 4 * n)
            buf.tofile(os.path.join(outdir, f"{name}.f32"))
        return True

    default_params = llama_cpp.llama_context_default_params

    def params_with_callback():
        p = default_params()
        p.cb_eval = observe
        return p

    llama_cpp.llama.llama_cpp.llama_context_default_params = params_with_callback
    os.makedirs(outdir, exist_ok=True)
    llm = llama_cpp.Llama(model_path=model, n_ctx=max(128, len(tokens)), n_batch=max(128, len(tokens)),
                          logits_all=True, verbose=False, n_threads=2, type_k=0, type_v=0)
    llm.eval(tokens)
    print("wrote", sorted(os.listdir(outdir)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
