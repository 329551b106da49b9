// Byte-level BPE over one pre-tokenized word: start from one symbol per byte, merge the
// adjacent pair of lowest merge rank (leftmost on ties) until no pair has a rank — the
// order llama.cpp and Hugging Face use. A hash of (left, right) symbol ids gives each
// merge's rank; a heap of candidate pairs over a linked list of symbols keeps a word of
// n bytes at O(n log n).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "common/status.h"

namespace tandem {

class BpeMerger {
 public:
  BpeMerger() = default;
  // token_ids: token text (in the byte alphabet) -> id, for every token of the
  // vocabulary; merges: "left right" strings, rank = index (tokenizer.ggml.merges).
  // n_vocab: ids at or above it are internal (texts a merge makes that are no token).
  static Expected<BpeMerger> Build(const std::unordered_map<std::string, int32_t>& token_ids, int32_t n_vocab,
                                   const std::vector<std::string>& merges);

  // Appends the token ids of word (raw bytes, one pre-tokenizer word).
  void Encode(std::string_view word, std::vector<int32_t>& out) const;

  size_t merge_count() const { return merges_.size(); }

 private:
  struct Merge {
    int32_t rank;
    int32_t result;  // symbol id of left+right
  };
  static uint64_t Key(int32_t left, int32_t right) {
    return (static_cast<uint64_t>(static_cast<uint32_t>(left)) << 32) | static_cast<uint32_t>(right);
  }
  int32_t Intern(const std::unordered_map<std::string, int32_t>& token_ids, const std::string& text);
  void EmitSymbol(int32_t symbol, std::vector<int32_t>& out) const;

  int32_t n_vocab_ = 0;
  int32_t byte_symbol_[256] = {};                   // symbol of each single byte
  std::unordered_map<uint64_t, Merge> merges_;      // (left, right) -> merge
  std::unordered_map<std::string, int32_t> extra_;  // merge results that are no token -> id >= n_vocab
  std::vector<std::string> extra_text_;             // [id - n_vocab]
  std::vector<int32_t> single_byte_token_;          // [byte of token text] -> token whose text is that byte, or -1
};

}  // namespace tandem
