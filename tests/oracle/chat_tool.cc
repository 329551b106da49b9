// Renders chat conversations with tandem's chat formats, for chat_oracle.py to compare
// with Jinja2 rendering the real templates.
//   chat_tool CASES.json
// CASES.json: [{"format": "qwen3" | "minimax-m2", "request": {chat request JSON}}, ...]
// (the request as src/model/chat_json.h reads it). Prints a JSON array, one entry per
// case: {"text": rendered prompt} or {"error": message}.
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "model/chat_format.h"
#include "model/chat_json.h"

int main(int argc, char** argv) {
  if (argc != 2) {
    std::cerr << "usage: chat_tool CASES.json\n";
    return 2;
  }
  std::ifstream in(argv[1], std::ios::binary);
  std::stringstream buf;
  buf << in.rdbuf();
  nlohmann::ordered_json cases = nlohmann::ordered_json::parse(buf.str(), nullptr, false);
  if (!cases.is_array()) {
    std::cerr << "chat_tool: " << argv[1] << " is not a JSON array of cases\n";
    return 1;
  }
  nlohmann::json out = nlohmann::json::array();
  for (const auto& c : cases) {
    nlohmann::json result = nlohmann::json::object();
    auto format = tandem::ParseChatFormat(c.value("format", ""));
    auto request = tandem::ChatRequestFromJson(c["request"].dump());
    if (!format) {
      result["error"] = format.status().message();
    } else if (!request) {
      result["error"] = request.status().message();
    } else {
      auto text = tandem::RenderChat(*format, *request);
      if (text) {
        result["text"] = *text;
      } else {
        result["error"] = text.status().message();
      }
    }
    out.push_back(std::move(result));
  }
  std::cout << out.dump() << "\n";
  return 0;
}
