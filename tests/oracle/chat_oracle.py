#!/usr/bin/env python3
"""Oracle: tandem's hand-written chat formats against Jinja2 rendering the real chat
templates (tests/data/templates/), byte for byte.

Jinja2 is set up the way Hugging Face transformers' apply_chat_template sets it up: an
ImmutableSandboxedEnvironment with trim_blocks and lstrip_blocks, the loopcontrols
extension, `tojson` replaced by json.dumps(ensure_ascii=False) (with its indent /
separators / sort_keys options), and raise_exception / strftime_now as globals.

Requests are written in the JSON that src/model/chat_json.h reads (OpenAI style: tool-call
arguments as JSON text). For Jinja they are turned into what a Hugging Face caller passes:
arguments that parse to a non-string JSON value become that value (a dict normally),
bare function definitions in `tools` are wrapped as {"type": "function", "function": ...}.

Every conversation is rendered with add_generation_prompt on and off, and for qwen3 also
with enable_thinking false. A case where the template raises must be an error for tandem too.

usage: chat_oracle.py CHAT_TOOL
"""
import copy
import json
import subprocess
import sys
import tempfile
from datetime import datetime
from pathlib import Path

import jinja2
from jinja2.ext import loopcontrols
from jinja2.sandbox import ImmutableSandboxedEnvironment

TEMPLATES = Path(__file__).resolve().parent.parent / "data" / "templates"
TEMPLATE_FILES = {"qwen3": "Qwen-Qwen3-0.6B.jinja", "minimax-m2": "MiniMax-M2.jinja"}


# --- the Hugging Face environment -------------------------------------------------------

def raise_exception(message):
    raise jinja2.exceptions.TemplateError(message)


def tojson(x, ensure_ascii=False, indent=None, separators=None, sort_keys=False):
    return json.dumps(x, ensure_ascii=ensure_ascii, indent=indent, separators=separators, sort_keys=sort_keys)


def strftime_now(fmt):
    return datetime.now().strftime(fmt)


def compile_template(source):
    env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True, extensions=[loopcontrols])
    env.filters["tojson"] = tojson
    env.globals["raise_exception"] = raise_exception
    env.globals["strftime_now"] = strftime_now
    return env.from_string(source)


def hf_arguments(args):
    if not isinstance(args, str):
        return args
    try:
        parsed = json.loads(args)
    except ValueError:
        return args
    return args if isinstance(parsed, str) else parsed


def hf_message(m):
    out = {"role": m["role"], "content": m.get("content") or ""}
    if m.get("reasoning_content") is not None:
        out["reasoning_content"] = m["reasoning_content"]
    if m.get("tool_calls"):
        calls = []
        for c in m["tool_calls"]:
            fn = c.get("function", c)
            call = {"type": "function", "function": {"name": fn["name"], "arguments": hf_arguments(fn.get("arguments", {}))}}
            if "id" in c:
                call["id"] = c["id"]
            calls.append(call)
        out["tool_calls"] = calls
    for key in ("tool_call_id", "name"):
        if key in m:
            out[key] = m[key]
    return out


def jinja_render(template, request):
    tools = request.get("tools") or None
    if tools:
        tools = [t if "function" in t else {"type": "function", "function": t} for t in tools]
    kwargs = {
        "messages": [hf_message(m) for m in request["messages"]],
        "tools": tools,
        "documents": None,
        "add_generation_prompt": request.get("add_generation_prompt", True),
    }
    if "enable_thinking" in request:
        kwargs["enable_thinking"] = request["enable_thinking"]
    try:
        return {"text": template.render(**copy.deepcopy(kwargs))}
    except Exception as e:  # the template raised: tandem must refuse too
        return {"error": f"{type(e).__name__}: {e}"}


# --- conversations ----------------------------------------------------------------------

WEATHER = {"type": "function", "function": {
    "name": "get_weather",
    "description": "Get the current weather in a city.",
    "parameters": {"type": "object", "properties": {
        "city": {"type": "string", "description": "City name, e.g. \"Paris\""},
        "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]}},
        "required": ["city"]}}}
SEARCH = {"type": "function", "function": {
    "name": "search",
    "description": "Search the web.\nReturns the top results.",
    "parameters": {"type": "object", "properties": {
        "query": {"type": "string"},
        "limit": {"type": "integer", "minimum": 1, "maximum": 50, "default": 10},
        "threshold": {"type": "number", "default": 0.5}},
        "required": ["query"]}}}
UNICODE_TOOL = {"function": {
    "name": "traduire",
    "description": "Traduit un texte — 翻译文本 🌍 «quotes» \\ backslash \t tab \u0001 ctl \u2028 sep",
    "parameters": {"properties": {"texte": {"type": "string", "description": "Le texte à traduire"}},
                   "type": "object"}},
    "type": "function"}  # keys in an unusual order: kept as written
BARE_TOOL = {"name": "now", "description": "Current time.", "parameters": {"type": "object", "properties": {}}}


def call(name, args, id=None):
    c = {"type": "function", "function": {"name": name, "arguments": args if isinstance(args, str) else json.dumps(args)}}
    if id:
        c["id"] = id
    return c


def user(text):
    return {"role": "user", "content": text}


def system(text):
    return {"role": "system", "content": text}


def assistant(text, reasoning=None, tool_calls=None):
    m = {"role": "assistant", "content": text}
    if reasoning is not None:
        m["reasoning_content"] = reasoning
    if tool_calls:
        m["tool_calls"] = tool_calls
    return m


def tool(text, id=None):
    m = {"role": "tool", "content": text}
    if id:
        m["tool_call_id"] = id
    return m


RICH_ARGS = {"nested": {"b": 1, "a": [1, 2.5, -3, True, False, None]}, "float_one": 1.0, "tiny": 1e-05,
             "small": 0.0001, "big": 2.5e20, "e15": 1e15, "e16": 1e16, "neg": -0.0, "third": 1 / 3,
             "text": "line1\nline2 \"quoted\" \\ back", "unicode": "héllo 世界 🚀", "num_string": "123", "empty": {}}

CONVERSATIONS = {
    "single_turn": [user("Hello!")],
    "system_and_user": [system("You are a terse assistant."), user("What is 2+2?")],
    "multi_turn": [user("Hi"), assistant("Hello! How can I help?"), user("Tell me a joke.")],
    "multi_turn_system": [system("Be nice."), user("Hi"), assistant("Hello."), user("Bye"), assistant("Goodbye!")],
    "reasoning_last_turn": [system("Think first."), user("2+2?"),
                            assistant("The answer is 4.", reasoning="Two plus two.\nThat is 4.")],
    "reasoning_earlier_turn": [user("2+2?"), assistant("4", reasoning="2+2=4"), user("3+3?"),
                               assistant("6", reasoning="\n3+3=6\n")],
    "inline_think": [user("Why?"), assistant("<think>\nBecause.\n</think>\n\nBecause it is.")],
    "inline_think_earlier": [user("Q1"), assistant("<think>\nr1\n</think>\n\nA1"), user("Q2")],
    "inline_think_many_tags": [user("x"), assistant("pre<think>a<think>b\n</think>mid</think>\n\nend\n")],
    "empty_reasoning_given": [user("x"), assistant("<think>kept as content</think>tail", reasoning="")],
    "tools_single_user": [user("What's the weather in Paris?")],
    "tools_with_system": [system("You can use tools."), user("Search for cats.")],
    "tool_call_and_result": [user("Weather in Paris?"),
                             assistant("", tool_calls=[call("get_weather", {"city": "Paris"}, "c1")]),
                             tool('{"temp": 21, "sky": "clear"}', "c1")],
    "content_and_tool_call": [user("Weather in Oslo?"),
                              assistant("Let me check.", tool_calls=[call("get_weather", {"city": "Oslo", "unit": "celsius"})]),
                              tool("-3 C")],
    "parallel_calls_results": [system("sys"), user("Weather in Paris and Rome?"),
                               assistant("", tool_calls=[call("get_weather", {"city": "Paris"}),
                                                         call("get_weather", {"city": "Rome"})]),
                               tool("Paris: 21 C"), tool("Rome: 25 C")],
    "agent_loop_reasoning": [user("Find cat facts and the weather."),
                             assistant("", reasoning="I should search first.",
                                       tool_calls=[call("search", {"query": "cat facts", "limit": 3})]),
                             tool("Cats sleep 16 hours."),
                             assistant("Now the weather.", reasoning="Then weather.",
                                       tool_calls=[call("get_weather", {"city": "Berlin"})]),
                             tool("12 C"),
                             assistant("Cats sleep a lot; Berlin is 12 C.", reasoning="Summarize.")],
    "two_agent_rounds": [user("Weather?"),
                         assistant("", reasoning="Need city.", tool_calls=[call("get_weather", {"city": "Paris"})]),
                         tool("21 C"), assistant("It is 21 C.", reasoning="Answer."), user("And Rome?"),
                         assistant("", reasoning="Rome now.", tool_calls=[call("get_weather", {"city": "Rome"})]),
                         tool("25 C")],
    "unicode": [system("Tu es un assistant français 🇫🇷."), user("你好，世界！ Ça va? Ελληνικά, עברית, emoji 👩‍💻🎉"),
                assistant("Très bien, merci 😊", reasoning="用户在问候。"), user("Encore: ñ ü ß ø å ✓")],
    "unicode_tool": [user("Traduis « bonjour » en chinois."),
                     assistant("", tool_calls=[call("traduire", {"texte": "bonjour — ça va? 🌍"})]), tool("你好")],
    "rich_arguments": [user("Run it."), assistant("Running.", tool_calls=[call("search", RICH_ARGS)]), tool("ok")],
    "arguments_as_object": [user("Weather?"),
                            assistant("", tool_calls=[{"type": "function", "function": {
                                "name": "get_weather", "arguments": {"unit": "fahrenheit", "city": "NYC"}}}]),
                            tool("70 F")],
    "user_tool_response_text": [user("Q"), assistant("", tool_calls=[call("search", {"query": "q"})]),
                                user("<tool_response>\nresult\n</tool_response>"),
                                assistant("Done.", reasoning="Got it.")],
    "second_system_message": [system("First."), user("Hi"), system("Second system note."), user("Again")],
    "empty_system": [system(""), user("Hi")],
    "no_system_tool_call_empty_content": [user("now?"), assistant("", tool_calls=[call("now", {})]), tool("12:00")],
    "edge_newlines": [user("\n\nHi\n\n"), assistant("\n\nAnswer\n", reasoning="\n\nthink\n\n"), user(" spaced ")],
    "bare_function_tool": [user("What time is it?")],
    "non_json_arguments": [user("x"), assistant("", tool_calls=[call("search", "not json {")]), tool("r")],
    "string_json_arguments": [user("x"), assistant("", tool_calls=[call("search", '"just a string"')]), tool("r")],
    "tool_result_without_call": [user("x"), assistant("plain answer"), tool("orphan result")],
    "last_assistant_no_reasoning": [user("a"), assistant("b", reasoning="r"), user("c"), assistant("d")],
    "tool_call_then_user": [user("w?"), assistant("", tool_calls=[call("get_weather", {"city": "X"})]),
                            tool("1 C"), user("thanks"), tool("late result")],
}
TOOLS = {
    "tools_single_user": [WEATHER],
    "tools_with_system": [SEARCH, WEATHER],
    "tool_call_and_result": [WEATHER],
    "content_and_tool_call": [WEATHER],
    "parallel_calls_results": [WEATHER],
    "agent_loop_reasoning": [SEARCH, WEATHER],
    "two_agent_rounds": [WEATHER],
    "unicode_tool": [UNICODE_TOOL],
    "rich_arguments": [SEARCH],
    "arguments_as_object": [WEATHER],
    "no_system_tool_call_empty_content": [BARE_TOOL],
    "bare_function_tool": [BARE_TOOL, WEATHER],
    "tool_call_then_user": [WEATHER],
}


def cases():
    for name, messages in CONVERSATIONS.items():
        for fmt in TEMPLATE_FILES:
            variants = [{"add_generation_prompt": True}, {"add_generation_prompt": False}]
            if fmt == "qwen3":
                variants.append({"add_generation_prompt": True, "enable_thinking": False})
            for v in variants:
                request = {"messages": messages, **v}
                if name in TOOLS:
                    request["tools"] = TOOLS[name]
                yield name, fmt, request


def first_difference(a, b):
    n = next((i for i, (x, y) in enumerate(zip(a, b)) if x != y), min(len(a), len(b)))
    return f"first difference at {n}:\n  jinja : {a[max(0, n - 60):n + 60]!r}\n  tandem: {b[max(0, n - 60):n + 60]!r}"


def main():
    if len(sys.argv) != 2:
        sys.exit("usage: chat_oracle.py CHAT_TOOL")
    chat_tool = sys.argv[1]
    templates = {fmt: compile_template((TEMPLATES / f).read_text(encoding="utf-8")) for fmt, f in TEMPLATE_FILES.items()}
    all_cases = list(cases())
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "cases.json"
        path.write_text(json.dumps([{"format": f, "request": r} for _, f, r in all_cases], ensure_ascii=False),
                        encoding="utf-8")
        ours = json.loads(subprocess.run([chat_tool, str(path)], check=True, capture_output=True).stdout)
    assert len(ours) == len(all_cases)

    failures = []
    convs = {fmt: {} for fmt in TEMPLATE_FILES}  # fmt -> name -> all variants matched
    n_errors = 0
    for (name, fmt, request), got in zip(all_cases, ours):
        want = jinja_render(templates[fmt], request)
        label = f"{fmt}/{name} {json.dumps({k: v for k, v in request.items() if k not in ('messages', 'tools')})}"
        ok = True
        if "error" in want or "error" in got:
            n_errors += "error" in want
            if "error" not in want:
                ok = False
                failures.append(f"{label}: tandem failed ({got['error']}) but the template renders")
            elif "error" not in got:
                ok = False
                failures.append(f"{label}: the template raises ({want['error']}) but tandem renders")
        elif want["text"] != got["text"]:
            ok = False
            failures.append(f"{label}: text differs, {first_difference(want['text'], got['text'])}")
        convs[fmt][name] = convs[fmt].get(name, True) and ok

    for f in failures:
        print("FAIL", f)
    for fmt, by_name in convs.items():
        matched = sum(by_name.values())
        print(f"{fmt}: {matched}/{len(by_name)} conversations byte-identical in every variant")
    print(f"{len(all_cases)} cases ({n_errors} where the template raises and tandem refuses too), "
          f"{len(failures)} failures")
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
