#!/usr/bin/env python3
"""The cluster as separate processes on loopback: `tandem serve --nodes N` and N-1
`tandem worker --join` processes talking gRPC (control) and UCX (activations), queried
with `tandem generate`. For both architectures, 2 and 3 nodes, expert-TP and
expert-parallel: 64 greedy tokens identical to one rank (`tandem run`), for one request
and for two at once (decoded together in one batch on every node); also with a worker
that has no copy of the model and fetches its shard from the coordinator into a sparse
file. A worker killed
mid-stream: the client gets UNAVAILABLE within 2 s, the server stays up, a restarted
worker rejoins and the next request succeeds; with --replan, a lost worker leaves the model
planned again over the nodes left, and a new one grows it back. A worker with another model file is
refused with a message; every process exits cleanly.

usage: cluster_cli_test.py TANDEM
"""
import re
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

SMALL = ["--layers", "2", "--experts", "8", "--experts-used", "2", "--embd", "256", "--kv-heads", "4",
         "--head-dim", "128", "--ff", "768"]
PROMPT = "9707,11,1879,0,576,374,264,1273"
N_TOKENS = 64
failures = []


def wait_for_line(proc, pattern, timeout=60):
    """The first match of `pattern` in proc's stdout lines (read as they come)."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        line = proc.stdout.readline()
        if not line:
            if proc.poll() is not None:
                return None
            continue
        m = re.search(pattern, line)
        if m:
            return m
    return None


def ids(text):
    return [int(t) for t in text.split()]


def run_cluster(tandem, model, nodes, split, want, fetch_to=None):
    """fetch_to: the last worker's model path, where it has no copy."""
    name = f"{Path(model).stem} on {nodes} nodes, --moe-split {split}" + (", one worker fetching" if fetch_to else "")
    serve = subprocess.Popen([tandem, "serve", "-m", model, "--nodes", str(nodes), "--listen", "127.0.0.1:0",
                              "--control", "127.0.0.1:0", "--ctx", "128", "--moe-split", split, "--ucx-tls",
                              "tcp,self", "-t", "1", "--wait", "60"],
                             stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    workers = []
    try:
        control = wait_for_line(serve, r"tandem worker --join (\S+)")
        if not control:
            failures.append(f"{name}: serve did not print its control address")
            return
        for i in range(nodes - 1):
            path = fetch_to if fetch_to and i == nodes - 2 else model
            workers.append(subprocess.Popen([tandem, "worker", "--join", control.group(1), "-m", path, "-t", "1",
                                             "--ucx-tls", "tcp,self"],
                                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True))
        serving = wait_for_line(serve, r"serving on (\S+)")
        if not serving:
            failures.append(f"{name}: serve never started serving")
            return
        # One request, then two at once on the same cluster (serve decodes up to --parallel 4 together).
        for round, n_clients in enumerate([1, 2]):
            clients = [subprocess.Popen([tandem, "generate", "--addr", serving.group(1), "--tokens", PROMPT, "-n",
                                         str(N_TOKENS), "--temp", "0", "--print-ids"],
                                        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
                       for _ in range(n_clients)]
            for i, g in enumerate(clients):
                out, err = g.communicate(timeout=120)
                if g.returncode != 0:
                    failures.append(f"{name}: generate exit {g.returncode}: {err}")
                    return
                got = ids(out)
                if got != want[:len(got)] or len(got) < len(want) - 1:
                    failures.append(f"{name}, round {round}, client {i}: tokens differ from one rank\n  {got}\n  {want}")
        print(f"{name}: {len(want)} greedy tokens equal one rank's, for one request and for two at once")
        if fetch_to:
            copy, original = Path(fetch_to).stat(), Path(model).stat()
            if copy.st_size != original.st_size or copy.st_blocks >= original.st_blocks:
                failures.append(f"{name}: the fetched copy is not a sparse copy of the shard "
                                f"({copy.st_blocks * 512} of {original.st_size} bytes on disk)")
            else:
                print(f"{name}: the fetched copy holds {copy.st_blocks * 512 / original.st_size:.0%} of the file")
    finally:
        serve.send_signal(signal.SIGTERM)
        try:
            if serve.wait(timeout=30) != 0:
                failures.append(f"{name}: serve exit code {serve.returncode}")
        except subprocess.TimeoutExpired:
            failures.append(f"{name}: serve did not stop on SIGTERM")
            serve.kill()
        for w in workers:
            try:
                rc = w.wait(timeout=30)
                if rc != 0:
                    failures.append(f"{name}: worker exit code {rc}: {w.stderr.read()[-500:]}")
            except subprocess.TimeoutExpired:
                failures.append(f"{name}: a worker did not stop with the coordinator")
                w.kill()


def serves_again(tandem, address, want, since, label, event):
    """Polls with a greedy request until the cluster serves (UNAVAILABLE meanwhile), for 60 s;
    the tokens must equal one rank's."""
    deadline = time.time() + 60
    while time.time() < deadline:
        g = subprocess.run([tandem, "generate", "--addr", address, "--tokens", PROMPT, "-n", str(N_TOKENS),
                            "--temp", "0", "--print-ids"], capture_output=True, text=True, timeout=120)
        if g.returncode == 0:
            got = ids(g.stdout)
            if got != want[:len(got)] or len(got) < len(want) - 1:
                failures.append(f"{label}: after {event} the tokens differ from one rank\n  {got}\n  {want}")
            else:
                print(f"{label}: {event} after {time.time() - since:.1f} s, tokens equal one rank's")
            return
        if "UNAVAILABLE" not in g.stderr:
            failures.append(f"{label}: while waiting for {event}: {g.stderr[-300:]!r}")
            return
        time.sleep(0.5)
    failures.append(f"{label}: no {event} within 60 s")


def stop_cluster(serve, workers, label):
    """SIGTERM to serve; it and the workers must exit."""
    serve.send_signal(signal.SIGTERM)
    try:
        serve.wait(timeout=30)
    except subprocess.TimeoutExpired:
        failures.append(f"{label}: serve did not stop on SIGTERM")
        serve.kill()
    for w in workers:
        try:
            w.wait(timeout=30)
        except subprocess.TimeoutExpired:
            failures.append(f"{label}: a worker did not stop with the coordinator")
            w.kill()


def join_worker(tandem, control, model):
    """A `tandem worker` joining the coordinator's control address (one thread, UCX over tcp)."""
    return subprocess.Popen([tandem, "worker", "--join", control, "-m", model, "-t", "1", "--ucx-tls", "tcp,self"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def killed_worker(tandem, model, want):
    """3 nodes; worker 1 is killed while a long generation streams."""
    serve = subprocess.Popen([tandem, "serve", "-m", model, "--nodes", "3", "--listen", "127.0.0.1:0", "--control",
                              "127.0.0.1:0", "--ctx", "4096", "--ucx-tls", "tcp,self", "-t", "1", "--wait", "60"],
                             stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    workers = []
    try:
        control = wait_for_line(serve, r"tandem worker --join (\S+)").group(1)
        workers += [join_worker(tandem, control, model), join_worker(tandem, control, model)]
        address = wait_for_line(serve, r"serving on (\S+)").group(1)
        stream = subprocess.Popen([tandem, "generate", "--addr", address, "--tokens", PROMPT, "-n", "4000", "--temp",
                                   "0"], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        time.sleep(1.5)
        killed_at = time.time()
        workers[0].kill()
        try:
            stream.wait(timeout=10)
        except subprocess.TimeoutExpired:
            stream.kill()
        took = time.time() - killed_at
        err = stream.stderr.read()
        if stream.returncode == 0 or "UNAVAILABLE" not in err:
            failures.append(f"killed worker: the stream ended with {stream.returncode}, {err[-300:]!r}")
        elif took > 2.0:
            failures.append(f"killed worker: the client learned it after {took:.1f} s (more than 2 s)")
        else:
            print(f"killed worker: the client got UNAVAILABLE {took * 1000:.0f} ms after the kill")
        workers.append(join_worker(tandem, control, model))  # the restarted worker
        serves_again(tandem, address, want, killed_at, "killed worker", "the rejoin")
        if serve.poll() is not None:
            failures.append(f"the server exited ({serve.returncode}) after a worker was killed")
    finally:
        stop_cluster(serve, workers, "killed worker")


def replanned_after_loss(tandem, model, want, tmp):
    """3 nodes with --replan 3; worker 1 is killed: after 3 s the coordinator plans the model
    over the 2 nodes left and serves one rank's tokens again; a new worker then joins and
    the group is planned back to 3 nodes, tokens unchanged."""
    log_path = Path(tmp) / "replan-serve.log"
    with open(log_path, "w") as log:
        serve = subprocess.Popen([tandem, "serve", "-m", model, "--nodes", "3", "--listen", "127.0.0.1:0",
                                  "--control", "127.0.0.1:0", "--ctx", "4096", "--ucx-tls", "tcp,self", "-t", "1",
                                  "--wait", "60", "--replan", "3"],
                                 stdout=subprocess.PIPE, stderr=log, text=True)
    workers = []
    try:
        control = wait_for_line(serve, r"tandem worker --join (\S+)").group(1)
        workers += [join_worker(tandem, control, model), join_worker(tandem, control, model)]
        address = wait_for_line(serve, r"serving on (\S+)").group(1)
        killed_at = time.time()
        workers[0].kill()
        serves_again(tandem, address, want, killed_at, "re-plan", "serving on the 2 nodes left")
        if "2 ranks joined over UCX" not in log_path.read_text():
            failures.append("re-plan: the server never logged a group of 2 ranks")
        joined_at = time.time()
        workers.append(join_worker(tandem, control, model))
        deadline = time.time() + 60
        while log_path.read_text().count("3 ranks joined over UCX") < 2 and time.time() < deadline:
            time.sleep(0.5)
        if log_path.read_text().count("3 ranks joined over UCX") < 2:
            failures.append("re-plan: the group did not grow back to 3 nodes within 60 s of a new worker")
        else:
            serves_again(tandem, address, want, joined_at, "re-plan", "grown back to 3 nodes")
        if serve.poll() is not None:
            failures.append(f"re-plan: the server exited ({serve.returncode})")
    finally:
        stop_cluster(serve, workers[1:], "re-plan")


def refused_worker(tandem, model, other):
    serve = subprocess.Popen([tandem, "serve", "-m", model, "--nodes", "2", "--listen", "127.0.0.1:0", "--control",
                              "127.0.0.1:0", "--wait", "20"],
                             stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        control = wait_for_line(serve, r"tandem worker --join (\S+)")
        w = subprocess.run([tandem, "worker", "--join", control.group(1), "-m", other], capture_output=True,
                           text=True, timeout=60)
        if w.returncode == 0 or "another model" not in w.stderr:
            failures.append(f"a worker with another model: exit {w.returncode}, {w.stderr[-300:]!r}")
    finally:
        serve.kill()
        serve.wait()


def main():
    tandem = sys.argv[1]
    with tempfile.TemporaryDirectory() as tmp:
        models = {}
        for arch, recipe, heads in [("qwen3moe", "q8_0", "8"), ("minimax-m2", "q4_k_m", "24")]:
            models[arch] = str(Path(tmp) / f"{arch}.gguf")
            subprocess.run([tandem, "synth", "--arch", arch, "--recipe", recipe, "-o", models[arch], "--heads", heads]
                           + SMALL, check=True, capture_output=True)
        for arch, model in models.items():
            one = subprocess.run([tandem, "run", "-m", model, "--tokens", PROMPT, "-n", str(N_TOKENS), "--temp", "0",
                                  "--print-ids", "--ctx", "128", "-t", "1"],
                                 capture_output=True, text=True, check=True)
            want = ids(one.stdout)
            for nodes, split in [(2, "tp"), (3, "tp"), (2, "ep")]:
                run_cluster(tandem, model, nodes, split, want)
            run_cluster(tandem, model, 3, "tp", want, fetch_to=str(Path(tmp) / f"{arch}-fetched.gguf"))
        killed_worker(tandem, models["qwen3moe"], ids(subprocess.run(
            [tandem, "run", "-m", models["qwen3moe"], "--tokens", PROMPT, "-n", str(N_TOKENS), "--temp", "0",
             "--print-ids", "--ctx", "128", "-t", "1"], capture_output=True, text=True, check=True).stdout))
        replanned_after_loss(tandem, models["minimax-m2"], ids(subprocess.run(
            [tandem, "run", "-m", models["minimax-m2"], "--tokens", PROMPT, "-n", str(N_TOKENS), "--temp", "0",
             "--print-ids", "--ctx", "128", "-t", "1"], capture_output=True, text=True, check=True).stdout), tmp)
        refused_worker(tandem, models["qwen3moe"], models["minimax-m2"])
    for f in failures:
        print("FAIL:", f)
    print(f"{len(failures)} failures")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
