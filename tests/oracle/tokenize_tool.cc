// Tokenizes a corpus with tandem's tokenizer for tests/oracle/tokenizer_oracle.py.
//   tokenize_tool MODEL.gguf CORPUS.json OUT.json
// CORPUS.json: a JSON list of strings in hex (the corpus holds invalid UTF-8, JSON cannot).
// OUT.json: {"special": [[ids]...], "plain": [[ids]...], "decoded": [hex...]}: ids with
// control tokens parsed and as plain text (no BOS/EOS either way), and the bytes that
// decoding the "special" ids gives back.
#include <nlohmann/json.hpp>

#include <fstream>
#include <iostream>
#include <string>

#include "model/gguf_model.h"
#include "model/tokenizer.h"

namespace {

std::string Hex(std::string_view s) {
  static const char* kDigits = "0123456789abcdef";
  std::string out;
  for (unsigned char c : s) {
    out.push_back(kDigits[c >> 4]);
    out.push_back(kDigits[c & 15]);
  }
  return out;
}

std::string Unhex(const std::string& h) {
  std::string out;
  for (size_t i = 0; i + 1 < h.size(); i += 2) out.push_back(static_cast<char>(std::stoi(h.substr(i, 2), nullptr, 16)));
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 4) {
    std::cerr << "usage: tokenize_tool MODEL.gguf CORPUS.json OUT.json\n";
    return 2;
  }
  auto model = tandem::GgufModel::Open(argv[1]);
  if (!model.ok()) {
    std::cerr << "error: " << model.status().message() << "\n";
    return 1;
  }
  auto tokenizer = tandem::Tokenizer::FromMetadata(model->metadata());
  if (!tokenizer.ok()) {
    std::cerr << "error: " << tokenizer.status().message() << "\n";
    return 1;
  }
  std::ifstream in(argv[2]);
  const nlohmann::json corpus = nlohmann::json::parse(in);
  nlohmann::json special = nlohmann::json::array(), plain = nlohmann::json::array(),
                 decoded = nlohmann::json::array();
  for (const auto& item : corpus) {
    const std::string text = Unhex(item.get<std::string>());
    auto with = tokenizer->Encode(text, {.add_special = false, .parse_special = true});
    auto without = tokenizer->Encode(text, {.add_special = false, .parse_special = false});
    if (!with.ok() || !without.ok()) {
      std::cerr << "error: " << (with.ok() ? without.status() : with.status()).message() << "\n";
      return 1;
    }
    special.push_back(*with);
    plain.push_back(*without);
    decoded.push_back(Hex(tokenizer->Decode(*with)));
  }
  std::ofstream out(argv[3]);
  out << nlohmann::json{{"special", special}, {"plain", plain}, {"decoded", decoded}}.dump();
  return out.good() ? 0 : 1;
}
