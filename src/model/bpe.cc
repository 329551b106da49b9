#include "model/bpe.h"

#include <algorithm>
#include <functional>

#include "model/byte_unicode.h"

namespace tandem {

int32_t BpeMerger::Intern(const std::unordered_map<std::string, int32_t>& token_ids, const std::string& text) {
  if (auto it = token_ids.find(text); it != token_ids.end()) return it->second;
  auto [it, added] = extra_.emplace(text, n_vocab_ + static_cast<int32_t>(extra_text_.size()));
  if (added) extra_text_.push_back(text);
  return it->second;
}

Expected<BpeMerger> BpeMerger::Build(const std::unordered_map<std::string, int32_t>& token_ids, int32_t n_vocab,
                                     const std::vector<std::string>& merges) {
  BpeMerger m;
  m.n_vocab_ = n_vocab;
  for (int b = 0; b < 256; ++b) {
    m.byte_symbol_[b] = m.Intern(token_ids, std::string(ByteToUtf8(static_cast<uint8_t>(b))));
  }
  m.merges_.reserve(merges.size());
  for (size_t rank = 0; rank < merges.size(); ++rank) {
    const std::string& merge = merges[rank];
    // llama.cpp splits at the first space after the first byte (a merge may start with one)
    const size_t space = merge.find(' ', 1);
    if (space == std::string::npos) {
      return Status::Error("tokenizer.ggml.merges[{}] = '{}' is not two token texts separated by a space", rank,
                           merge);
    }
    const std::string left = merge.substr(0, space);
    const std::string right = merge.substr(space + 1);
    const int32_t l = m.Intern(token_ids, left);
    const int32_t r = m.Intern(token_ids, right);
    const int32_t result = m.Intern(token_ids, left + right);
    m.merges_.emplace(Key(l, r), Merge{static_cast<int32_t>(rank), result});  // the first rank of a pair wins
  }
  m.single_byte_token_.assign(256, -1);
  for (int b = 0; b < 256; ++b) {
    if (auto it = token_ids.find(std::string(1, static_cast<char>(b))); it != token_ids.end()) {
      m.single_byte_token_[b] = it->second;
    }
  }
  return m;
}

// A symbol that is no token (only in a vocabulary whose merges make texts it lacks):
// like llama.cpp, each byte of its text that is itself a token's text becomes that token.
void BpeMerger::EmitSymbol(int32_t symbol, std::vector<int32_t>& out) const {
  if (symbol < n_vocab_) {
    out.push_back(symbol);
    return;
  }
  for (char c : extra_text_[symbol - n_vocab_]) {
    if (int32_t t = single_byte_token_[static_cast<uint8_t>(c)]; t >= 0) out.push_back(t);
  }
}

void BpeMerger::Encode(std::string_view word, std::vector<int32_t>& out) const {
  if (word.empty()) return;
  if (word.size() == 1) {
    EmitSymbol(byte_symbol_[static_cast<uint8_t>(word[0])], out);
    return;
  }
  struct Symbol {
    int32_t id;
    int32_t prev, next;  // neighbours in the list, -1 at the ends
    uint32_t length;     // bytes; 0 once merged into its left neighbour
  };
  struct Pair {
    int32_t rank;
    int32_t left, right;  // symbol indices
    uint32_t length;      // bytes of left + right when queued
    int32_t result;
    bool operator>(const Pair& o) const { return rank != o.rank ? rank > o.rank : left > o.left; }
  };
  thread_local std::vector<Symbol> symbols;  // reused across words
  thread_local std::vector<Pair> heap;       // min-heap by (rank, left)
  symbols.clear();
  heap.clear();
  const int32_t n = static_cast<int32_t>(word.size());
  for (int32_t i = 0; i < n; ++i) {
    symbols.push_back({byte_symbol_[static_cast<uint8_t>(word[i])], i - 1, i + 1 < n ? i + 1 : -1, 1});
  }
  const auto try_pair = [&](int32_t left, int32_t right) {
    if (left < 0 || right < 0) return;
    auto it = merges_.find(Key(symbols[left].id, symbols[right].id));
    if (it == merges_.end()) return;
    heap.push_back({it->second.rank, left, right, symbols[left].length + symbols[right].length, it->second.result});
    std::push_heap(heap.begin(), heap.end(), std::greater<Pair>());
  };
  for (int32_t i = 0; i + 1 < n; ++i) try_pair(i, i + 1);

  while (!heap.empty()) {
    std::pop_heap(heap.begin(), heap.end(), std::greater<Pair>());
    const Pair p = heap.back();
    heap.pop_back();
    Symbol& left = symbols[p.left];
    Symbol& right = symbols[p.right];
    // Stale: one side was merged away or grew since the pair was queued. (Symbols only
    // grow rightwards, so equal lengths mean the same two texts.)
    if (left.length == 0 || right.length == 0 || left.length + right.length != p.length) continue;
    left.id = p.result;
    left.length += right.length;
    right.length = 0;
    left.next = right.next;
    if (right.next >= 0) symbols[right.next].prev = p.left;
    try_pair(left.prev, p.left);
    try_pair(p.left, left.next);
  }
  for (int32_t i = 0; i >= 0; i = symbols[i].next) EmitSymbol(symbols[i].id, out);
}

}  // namespace tandem
