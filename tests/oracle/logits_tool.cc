// Runs tandem's CPU engine over a token sequence and writes every position's logits
// (teacher forcing) as raw f32 [n_tokens, n_vocab], for the llama.cpp oracle.
//   logits_tool MODEL OUT TOKEN... [--f32-kv] [--ggml-activations] [--prompt N] [--dump DIR]
// --prompt N runs the first N tokens as one batch, then the rest one token per call.
// --dump DIR writes every named intermediate of the (first) call to DIR/NAME-LAYER.f32
// ([n_tokens, n] f32), to compare with tests/oracle/llama_intermediates.py.
#include <cstdio>
#include <cstdlib>
#include <algorithm>
#include <cstring>
#include <string>
#include <vector>

#include "engine/engine.h"

int main(int argc, char** argv) {
  if (argc < 4) {
    std::fprintf(stderr, "usage: logits_tool MODEL OUT TOKEN... [--f32-kv] [--ggml-activations] [--prompt N] [--dump DIR]\n");
    return 2;
  }
  tandem::EngineOptions options;
  options.n_ctx = 256;
  std::vector<int32_t> tokens;
  int64_t prompt = -1;  // all tokens in one batch
  std::string dump_dir;
  for (int i = 3; i < argc; ++i) {
    if (std::strcmp(argv[i], "--f32-kv") == 0) {
      options.kv_storage = tandem::KvStorage::kF32;
    } else if (std::strcmp(argv[i], "--ggml-activations") == 0) {
      options.ggml_activation_rounding = true;
    } else if (std::strcmp(argv[i], "--dump") == 0 && i + 1 < argc) {
      dump_dir = argv[++i];
    } else if (std::strcmp(argv[i], "--prompt") == 0 && i + 1 < argc) {
      prompt = std::atoll(argv[++i]);
    } else {
      tokens.push_back(std::atoi(argv[i]));
    }
  }
  auto engine = tandem::Engine::Load(argv[1], options);
  if (!engine.ok()) {
    std::fprintf(stderr, "error: %s\n", engine.status().message().c_str());
    return 1;
  }
  if (!dump_dir.empty()) {
    (*engine)->SetObserver([&dump_dir](std::string_view name, int layer, const float* data, int64_t n_tokens,
                                       int64_t n) {
      std::string path = dump_dir + "/" + std::string(name) + "-" + std::to_string(layer) + ".f32";
      if (FILE* f = std::fopen(path.c_str(), "wb")) {
        std::fwrite(data, sizeof(float), static_cast<size_t>(n_tokens * n), f);
        std::fclose(f);
      }
    });
  }
  FILE* out = std::fopen(argv[2], "wb");
  if (out == nullptr) return 1;
  const int64_t n = static_cast<int64_t>(tokens.size());
  std::vector<float> logits;
  for (int64_t begin = 0; begin < n;) {
    int64_t count = begin == 0 ? (prompt > 0 ? std::min(prompt, n) : n) : 1;
    tandem::Status st = (*engine)->Forward(std::span(tokens).subspan(begin, count), true, logits);
    if (!st.ok()) {
      std::fprintf(stderr, "error: %s\n", st.message().c_str());
      return 1;
    }
    std::fwrite(logits.data(), sizeof(float), logits.size(), out);
    begin += count;
  }
  std::fclose(out);
  return 0;
}
