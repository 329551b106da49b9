// Chat formats (src/model/chat_format.h): rendering details and errors, format detection
// from GGUF metadata, reading model output back (reasoning, tool calls, malformed calls),
// JSON requests, and Python-compatible JSON. The byte-for-byte comparison with the real
// templates is tests/oracle/chat_oracle.py.
#include "model/chat_format.h"

#include <gtest/gtest.h>

#include <fstream>
#include <random>
#include <sstream>
#include <string>

#include "model/chat_json.h"
#include "model/python_json.h"

namespace tandem {
namespace {

std::string ReadTemplate(const std::string& name) {
  std::ifstream in(TANDEM_SOURCE_DIR "/tests/data/templates/" + name, std::ios::binary);
  std::stringstream buf;
  buf << in.rdbuf();
  EXPECT_FALSE(buf.str().empty()) << name;
  return buf.str();
}
const std::string kQwen3Template = "Qwen-Qwen3-0.6B.jinja";
const std::string kMiniMaxM2Template = "MiniMax-M2.jinja";

ChatMessage Msg(ChatRole role, std::string content) {
  ChatMessage m;
  m.role = role;
  m.content = std::move(content);
  return m;
}

ChatRequest Request(std::vector<ChatMessage> messages, bool add_generation_prompt = true) {
  ChatRequest r;
  r.messages = std::move(messages);
  r.add_generation_prompt = add_generation_prompt;
  return r;
}

std::string Render(ChatFormat f, const ChatRequest& r) {
  auto text = RenderChat(f, r);
  EXPECT_TRUE(text.ok()) << text.status().message();
  return text.ok() ? *text : "";
}

constexpr const char* kWeatherTool =
    R"({"type": "function", "function": {"name": "get_weather", "parameters": {"type": "object", )"
    R"("properties": {"city": {"type": "string"}, "days": {"type": "integer"}, "code": {"type": "string"}}}}})";

// ---------------------------------------------------------------- Python-style JSON

TEST(PythonJson, FloatsAsPythonRepr) {
  EXPECT_EQ(PythonFloatRepr(1.0), "1.0");
  EXPECT_EQ(PythonFloatRepr(0.1), "0.1");
  EXPECT_EQ(PythonFloatRepr(-2.5), "-2.5");
  EXPECT_EQ(PythonFloatRepr(1e-05), "1e-05");
  EXPECT_EQ(PythonFloatRepr(0.0001), "0.0001");
  EXPECT_EQ(PythonFloatRepr(1.5e-07), "1.5e-07");
  EXPECT_EQ(PythonFloatRepr(1e15), "1000000000000000.0");
  EXPECT_EQ(PythonFloatRepr(1e16), "1e+16");
  EXPECT_EQ(PythonFloatRepr(2.5e20), "2.5e+20");
  EXPECT_EQ(PythonFloatRepr(123.456), "123.456");
  EXPECT_EQ(PythonFloatRepr(-0.0), "-0.0");
  EXPECT_EQ(PythonFloatRepr(1.0 / 3), "0.3333333333333333");
  EXPECT_EQ(PythonFloatRepr(5e-324), "5e-324");
  EXPECT_EQ(PythonFloatRepr(1.7976931348623157e308), "1.7976931348623157e+308");
}

TEST(PythonJson, SeparatorsOrderAndEscapes) {
  auto v =
      ParseOrderedJson(R"({"z": [1, 2.0, true, null], "a": {"k": "v"}, "s": "q\"\\\n\t\u0001\u007f é 🚀"})", "test");
  ASSERT_TRUE(v.ok()) << v.status().message();
  EXPECT_EQ(PythonJsonDumps(*v),
            "{\"z\": [1, 2.0, true, null], \"a\": {\"k\": \"v\"}, \"s\": \"q\\\"\\\\\\n\\t\\u0001\x7f é 🚀\"}");
  EXPECT_EQ(PythonJsonDumps(OrderedJson::object()), "{}");
  EXPECT_EQ(PythonJsonDumps(OrderedJson::array()), "[]");
  auto bad = ParseOrderedJson("{\"a\": ", "tool definition 3");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("tool definition 3 is not valid JSON"), std::string::npos);
}

// ---------------------------------------------------------------- rendering

TEST(ChatRender, Qwen3SingleTurnAndThinkingOff) {
  ChatRequest r = Request({Msg(ChatRole::kSystem, "Be brief."), Msg(ChatRole::kUser, "Hi")});
  EXPECT_EQ(Render(ChatFormat::kQwen3, r),
            "<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n");
  r.enable_thinking = false;
  EXPECT_EQ(Render(ChatFormat::kQwen3, r),
            "<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n"
            "<|im_start|>assistant\n<think>\n\n</think>\n\n");
  r.add_generation_prompt = false;
  EXPECT_EQ(Render(ChatFormat::kQwen3, r), "<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n");
}

TEST(ChatRender, Qwen3ReasoningOnlyAfterLastQuery) {
  ChatMessage a1 = Msg(ChatRole::kAssistant, "4");
  a1.reasoning_content = "2+2";
  ChatMessage a2 = Msg(ChatRole::kAssistant, "6");
  a2.reasoning_content = "3+3";
  ChatRequest r = Request({Msg(ChatRole::kUser, "2+2?"), a1, Msg(ChatRole::kUser, "3+3?"), a2}, false);
  EXPECT_EQ(Render(ChatFormat::kQwen3, r),
            "<|im_start|>user\n2+2?<|im_end|>\n<|im_start|>assistant\n4<|im_end|>\n"
            "<|im_start|>user\n3+3?<|im_end|>\n<|im_start|>assistant\n<think>\n3+3\n</think>\n\n6<|im_end|>\n");
}

TEST(ChatRender, Qwen3ToolCallsAndGroupedResults) {
  ChatMessage call = Msg(ChatRole::kAssistant, "");
  call.tool_calls = {{"c1", "get_weather", R"({"city":"Paris"})"}, {"c2", "get_weather", R"({"city":"Rome"})"}};
  ChatRequest r =
      Request({Msg(ChatRole::kUser, "Weather?"), call, Msg(ChatRole::kTool, "21"), Msg(ChatRole::kTool, "25")});
  std::string text = Render(ChatFormat::kQwen3, r);
  EXPECT_NE(
      text.find(
          "<|im_start|>assistant\n<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Paris\"}}\n"
          "</tool_call>\n<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Rome\"}}\n"
          "</tool_call><|im_end|>\n"),
      std::string::npos)
      << text;
  EXPECT_NE(text.find("<|im_start|>user\n<tool_response>\n21\n</tool_response>\n<tool_response>\n25\n</tool_response>"
                      "<|im_end|>\n<|im_start|>assistant\n"),
            std::string::npos)
      << text;
}

TEST(ChatRender, MiniMaxM2DefaultSystemAndGenerationPrompt) {
  ChatRequest r = Request({Msg(ChatRole::kUser, "Hello!")});
  EXPECT_EQ(Render(ChatFormat::kMiniMaxM2, r),
            "]~!b[]~b]system\nYou are a helpful assistant.[e~[\n]~b]user\nHello![e~[\n]~b]ai\n<think>\n");
  EXPECT_TRUE(GenerationStartsInReasoning(ChatFormat::kMiniMaxM2, r));
  EXPECT_FALSE(GenerationStartsInReasoning(ChatFormat::kQwen3, r));
}

TEST(ChatRender, MiniMaxM2ToolParameters) {
  ChatMessage call = Msg(ChatRole::kAssistant, "Checking.");
  call.tool_calls = {{"", "get_weather", R"({"city": "Paris", "days": 3, "opts": {"a": [1.0, null]}})"}};
  ChatRequest r = Request({Msg(ChatRole::kUser, "Weather?"), call, Msg(ChatRole::kTool, "21")}, false);
  EXPECT_EQ(Render(ChatFormat::kMiniMaxM2, r),
            "]~!b[]~b]system\nYou are a helpful assistant.[e~[\n]~b]user\nWeather?[e~[\n]~b]ai\nChecking.\n"
            "<minimax:tool_call>\n<invoke name=\"get_weather\">\n<parameter name=\"city\">Paris</parameter>\n"
            "<parameter name=\"days\">3</parameter>\n<parameter name=\"opts\">{\"a\": [1.0, null]}</parameter>\n"
            "</invoke>\n</minimax:tool_call>[e~[\n]~b]tool\n<response>21</response>[e~[\n");
}

TEST(ChatRender, ErrorsNameTheProblem) {
  auto empty = RenderChat(ChatFormat::kQwen3, Request({}));
  ASSERT_FALSE(empty.ok());
  EXPECT_NE(empty.status().message().find("no messages"), std::string::npos);

  ChatRequest bad_tool = Request({Msg(ChatRole::kUser, "x")});
  bad_tool.tools = {"{not json"};
  auto t = RenderChat(ChatFormat::kQwen3, bad_tool);
  ASSERT_FALSE(t.ok());
  EXPECT_NE(t.status().message().find("tool definition 0 is not valid JSON"), std::string::npos);
  bad_tool.tools = {"[1, 2]"};
  EXPECT_FALSE(RenderChat(ChatFormat::kMiniMaxM2, bad_tool).ok());
  bad_tool.tools = {R"({"description": "no name"})"};
  EXPECT_FALSE(RenderChat(ChatFormat::kMiniMaxM2, bad_tool).ok());

  auto orphan =
      RenderChat(ChatFormat::kMiniMaxM2,
                 Request({Msg(ChatRole::kUser, "x"), Msg(ChatRole::kAssistant, "y"), Msg(ChatRole::kTool, "z")}));
  ASSERT_FALSE(orphan.ok());
  EXPECT_NE(orphan.status().message().find("message 2 is a tool result"), std::string::npos);

  ChatMessage call = Msg(ChatRole::kAssistant, "");
  call.tool_calls = {{"", "f", "[1, 2]"}};
  auto args = RenderChat(ChatFormat::kMiniMaxM2, Request({Msg(ChatRole::kUser, "x"), call}));
  ASSERT_FALSE(args.ok());
  EXPECT_NE(args.status().message().find("not a JSON object"), std::string::npos);
  // Qwen3 prints arguments that are not an object as written, like its template.
  EXPECT_TRUE(RenderChat(ChatFormat::kQwen3, Request({Msg(ChatRole::kUser, "x"), call})).ok());
}

TEST(ChatRender, BareFunctionToolsAreWrapped) {
  ChatRequest r = Request({Msg(ChatRole::kUser, "x")});
  r.tools = {R"({"name": "now", "parameters": {}})"};
  EXPECT_NE(
      Render(ChatFormat::kQwen3, r).find(R"({"type": "function", "function": {"name": "now", "parameters": {}}})"),
      std::string::npos);
  EXPECT_NE(Render(ChatFormat::kMiniMaxM2, r).find(R"(<tool>{"name": "now", "parameters": {}}</tool>)"),
            std::string::npos);
}

// ---------------------------------------------------------------- detection

TEST(ChatDetect, RealTemplatesAndArchFallback) {
  EXPECT_EQ(*ChatFormatOfTemplate(ReadTemplate(kQwen3Template)), ChatFormat::kQwen3);
  EXPECT_EQ(*ChatFormatOfTemplate(ReadTemplate(kMiniMaxM2Template)), ChatFormat::kMiniMaxM2);

  GgufMetadata md;
  md.Set("general.architecture", GgufValue::String("minimax-m2"));
  EXPECT_EQ(*DetectChatFormat(md), ChatFormat::kMiniMaxM2);  // no template: by arch
  md.Set("tokenizer.chat_template", GgufValue::String(ReadTemplate(kQwen3Template)));
  EXPECT_EQ(*DetectChatFormat(md), ChatFormat::kQwen3);  // the template wins

  GgufMetadata qwen;
  qwen.Set("general.architecture", GgufValue::String("qwen3moe"));
  EXPECT_EQ(*DetectChatFormat(qwen), ChatFormat::kQwen3);
}

TEST(ChatDetect, UnknownTemplateIsAClearError) {
  GgufMetadata md;
  md.Set("general.architecture", GgufValue::String("qwen3moe"));
  md.Set("tokenizer.chat_template", GgufValue::String("{% for m in messages %}<s>[INST] {{ m.content }}{% endfor %}"));
  auto f = DetectChatFormat(md);
  ASSERT_FALSE(f.ok());
  const std::string& msg = f.status().message();
  EXPECT_NE(msg.find("tokenizer.chat_template"), std::string::npos) << msg;
  EXPECT_NE(msg.find("<s>[INST]"), std::string::npos) << msg;
  EXPECT_NE(msg.find("qwen3"), std::string::npos) << msg;
  EXPECT_NE(msg.find("minimax-m2"), std::string::npos) << msg;

  EXPECT_FALSE(DetectChatFormat(GgufMetadata()).ok());
  EXPECT_EQ(*ParseChatFormat("minimax-m2"), ChatFormat::kMiniMaxM2);
  EXPECT_FALSE(ParseChatFormat("llama3").ok());
}

// ---------------------------------------------------------------- output parsing

TEST(ChatParse, Qwen3ReasoningAndContent) {
  ChatRequest r = Request({Msg(ChatRole::kUser, "2+2?")});
  ChatMessage m = ParseChatOutput(ChatFormat::kQwen3, r, "<think>\nTwo and two.\n</think>\n\nIt is 4.");
  EXPECT_EQ(m.role, ChatRole::kAssistant);
  EXPECT_EQ(m.reasoning_content, "Two and two.");
  EXPECT_EQ(m.content, "It is 4.");
  EXPECT_TRUE(m.tool_calls.empty());

  m = ParseChatOutput(ChatFormat::kQwen3, r, "Just 4.");
  EXPECT_FALSE(m.reasoning_content.has_value());
  EXPECT_EQ(m.content, "Just 4.");

  m = ParseChatOutput(ChatFormat::kQwen3, r, "<think>\ncut off while thin");  // hit the token limit
  EXPECT_EQ(m.reasoning_content, "cut off while thin");
  EXPECT_EQ(m.content, "");
}

TEST(ChatParse, Qwen3ToolCalls) {
  ChatRequest r = Request({Msg(ChatRole::kUser, "Weather?")});
  ChatMessage m = ParseChatOutput(
      ChatFormat::kQwen3, r,
      "<think>\nNeed both.\n</think>\n\nLet me check.\n<tool_call>\n{\"name\": \"get_weather\", \"arguments\": "
      "{\"city\": \"Paris\", \"days\": 2}}\n</tool_call>\n<tool_call>\n{\"name\": \"now\", \"arguments\": "
      "{}}\n</tool_call>");
  EXPECT_EQ(m.reasoning_content, "Need both.");
  EXPECT_EQ(m.content, "Let me check.");
  ASSERT_EQ(m.tool_calls.size(), 2u);
  EXPECT_EQ(m.tool_calls[0].name, "get_weather");
  EXPECT_EQ(m.tool_calls[0].arguments, R"({"city":"Paris","days":2})");
  EXPECT_EQ(m.tool_calls[1].name, "now");
  EXPECT_EQ(m.tool_calls[1].arguments, "{}");
}

TEST(ChatParse, Qwen3MalformedToolCallsStayContent) {
  ChatRequest r = Request({Msg(ChatRole::kUser, "x")});
  for (std::string bad : {"<tool_call>\n{\"name\": \"f\", \"arguments\": {\n</tool_call>",  // bad JSON
                          "<tool_call>\n{\"arguments\": {}}\n</tool_call>",                 // no name
                          "<tool_call>\n[1, 2]\n</tool_call>",                              // not an object
                          "<tool_call>\n{\"name\": \"f\", \"arguments\": {}}"}) {           // unterminated
    ChatMessage m = ParseChatOutput(ChatFormat::kQwen3, r, "Before. " + bad);
    EXPECT_TRUE(m.tool_calls.empty()) << bad;
    EXPECT_EQ(m.content, "Before. " + bad);
  }
  // A good call next to a bad one: the good one is read, the bad one stays.
  ChatMessage m = ParseChatOutput(ChatFormat::kQwen3, r,
                                  "<tool_call>\n{oops}\n</tool_call>\n<tool_call>\n{\"name\": \"g\", \"arguments\": "
                                  "\"{\\\"a\\\":1}\"}\n</tool_call>");
  ASSERT_EQ(m.tool_calls.size(), 1u);
  EXPECT_EQ(m.tool_calls[0].name, "g");
  EXPECT_EQ(m.tool_calls[0].arguments, R"({"a":1})");  // string arguments are JSON text already
  EXPECT_EQ(m.content, "<tool_call>\n{oops}\n</tool_call>");
}

TEST(ChatParse, MiniMaxM2StartsInsideThink) {
  ChatRequest r = Request({Msg(ChatRole::kUser, "Hi")});
  ChatMessage m = ParseChatOutput(ChatFormat::kMiniMaxM2, r, "The user greets.\n</think>\n\nHello there!");
  EXPECT_EQ(m.reasoning_content, "The user greets.");
  EXPECT_EQ(m.content, "Hello there!");
  m = ParseChatOutput(ChatFormat::kMiniMaxM2, r, "still thinking when the limit came");
  EXPECT_EQ(m.reasoning_content, "still thinking when the limit came");
  EXPECT_EQ(m.content, "");
}

TEST(ChatParse, MiniMaxM2ToolCallsTypedBySchema) {
  ChatRequest r = Request({Msg(ChatRole::kUser, "Weather?")});
  r.tools = {kWeatherTool};
  ChatMessage m = ParseChatOutput(
      ChatFormat::kMiniMaxM2, r,
      "Plan.\n</think>\n\nChecking.\n<minimax:tool_call>\n<invoke name=\"get_weather\">\n"
      "<parameter name=\"city\">Paris</parameter>\n<parameter name=\"days\">3</parameter>\n"
      "<parameter name=\"code\">007</parameter>\n<parameter name=\"extra\">{\"a\": [1, true]}</parameter>\n"
      "<parameter name=\"note\">not { json</parameter>\n</invoke>\n<invoke name=\"now\">\n</invoke>\n"
      "</minimax:tool_call>");
  EXPECT_EQ(m.reasoning_content, "Plan.");
  EXPECT_EQ(m.content, "Checking.");
  ASSERT_EQ(m.tool_calls.size(), 2u);
  EXPECT_EQ(m.tool_calls[0].name, "get_weather");
  // code is declared a string: "007" stays text; days and extra are JSON; note is not JSON.
  EXPECT_EQ(m.tool_calls[0].arguments,
            R"({"city":"Paris","days":3,"code":"007","extra":{"a":[1,true]},"note":"not { json"})");
  EXPECT_EQ(m.tool_calls[1].name, "now");
  EXPECT_EQ(m.tool_calls[1].arguments, "{}");
}

TEST(ChatParse, MiniMaxM2MalformedToolCallsStayContent) {
  ChatRequest r = Request({Msg(ChatRole::kUser, "x")});
  for (std::string bad :
       {"<minimax:tool_call>\n<invoke name=\"f\">\n<parameter name=\"a\">1</parameter>\n</minimax:tool_call>",
        "<minimax:tool_call>\n<invoke>\n</invoke>\n</minimax:tool_call>",
        "<minimax:tool_call>\n<invoke name=\"\">\n</invoke>\n</minimax:tool_call>",
        "<minimax:tool_call>\n<invoke name=\"f\">\n<parameter name=\"a\">1\n</invoke>\n</minimax:tool_call>",
        "<minimax:tool_call>\njunk<invoke name=\"f\">\n</invoke>\n</minimax:tool_call>",
        "<minimax:tool_call>\n</minimax:tool_call>",
        "<minimax:tool_call>\n<invoke name=\"f\">\n</invoke>"}) {  // unterminated
    ChatMessage m = ParseChatOutput(ChatFormat::kMiniMaxM2, r, "r</think>Text " + bad);
    EXPECT_TRUE(m.tool_calls.empty()) << bad;
    EXPECT_EQ(m.content, "Text " + bad);
  }
}

// Any mix of tag fragments, JSON bits and invalid UTF-8: no crash, and the result
// serializes to JSON.
TEST(ChatParse, RandomFragmentsAreSafe) {
  const std::vector<std::string> pieces = {"<think>",
                                           "</think>",
                                           "<tool_call>",
                                           "</tool_call>",
                                           "<minimax:tool_call>",
                                           "</minimax:tool_call>",
                                           "<invoke name=\"f\">",
                                           "</invoke>",
                                           "<parameter name=\"a\">",
                                           "</parameter>",
                                           "<invoke",
                                           "name=\"",
                                           "{\"name\": \"f\", \"arguments\": {}}",
                                           "{",
                                           "}",
                                           "\"",
                                           "\n",
                                           " ",
                                           "x",
                                           "é",
                                           "\xff",
                                           "\xE4\xBD"};
  std::mt19937 rng(11);
  ChatRequest r = Request({Msg(ChatRole::kUser, "x")});
  r.tools = {kWeatherTool};
  for (int iter = 0; iter < 3000; ++iter) {
    std::string text;
    for (int k = 0, n = rng() % 14; k < n; ++k) text += pieces[rng() % pieces.size()];
    for (ChatFormat f : {ChatFormat::kQwen3, ChatFormat::kMiniMaxM2}) {
      ChatMessage m = ParseChatOutput(f, r, text);
      EXPECT_FALSE(ChatMessageToJson(m).empty());
      for (const ToolCall& c : m.tool_calls) EXPECT_FALSE(c.name.empty()) << text;
    }
  }
}

// Output parsed and put back into the conversation renders as the model wrote it.
TEST(ChatParse, RoundTripThroughTheTemplates) {
  ChatRequest r = Request({Msg(ChatRole::kUser, "Weather in Paris?")});
  r.tools = {kWeatherTool};
  struct Case {
    ChatFormat format;
    std::string output, end;
  };
  for (const Case& c :
       {Case{ChatFormat::kQwen3,
             "<think>\nThe user wants weather.\n</think>\n\nSure.\n<tool_call>\n{\"name\": \"get_weather\", "
             "\"arguments\": {\"city\": \"Paris\", \"days\": 2}}\n</tool_call>",
             "<|im_end|>\n"},
        Case{ChatFormat::kMiniMaxM2,
             "The user wants weather.\n</think>\n\nSure.\n<minimax:tool_call>\n<invoke name=\"get_weather\">\n"
             "<parameter name=\"city\">Paris</parameter>\n<parameter name=\"days\">2</parameter>\n</invoke>\n"
             "</minimax:tool_call>",
             "[e~[\n"}}) {
    std::string prompt = Render(c.format, r);
    ChatMessage reply = ParseChatOutput(c.format, r, c.output);
    ASSERT_EQ(reply.tool_calls.size(), 1u);
    ChatRequest next = r;
    next.messages.push_back(reply);
    next.add_generation_prompt = false;
    EXPECT_EQ(Render(c.format, next), prompt + c.output + c.end) << ChatFormatName(c.format);
  }
}

// ---------------------------------------------------------------- JSON requests

TEST(ChatJson, ReadsOpenAiAndHuggingFaceShapes) {
  auto r = ChatRequestFromJson(R"({
    "messages": [
      {"role": "system", "content": "S"},
      {"role": "user", "content": "U"},
      {"role": "assistant", "content": null, "reasoning_content": "R",
       "tool_calls": [{"id": "c1", "type": "function", "function": {"name": "f", "arguments": "{\"a\": 1}"}},
                      {"type": "function", "function": {"name": "g", "arguments": {"b": [2]}}}]},
      {"role": "tool", "tool_call_id": "c1", "name": "f", "content": "ok"}],
    "tools": [{"type": "function", "function": {"name": "f"}}],
    "add_generation_prompt": false,
    "chat_template_kwargs": {"enable_thinking": false}})");
  ASSERT_TRUE(r.ok()) << r.status().message();
  ASSERT_EQ(r->messages.size(), 4u);
  const ChatMessage& a = r->messages[2];
  EXPECT_EQ(a.role, ChatRole::kAssistant);
  EXPECT_EQ(a.content, "");
  EXPECT_EQ(a.reasoning_content, "R");
  ASSERT_EQ(a.tool_calls.size(), 2u);
  EXPECT_EQ(a.tool_calls[0].id, "c1");
  EXPECT_EQ(a.tool_calls[0].arguments, R"({"a": 1})");
  EXPECT_EQ(a.tool_calls[1].arguments, R"({"b":[2]})");
  EXPECT_EQ(r->messages[3].tool_call_id, "c1");
  EXPECT_EQ(r->tools.size(), 1u);
  EXPECT_FALSE(r->add_generation_prompt);
  EXPECT_FALSE(r->enable_thinking);

  ChatMessage reply;
  reply.role = ChatRole::kAssistant;
  reply.content = "hi";
  reply.reasoning_content = "r";
  reply.tool_calls = {{"", "f", R"({"a":1})"}};
  EXPECT_EQ(ChatMessageToJson(reply),
            R"({"role":"assistant","content":"hi","reasoning_content":"r","tool_calls":[{"type":"function",)"
            R"("function":{"name":"f","arguments":"{\"a\":1}"}}]})");
}

TEST(ChatJson, ErrorsNameTheMessage) {
  auto role =
      ChatRequestFromJson(R"({"messages": [{"role": "user", "content": "x"}, {"role": "robot", "content": "y"}]})");
  ASSERT_FALSE(role.ok());
  EXPECT_NE(role.status().message().find("message 1"), std::string::npos) << role.status().message();
  EXPECT_NE(role.status().message().find("robot"), std::string::npos);
  auto content = ChatRequestFromJson(R"({"messages": [{"role": "user", "content": 5}]})");
  ASSERT_FALSE(content.ok());
  EXPECT_NE(content.status().message().find("\"content\" must be a string"), std::string::npos);
  EXPECT_FALSE(ChatRequestFromJson(R"({"msgs": []})").ok());
  EXPECT_FALSE(ChatRequestFromJson("not json").ok());
  EXPECT_FALSE(ChatRequestFromJson(R"({"messages": [], "add_generation_prompt": "yes"})").ok());
}

}  // namespace
}  // namespace tandem
