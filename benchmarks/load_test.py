"""A bounded load test of ``automl-guide serve`` on loopback.

    .venv/bin/python benchmarks/load_test.py [--model automl_guide_demo] [--requests 2000]
        [--clients 1,8,32] [--workers 1,2] [--batch 50] [--repeats 3]

Starts ``automl-guide serve MODEL --workers W`` for each W on a free loopback port, waits for
``/health``, warms it up (200 one-row requests and 20 batches, from the most clients), then
drives it with each number of concurrent clients in turn: first ``--requests`` one-row
requests, then ``--requests // 10`` batches of ``--batch`` rows, each phase ``--repeats``
times (the run of median throughput is printed: other processes on a small machine move a
single run by 10 % or more). Each client is a thread with its own keep-alive connection,
speaking a few lines of HTTP/1.1 (nothing to install); the rows are those of the bundled
clothing-reviews sample, sent in turn.

Printed per phase: throughput, client-side latency p50/p99, the server's own time per request
(p50 of the ``Server-Timing`` header's ``app`` duration: from the request reaching the
application to its answer, without uvicorn's HTTP parsing and the client), and errors (any
answer but 200). Also the server's resident memory (summed over its processes) when ready,
after the warm-up and at the end. The model defaults to the demo's run (``automl-guide demo``
writes it). The client shares the machine with the service: on few cores it takes CPU time
from it.
"""
from __future__ import annotations

import argparse
import http.client
import json
import os
import re
import socket
import subprocess
import sys
import threading
import time
from importlib import resources
from pathlib import Path

import numpy as np
import pandas as pd

BIN = Path(sys.executable).parent
WARMUP = 200
TARGET = "Recommended IND"
_TIMING = re.compile(rb"app;dur=([0-9.]+)")
_LENGTH = re.compile(rb"(?i)\r\ncontent-length: *(\d+)")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="automl_guide_demo",
                        help="run directory or model.onnx (automl_guide_demo)")
    parser.add_argument("--requests", type=int, default=2000,
                        help="one-row requests per number of clients (2000)")
    parser.add_argument("--clients", default="1,8,32", help="concurrent clients (1,8,32)")
    parser.add_argument("--workers", default="1,2", help="uvicorn worker processes (1,2)")
    parser.add_argument("--batch", type=int, default=50, help="rows per batch request (50)")
    parser.add_argument("--repeats", type=int, default=3,
                        help="runs of each phase; the one of median throughput is shown (3)")
    args = parser.parse_args(argv)
    if not Path(args.model).exists():
        print(f"No model at {args.model}: run `automl-guide demo` first, or pass --model.",
              file=sys.stderr)
        return 2
    rows = _sample_rows()
    clients = [int(c) for c in args.clients.split(",")]
    print(f"{os.cpu_count()} CPUs ({_cpu_model()}), load average {os.getloadavg()[0]:.2f} at "
          f"the start; model {args.model}; {args.requests} one-row requests and "
          f"{args.requests // 10} batches of {args.batch} rows per number of clients, each "
          f"phase run {args.repeats} times: the run of median throughput is shown, errors of "
          "all runs counted")
    for workers in (int(w) for w in args.workers.split(",")):
        with Serving(args.model, workers) as (port, pid):
            _run_phases(port, pid, workers, rows, clients, args)
    return 0


def _sample_rows() -> list[dict]:
    """The bundled sample's feature columns as JSON records (missing values as null)."""
    data = resources.files("automl_guide.datasets").joinpath("clothing_reviews.csv")
    with resources.as_file(data) as path:
        frame = pd.read_csv(path, nrows=1000).drop(columns=[TARGET])
    return json.loads(frame.to_json(orient="records"))


def _run_phases(port: int, pid: int, workers: int, rows: list[dict], clients: list[int],
                args: argparse.Namespace) -> None:
    ready = _rss_mb(pid)
    busiest = max(clients)  # the warm-up meets every shape of request the phases send
    _drive(port, [[row] for row in rows[:WARMUP]], busiest)
    _drive(port, [rows[i:i + args.batch] for i in range(0, WARMUP, 10)], busiest)
    warm = _rss_mb(pid)
    print(f"\n--workers {workers}")
    print(f"{'rows/request':>12} {'clients':>7} {'requests':>8} {'req/s':>8} {'rows/s':>8} "
          f"{'p50 ms':>7} {'p99 ms':>7} {'server p50 ms':>13} {'errors':>6}")
    for n in clients:
        for size, count in ((1, args.requests), (args.batch, args.requests // 10)):
            bodies = [rows[(i * size) % len(rows):][:size] for i in range(count)]
            runs = sorted((_drive(port, bodies, n) for _ in range(args.repeats)),
                          key=lambda run: run["rps"])
            result = dict(runs[len(runs) // 2], errors=sum(run["errors"] for run in runs))
            print(f"{size:>12} {n:>7} {count:>8} {result['rps']:>8.0f} "
                  f"{result['rps'] * size:>8.0f} {result['p50']:>7.2f} {result['p99']:>7.2f} "
                  f"{result['server_p50']:>13} {result['errors']:>6}")
    print(f"server RSS (all its processes): {ready:.0f} MB ready, {warm:.0f} MB after the "
          f"warm-up, {_rss_mb(pid):.0f} MB at the end")


def _drive(port: int, bodies: list[list[dict]], clients: int) -> dict:
    """Send every body once, ``clients`` at a time; latencies and the server's own times."""
    requests = [_request(port, json.dumps({"rows": body}).encode()) for body in bodies]
    latencies, server, errors = [], [], [0]
    lock, position = threading.Lock(), iter(range(len(requests)))

    def client() -> None:
        connection = socket.create_connection(("127.0.0.1", port), timeout=60)
        while True:
            with lock:
                i = next(position, None)
            if i is None:
                break
            start = time.perf_counter()
            try:
                status, head = _exchange(connection, requests[i])
            except OSError:
                connection.close()
                connection = socket.create_connection(("127.0.0.1", port), timeout=60)
                status, head = 0, b""
            took = time.perf_counter() - start
            timing = _TIMING.search(head)
            with lock:
                latencies.append(took)
                if timing:
                    server.append(float(timing.group(1)))
                errors[0] += status != 200
        connection.close()

    threads = [threading.Thread(target=client) for _ in range(clients)]
    start = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - start
    ms = np.array(latencies) * 1000
    return {"rps": len(requests) / elapsed, "p50": float(np.percentile(ms, 50)),
            "p99": float(np.percentile(ms, 99)), "errors": errors[0],
            "server_p50": f"{np.percentile(server, 50):.3f}" if server else "-"}


def _request(port: int, body: bytes) -> bytes:
    return (f"POST /predict HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: "
            f"application/json\r\nContent-Length: {len(body)}\r\n\r\n").encode() + body


def _exchange(connection: socket.socket, request: bytes) -> tuple[int, bytes]:
    """One request on a kept-alive connection: the answer's status and headers (its body is
    read and dropped). A few lines of HTTP/1.1 instead of http.client, whose header parsing
    cost the client more CPU than the service spends on a row: on 2 cores the client took it
    from the service."""
    connection.sendall(request)
    data = b""
    while b"\r\n\r\n" not in data:
        data += _received(connection)
    head, _, body = data.partition(b"\r\n\r\n")
    length = _LENGTH.search(head)
    if length is None:  # the service always sends one; anything else counts as an error
        raise OSError("an answer without Content-Length")
    while len(body) < int(length.group(1)):
        body += _received(connection)
    return int(head[9:12]), head


def _received(connection: socket.socket) -> bytes:
    chunk = connection.recv(65536)
    if not chunk:
        raise OSError("the service closed the connection")
    return chunk


class Serving:
    """``automl-guide serve MODEL --workers W`` on a free loopback port, until the block ends."""

    def __init__(self, model: str, workers: int):
        self.model, self.workers = model, workers

    def __enter__(self) -> tuple[int, int]:
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        extra = ["--workers", str(self.workers)] if self.workers > 1 else []
        self.process = subprocess.Popen(
            [str(BIN / "automl-guide"), "serve", self.model, "--port", str(self.port), *extra],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        deadline = time.monotonic() + 60
        while not _healthy(self.port):
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.process.kill()
                raise SystemExit(f"the service did not start:\n{self.process.stderr.read()}")
            time.sleep(0.2)
        if self.workers > 1:  # every worker answers once it has loaded the model
            time.sleep(2.0)
        return self.port, self.process.pid

    def __exit__(self, *exc: object) -> None:
        self.process.terminate()
        self.process.wait(timeout=30)


def _cpu_model() -> str:
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return "model unknown"
    found = re.search(r"^model name\s*:\s*(.+)$", text, flags=re.M)
    return found.group(1).strip() if found else "model unknown"


def _healthy(port: int) -> bool:
    try:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=1)
        connection.request("GET", "/health")
        return connection.getresponse().status == 200
    except OSError:
        return False


def _rss_mb(pid: int) -> float:
    """Resident memory of ``pid`` and its descendants (uvicorn's workers), from /proc."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                parent = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(parent, []).append(int(entry.name))
    total, todo = 0, [pid]
    while todo:
        current = todo.pop()
        todo += children.get(current, [])
        try:
            status = Path(f"/proc/{current}/status").read_text()
        except OSError:
            continue
        found = re.search(r"VmRSS:\s+(\d+) kB", status)
        total += int(found.group(1)) if found else 0
    return total / 1024


if __name__ == "__main__":
    sys.exit(main())
