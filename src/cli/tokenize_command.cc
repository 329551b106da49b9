// tandem tokenize: text -> token ids with the model's own tokenizer.
#include <fmt/format.h>

#include <cstdio>
#include <fstream>
#include <iostream>
#include <iterator>
#include <sstream>

#include "cli/commands.h"
#include "model/gguf_model.h"
#include "model/tokenizer.h"
#include "model/utf8.h"

namespace tandem::cli {
namespace {

struct TokenizeArgs {
  std::string model;
  std::string text;
  std::string file;  // "-" = stdin
  bool ids_only = false;
  bool no_special = false;
  bool no_bos = false;
};

// A piece as a quoted, printable string: valid UTF-8 stays, control characters and bytes
// that are not (yet) UTF-8 are escaped (\n, \t, \xNN).
std::string Quote(std::string_view piece) {
  std::string out = "'";
  for (size_t pos = 0; pos < piece.size();) {
    Utf8Check c = CheckUtf8(piece, pos);
    const auto b = static_cast<uint8_t>(piece[pos]);
    if (c.status != Utf8Status::kComplete) {
      out += fmt::format("\\x{:02x}", b);
      pos += 1;
      continue;
    }
    if (b == '\n') {
      out += "\\n";
    } else if (b == '\t') {
      out += "\\t";
    } else if (b == '\r') {
      out += "\\r";
    } else if (b == '\\' || b == '\'') {
      out += '\\';
      out += static_cast<char>(b);
    } else if (b < 0x20 || b == 0x7F) {
      out += fmt::format("\\x{:02x}", b);
    } else {
      out.append(piece.substr(pos, c.length));
    }
    pos += c.length;
  }
  return out + "'";
}

Expected<std::string> ReadInput(const TokenizeArgs& a) {
  if (a.file.empty()) return a.text;
  std::ostringstream buf;
  if (a.file == "-") {
    buf << std::cin.rdbuf();
  } else {
    std::ifstream in(a.file, std::ios::binary);
    if (!in) return Status::Error("--file {}: cannot open it", a.file);
    buf << in.rdbuf();
  }
  return buf.str();
}

int RunTokenize(const TokenizeArgs& a) {
  if (!a.file.empty() && !a.text.empty()) {
    fmt::print(stderr, "error: give the text either as an argument or with --file, not both\n");
    return 2;
  }
  auto text = ReadInput(a);
  if (!text.ok()) {
    fmt::print(stderr, "error: {}\n", text.status().message());
    return 1;
  }
  auto model = GgufModel::Open(a.model);
  if (!model.ok()) {
    fmt::print(stderr, "error: {}\n", model.status().message());
    return 1;
  }
  auto tokenizer = Tokenizer::FromMetadata(model->metadata());
  if (!tokenizer.ok()) {
    fmt::print(stderr, "error: {}: {}\n", a.model, tokenizer.status().message());
    return 1;
  }
  EncodeOptions options;
  options.add_special = !a.no_bos;
  options.parse_special = !a.no_special;
  auto ids = tokenizer->Encode(*text, options);
  if (!ids.ok()) {
    fmt::print(stderr, "error: {}\n", ids.status().message());
    return 1;
  }
  if (a.ids_only) {
    fmt::print("{}\n", fmt::join(*ids, " "));
    return 0;
  }
  for (TokenId id : *ids) fmt::print("{:>7}  {}\n", id, Quote(tokenizer->Piece(id)));
  return 0;
}

}  // namespace

Command AddTokenizeCommand(CLI::App& app) {
  auto args = std::make_shared<TokenizeArgs>();
  auto* sub = app.add_subcommand("tokenize", "print the token ids (and pieces) of a text with a model's tokenizer");
  sub->add_option("--model,-m", args->model, "GGUF model file (only its tokenizer metadata is read)")->required();
  sub->add_option("text", args->text, "the text (put -- before a text that starts with a dash)");
  sub->add_option("--file", args->file, "read the text from a file instead, '-' for stdin");
  sub->add_flag("--ids", args->ids_only, "print only the ids, space-separated on one line");
  sub->add_flag("--no-special", args->no_special, "control tokens written in the text (<|im_start|>) stay plain text");
  sub->add_flag("--no-bos", args->no_bos, "do not add the BOS/EOS tokens the model asks for (add_bos_token)");
  return {sub, [args] { return RunTokenize(*args); }};
}

}  // namespace tandem::cli
