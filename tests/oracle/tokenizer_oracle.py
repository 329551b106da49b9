#!/usr/bin/env python3
"""Oracle: tandem's tokenizer against llama.cpp's (llama-cpp-python, vocab_only=True).

Models: the Qwen2 vocabulary (pre-tokenizer qwen2, specials <|endoftext|> <|im_start|>
<|im_end|> and 290 user-defined [PADn] tokens), and tiny synthetic qwen3moe (pre qwen2,
Qwen3's <think> <tool_call> as control tokens) and minimax-m2 models (pre minimax-m2,
MiniMax's ]~!b[ ]~b] [e~[ <think> <minimax:tool_call> markers) written by `tandem synth`.

For every corpus string x model x (special tokens parsed, plain text): ids identical,
no BOS/EOS. Decoding: our decode of the ids equals llama.cpp's detokenize, and equals the
input wherever the input is valid UTF-8.

Invalid UTF-8 rule (both sides): each byte that starts no lenient sequence becomes U+FFFD
(see src/model/utf8.h). Sequences above U+10FFFF (F4 90.., F5..F7 leads) are left out of
the corpus: llama.cpp aborts on them (std::invalid_argument), tandem replaces them.

usage: tokenizer_oracle.py TANDEM TOKENIZE_TOOL VOCAB_QWEN2_GGUF
"""
import ctypes
import json
import random
import subprocess
import sys
import tempfile
from pathlib import Path

import llama_cpp
from llama_cpp import Llama

TINY = ["--recipe", "q8_0", "--layers", "1", "--experts", "4", "--experts-used", "2", "--embd", "64",
        "--heads", "2", "--kv-heads", "1", "--head-dim", "32", "--rot", "32", "--ff", "64"]


def english() -> list[str]:
    return [
        "Hello world", "Hello, world!", "The quick brown fox jumps over the lazy dog.",
        "It was the best of times, it was the worst of times.", "a", "A", " ", "", "x y z",
        "Don't stop believing.", "Mr. O'Neil's dog isn't here; they've gone, we'd said, you'll see, I'm sure.",
        "SHOUTING IN ALL CAPS IS RUDE", "CamelCaseIdentifier", "HTTPServerError", "iPhone and iPad",
        "McDonald's", "XMLHttpRequest.getResponseHeader()", "snake_case_name = 42",
        "e.g. i.e. etc. vs. a.m.", "...!!!???", "(parenthetical) [bracketed] {braced} <angled>",
        "email: someone@example.com, url: https://example.org/path?q=1&r=2#frag",
        "Tab\tseparated\tvalues", "Line one\nLine two\nLine three", "Ends with newline\n",
        "  leading spaces", "trailing spaces   ", "multiple   spaces   between", "hyphen-ated words—em dash – en dash",
        "“Curly quotes” and ‘single’ ones", "Price: $19.99 (€17,50; £15)", "100% sure; 50/50 chance; 3+4=7",
        "The year 2024 had 366 days.", "'s 't 're 've 'm 'll 'd", "'S 'T 'RE 'VE 'M 'LL 'D",
        "it'S you'LL we'Re they'vE", "rock 'n' roll", "getElementById", "JSONParser", "ThisIsATest", "macOS and iOS",
        "ÉtéÀParis", "ΑθήναΕλλάδα", "ПриветМир", "HE'S THEY'RE I'M", "parseHTTPResponseCode", "innerHTML",
        "UserID userId USERID", "XMLToJSONConverter", "aBcDeFgHiJ", "NASA's SpaceX", "''quoted''", "x's", "'hello'", "don’t (curly apostrophe)",
    ]


def code() -> list[str]:
    return [
        "def main():\n    print('hi')\n    return 0\n",
        "for (int i = 0; i < n; ++i) {\n\tsum += a[i] * b[i];\n}\n",
        "#include <stdio.h>\nint main(void) { return printf(\"%d\\n\", 42) < 0; }",
        '{"key": "value", "list": [1, 2, 3], "nested": {"a": null, "b": true}}',
        "SELECT id, name FROM users WHERE age >= 18 ORDER BY name DESC;",
        "$ ls -la /tmp && echo \"done\" | grep -v '^#' > out.txt 2>&1",
        "<div class=\"box\"><p>Hello &amp; goodbye</p></div>",
        "const f = (x) => x ** 2; // arrow\nlet y = f(3);",
        "if x == 1:\n\tpass\nelif x != 2:\n\t\traise ValueError(\"bad\")",
        "fn main() -> Result<(), Box<dyn Error>> {\n    Ok(())\n}",
        "a[i][j] += b[j][k] * c[k][i];", "x = y // 2 ** 3 % 7", "/* block comment */ // line",
        "    indented four\n        indented eight\n", "\t\ttwo tabs\n\t\t\tthree tabs",
        "regex: ^[a-zA-Z0-9_.+-]+@[a-zA-Z0-9-]+\\.[a-zA-Z0-9-.]+$",
        "path/to/file.txt\\windows\\path", "key=value;other=thing&x=1",
        "0x1F 0b1010 0o777 1e-9 3.14f 1_000_000", "vector<vector<int>> m(n, vector<int>(n));",
        "print(f\"{name!r:>10}\")", "```python\nimport os\n```", "---\ntitle: yaml\nlist:\n  - a\n  - b\n",
        "a\r\nb\r\nc", "line\r\n\r\n\r\nblank", "ok\n\n\n\nfour newlines", "mixed \n \n\t\n  \r\n end",
    ]


def cjk_and_scripts() -> list[str]:
    return [
        "你好，世界！", "我爱自然语言处理。", "今天天气很好，我们去公园散步吧。", "中文English混合mixed文本",
        "日本語のテキストです。", "ひらがなとカタカナ", "東京タワーは333メートルです。", "한국어 문장입니다.",
        "안녕하세요 세계", "Ｆｕｌｌｗｉｄｔｈ　ＡＳＣＩＩ", "「引用」『二重』【括弧】", "第1章　はじめに",
        "Привет, мир! Как дела?", "Ελληνικά γράμματα", "مرحبا بالعالم", "שלום עולם", "नमस्ते दुनिया",
        "สวัสดีชาวโลก", "Xin chào thế giới", "Tiếng Việt có dấu: ắ ằ ẳ ẵ ặ", "ქართული ენა", "Հայերեն",
        "ǅemal ǈubljana ǋovak", "straße STRASSE Straße", "ÉCOLE École école", "İstanbul ıi",
        "ÀÁÂÃÄÅ àáâãäå", "Ωmega µicro", "Zürich Köln Düsseldorf", "naïve café résumé",
    ]


def marks() -> list[str]:
    return [
        "e\u0301", "cafe\u0301", "Cafe\u0301 CAFE\u0301", "n\u0303o\u0308", "a\u0300\u0301\u0302\u0303\u0304",
        "Z\u0335\u0321a\u0336\u031bl\u0334g\u0337o\u0338", "\u0301leading combining", "x\u20dd", "A\u030a",
        "क्षत्रिय", "ना\u093c", "วันนี้", "עִבְרִית", "الْعَرَبِيَّة", "ắ" + "a\u0306\u0301",
    ]


def emoji() -> list[str]:
    return [
        "😀", "😀😃😄", "I ❤️ NY", "👍🏽 thumbs", "👨‍👩‍👧‍👦 family", "🏳️‍🌈 flag", "🇯🇵🇺🇸🇩🇪",
        "1️⃣ #️⃣ *️⃣", "☺︎ text style ☺️ emoji style", "🧑🏿‍🚀 astronaut", "🤷‍♀️", "emoji in text 🎉 party!",
        "🐍🦀☕", "⚡️🔥💯", "👩🏻‍❤️‍💋‍👨🏼", "❤", "©®™", "→←↑↓⇒∀∃∈∑√∞≠≤≥", "♠♣♥♦", "𝔘𝔫𝔦𝔠𝔬𝔡𝔢 𝕓𝕠𝕝𝕕",
    ]


def numbers() -> list[str]:
    out = ["0", "00", "007", "3.14159", "-42", "+1", "1,234,567.89", "1 000 000", "1e10", "2^64", "12:34:56",
           "2024-01-15", "+1 (555) 123-4567", "٣٤٥ ١٢", "Ⅻ Ⅳ", "½ ¾ ²³", "①②③", "１２３４５", "v1.2.3", "a1b22c333d4444",
           "3rd 21st 100th", "0.000001", "99.9%"]
    digits = "31415926535897932384626433832795028841971"
    for n in range(1, 21):
        out.append(digits[:n])
    out += [" " + digits[:7], "x" + digits[:9] + "y", "Total: " + digits[:13] + " items"]
    return out


def whitespace() -> list[str]:
    out = []
    for n in range(1, 9):
        out.append(" " * n)
        out.append("a" + " " * n + "b")
    out += ["\t", "\t\t", " \t ", "\n", "\n\n", "\n\n\n", "\r", "\r\n", "\r\n\r\n", "\n\r", " \n", "\n ", " \n \n ",
            "a \n b", "a\t\n\tb", "end \n", "  \n  \n", "\u00a0nbsp\u00a0", "ideographic\u3000space", "line\u2028sep",
            "nel\u0085char", "mongolian\u180evs", "thin\u2009space", "zero\u200bwidth", "\u000bvt\u000cff",
            "a" + " " * 40 + "b", "\n" * 12 + "x", " " * 3 + "\n" + " " * 3]
    return out


def specials() -> list[str]:
    return [
        "<|im_start|>user\nhi<|im_end|>", "<|im_start|>system\nYou are helpful.<|im_end|>\n<|im_start|>assistant\n",
        "<|endoftext|>", "text<|endoftext|>more", "<|im_start|><|im_start|>", "<<|im_end|>>", "<|im_start",
        "|im_start|>", "<|im_end|", "<think>\n\n</think>\n\nAnswer", "<think>reasoning</think>", "</think>",
        "<tool_call>\n{\"name\": \"f\", \"arguments\": {}}\n</tool_call>", "<tool_call", "[PAD151700]", "x[PAD151700]y",
        "[PAD151650][PAD151651]", "[PAD1516", "]~!b[]~b]system\nYou are helpful.[e~[\n]~b]user\nhi[e~[",
        "]~b]ai\n<think>ok</think>done[e~[", "<minimax:tool_call>\n<invoke name=\"f\">\n</invoke>\n</minimax:tool_call>",
        "]~b", "[e~", " <|im_end|> ", "\n<|im_start|>\n", "<|im_start|>user\n你好<|im_end|>",
        "<|im_start|>assistant\n<think>\n\n</think>\n\n😀<|im_end|>",
    ]


def invalid_utf8() -> list[bytes]:
    return [
        b"\x80", b"\xbf", b"\xff", b"\xfe\xff", b"abc\x80def", b"\xc3", b"\xc3(", b"a\xe2\x82", b"\xe2\x82\x28",
        b"\xf0\x9f\x98", b"\xf0\x9f\x98 smile", b"\xc0\x80", b"\xc1\xbf", b"\xe0\x80\x80", b"\xf0\x80\x80\x80",
        b"\xed\xa0\x80", b"\xed\xbf\xbf surrogate", b"x\xf8\x88\x80\x80\x80y", b"\xfc\x84\x80\x80\x80\x80",
        b"<|im_start|>\x80<|im_end|>", b"\xe4\xbd<|im_end|>\xa0", b"ok \xff\xfe\xfd end", b"\xef\xbf\xbd real U+FFFD",
        b"\x00nul\x00", b"\x01\x02\x1f\x7f control",
    ]


def random_mix(n: int) -> list[str]:
    rng = random.Random(20240611)
    pools = ["abcdefghijklmnopqrstuvwxyz", "ABCDEFGHIJKLMNOPQRSTUVWXYZ", "0123456789", " \t\n\r", ".,;:!?'\"-()[]{}<>/\\@#$%^&*_=+|~`",
             "éèêëàâîïôöùûüçñßÉÀ", "你好世界中文字", "ひらがなカタカナ", "😀👍🏽🎉❤️", "\u0301\u0308", "αβγδΩ", "абвгдЖ", "١٢٣"]
    words = ["<|im_start|>", "<|im_end|>", "<think>", "</think>", "'s", "'LL", "[e~[", "]~b]", "  ", "\r\n"]
    out = []
    for _ in range(n):
        parts = []
        for _ in range(rng.randint(1, 12)):
            if rng.random() < 0.1:
                parts.append(rng.choice(words))
            else:
                pool = rng.choice(pools)
                parts.append("".join(rng.choice(pool) for _ in range(rng.randint(1, 6))))
        out.append("".join(parts))
    return out


def corpus() -> list[bytes]:
    texts = english() + code() + cjk_and_scripts() + marks() + emoji() + numbers() + whitespace() + specials()
    texts += random_mix(60)
    return [t.encode("utf-8") for t in texts] + invalid_utf8()


def llama_detokenize(llm: Llama, ids: list[int]) -> bytes:
    """llama.cpp's detokenize with control tokens rendered. (Llama.detokenize cannot be
    used: it gives each token a 32-byte buffer and garbles longer pieces.)"""
    tokens = (llama_cpp.llama_token * max(1, len(ids)))(*ids)
    size = 64 + 16 * len(ids)
    while True:
        buf = ctypes.create_string_buffer(size)
        n = llama_cpp.llama_detokenize(llm._model.vocab, tokens, len(ids), buf, size, False, True)
        if n >= 0:
            return buf.raw[:n]
        size = -n


def valid_utf8(b: bytes) -> bool:
    try:
        b.decode("utf-8")
        return True
    except UnicodeDecodeError:
        return False


def main() -> int:
    tandem, tool, vocab = sys.argv[1], sys.argv[2], sys.argv[3]
    items = corpus()
    assert len(items) >= 200, len(items)
    failures = 0
    with tempfile.TemporaryDirectory() as tmp:
        models = {"qwen2 vocab": Path(vocab)}
        for arch in ("qwen3moe", "minimax-m2"):
            path = Path(tmp) / f"{arch}.gguf"
            subprocess.run([tandem, "synth", "--arch", arch, "--out", str(path), *TINY], check=True, capture_output=True)
            models[f"synth {arch}"] = path
        corpus_path = Path(tmp) / "corpus.json"
        corpus_path.write_text(json.dumps([b.hex() for b in items]))
        plain_ids = {}
        for name, path in models.items():
            out_path = Path(tmp) / "out.json"
            subprocess.run([tool, str(path), str(corpus_path), str(out_path)], check=True)
            ours = json.loads(out_path.read_text())
            plain_ids[name] = ours["plain"]
            llm = Llama(model_path=str(path), vocab_only=True, verbose=False)
            mismatches = decode_failures = 0
            for i, text in enumerate(items):
                for mode, special in (("special", True), ("plain", False)):
                    want = llm.tokenize(text, add_bos=False, special=special)
                    got = ours[mode][i]
                    if got != want:
                        mismatches += 1
                        if mismatches <= 10:
                            print(f"  {name} [{mode}] {text!r}\n    llama.cpp {want}\n    tandem    {got}")
                decoded = bytes.fromhex(ours["decoded"][i])
                want_decoded = llama_detokenize(llm, ours["special"][i])
                if decoded != want_decoded or (valid_utf8(text) and decoded != text):
                    decode_failures += 1
                    if decode_failures <= 10:
                        print(f"  {name} decode {text!r}: tandem {decoded!r}, llama.cpp {want_decoded!r}")
            ok = mismatches == 0 and decode_failures == 0
            print(f"{name:<18}: {len(items)} strings x 2 modes, {mismatches} id mismatches, "
                  f"{decode_failures} decode mismatches {'ok' if ok else 'FAIL'}")
            failures += not ok
    # both pre-tokenizers must be exercised: minimax-m2 (o200k) also cuts words at case
    # changes (HTTPServer -> HTTP Server); on the same Qwen2 merges that is what differs
    differ = sum(a != b for a, b in zip(plain_ids["synth qwen3moe"], plain_ids["synth minimax-m2"]))
    print(f"qwen2 and minimax-m2 pre-tokenizers differ on {differ} of {len(items)} strings (need >= 8)")
    failures += differ < 8
    print(f"tokenizer oracle: {len(models)} models, {'all ok' if failures == 0 else f'{failures} FAILED'}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
