#!/usr/bin/env python3
"""`tandem run` from the outside: text and token prompts, --ranks, stop strings, chat on
stdin, and bad input (prompt longer than the context, -n 0 or huge, unsupported
architecture, missing file, no prompt) failing with a clear message, a non-zero exit
code and no crash (a signal would give a negative return code).

usage: run_cli_test.py TANDEM VOCAB_GGUF
"""
import subprocess
import sys
import tempfile
from pathlib import Path

SMALL = ["--layers", "2", "--experts", "8", "--experts-used", "2", "--embd", "256", "--heads", "8",
         "--kv-heads", "4", "--head-dim", "128", "--ff", "768"]
failures = []


def run(tandem, args, stdin=None):
    p = subprocess.run([tandem] + args, input=stdin, capture_output=True, text=True, timeout=300)
    if p.returncode < 0:
        failures.append(f"{args}: killed by signal {-p.returncode}\n{p.stderr}")
    return p


def expect_ok(tandem, args, stdin=None, want_in_stderr=()):
    p = run(tandem, args, stdin)
    if p.returncode != 0:
        failures.append(f"{args}: exit {p.returncode}\n{p.stderr}")
        return p
    for want in want_in_stderr:
        if want not in p.stderr:
            failures.append(f"{args}: stderr lacks {want!r}\n{p.stderr}")
    return p


def expect_error(tandem, args, wants, stdin=None):
    p = run(tandem, args, stdin)
    if p.returncode <= 0:
        failures.append(f"{args}: exit {p.returncode}, expected a failure\n{p.stderr}")
    for want in wants:
        if want not in p.stderr:
            failures.append(f"{args}: message lacks {want!r}:\n{p.stderr}")


def main():
    tandem, vocab = sys.argv[1], sys.argv[2]
    with tempfile.TemporaryDirectory() as tmp:
        models = {}
        for arch, recipe in [("qwen3moe", "q8_0"), ("minimax-m2", "q4_k_m")]:
            models[arch] = str(Path(tmp) / f"{arch}.gguf")
            subprocess.run([tandem, "synth", "--arch", arch, "--recipe", recipe, "-o", models[arch]] + SMALL,
                           check=True, capture_output=True)
        q3 = models["qwen3moe"]

        # Text prompts on 1 and 2 ranks give the same greedy text.
        one = expect_ok(tandem, ["run", "-m", q3, "-p", "Hello world", "-n", "12", "--temp", "0"],
                        want_in_stderr=["decode: 12 tokens", "finished: length"])
        two = expect_ok(tandem, ["run", "-m", q3, "-p", "Hello world", "-n", "12", "--temp", "0", "--ranks", "2"])
        if one.stdout != two.stdout or not one.stdout:
            failures.append(f"1 rank and 2 ranks differ: {one.stdout!r} vs {two.stdout!r}")
        # A stop string cut from that output ends generation before it.
        text = one.stdout
        if len(text) > 6:
            stop = text[3:6]
            cut = expect_ok(tandem, ["run", "-m", q3, "-p", "Hello world", "-n", "12", "--temp", "0", "--stop", stop],
                            want_in_stderr=["finished: stop string"])
            if cut.stdout != text[:text.find(stop)]:
                failures.append(f"stop {stop!r}: printed {cut.stdout!r}, expected {text[:text.find(stop)]!r}")
        expect_ok(tandem, ["run", "-m", models["minimax-m2"], "--tokens", "1,2,3", "-n", "4", "--ranks", "3"])
        # Chat: two user turns on stdin, both answered.
        chat = expect_ok(tandem, ["run", "-m", q3, "--chat", "-n", "5", "--no-think"], stdin="hello\nhow are you?\n")
        if chat.stderr.count("finished:") != 2:
            failures.append(f"chat answered {chat.stderr.count('finished:')} turns, expected 2\n{chat.stderr}")

        expect_error(tandem, ["run", "-m", q3, "-p", "word " * 300, "--ctx", "100", "-n", "10"],
                     ["do not fit the context of 100"])
        expect_error(tandem, ["run", "-m", q3, "-p", "hi", "-n", "0"], ["--n-predict"])
        expect_error(tandem, ["run", "-m", q3, "-p", "hi", "-n", "99999999999"], ["--n-predict"])
        expect_error(tandem, ["run", "-m", q3, "-p", "hi", "-n", "5000", "--ctx", "100"], ["-n 5000", "--ctx"])
        expect_error(tandem, ["run", "-m", vocab, "-p", "hi"], ["unknown architecture 'qwen2'"])
        expect_error(tandem, ["run", "-m", str(Path(tmp) / "missing.gguf"), "-p", "hi"], ["missing.gguf"])
        expect_error(tandem, ["run", "-m", q3], ["--prompt", "--tokens", "--chat"])
        expect_error(tandem, ["run", "-m", q3, "--tokens", "1,x"], ["'x' is not a token id"])
        expect_error(tandem, ["run", "-m", q3, "--tokens", "999999999"], ["outside the vocabulary"])
        expect_error(tandem, ["run", "-m", q3, "-p", "hi", "--top-p", "2"], ["top-p"])
        expect_error(tandem, ["run", "-m", q3, "-p", "hi", "--ranks", "5"], ["at most 4 ranks"])

    for f in failures:
        print("FAIL:", f)
    print(f"{len(failures)} failures")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
