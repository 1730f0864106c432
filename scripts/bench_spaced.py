#!/usr/bin/env python3
"""Times runs spaced apart like real traffic, for scripts/bench.sh.

  bench_spaced.py exec LABEL N SPACING_MS -- CMD...      spawn CMD N times, in an empty
      environment as a sandboxed run has (a host variable such as NODE_EXTRA_CA_CERTS would
      make the bare figure slower than the program itself is)
  bench_spaced.py http LABEL N SPACING_MS URL LANG FILE  POST FILE's code to URL/v1/runs
      (key in $BENCH_KEY; the run must exit 0; a `want` file beside FILE, if any, is the
      stdout it must print) over one keep-alive connection, with a minimal HTTP/1.1 client:
      http.client parses each response's headers with the email package, about 0.3 ms on a
      2-core machine, which would be counted as coderunner's time
  bench_spaced.py http-stdlib ...                        the same with http.client

Prints `label<TAB>median_ms<TAB>p95_ms<TAB>n` (the driver's row format). Three warm-up runs
are not counted.
"""
import http.client
import json
import os
import socket
import subprocess
import sys
import time
import urllib.parse

WARMUP = 3


def report(label, ms):
    ms.sort()
    n = len(ms)

    def pick(q):
        import math
        return ms[min(max(math.ceil(q * n), 1), n) - 1]

    print(f"{label}\t{pick(0.5):.2f}\t{pick(0.95):.2f}\t{n}")


def spaced(n, spacing_ms, once):
    samples = []
    for i in range(n + WARMUP):
        time.sleep(spacing_ms / 1000)
        ms = once()
        if i >= WARMUP:
            samples.append(ms)
    return samples


def run_exec(label, n, spacing, cmd):
    def once():
        t = time.perf_counter()
        r = subprocess.run(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL, env={})
        ms = (time.perf_counter() - t) * 1e3
        if r.returncode != 0:
            sys.exit(f"{label}: {' '.join(cmd)} failed with {r.returncode}")
        return ms

    report(label, spaced(n, spacing, once))


class MinimalHttp:
    """One keep-alive HTTP/1.1 connection: a request with Content-Length, a response read to
    the end of its headers and then its Content-Length (all coderunner sends)."""

    def __init__(self, host, port):
        self.host = f"{host}:{port}"
        self.sock = socket.create_connection((host, port), timeout=60)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buf = b""

    def _fill(self):
        more = self.sock.recv(1 << 16)
        if not more:
            sys.exit("the server closed the connection")
        self.buf += more

    def post(self, path, body, headers):
        head = f"POST {path} HTTP/1.1\r\nHost: {self.host}\r\nContent-Length: {len(body)}\r\n"
        head += "".join(f"{k}: {v}\r\n" for k, v in headers.items()) + "\r\n"
        self.sock.sendall(head.encode() + body)
        while b"\r\n\r\n" not in self.buf:
            self._fill()
        raw, _, self.buf = self.buf.partition(b"\r\n\r\n")
        lines = raw.split(b"\r\n")
        status = int(lines[0].split()[1])
        length = None
        for line in lines[1:]:
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value)
        if length is None:
            sys.exit(f"a response without Content-Length: {raw[:300]!r}")
        while len(self.buf) < length:
            self._fill()
        data, self.buf = self.buf[:length], self.buf[length:]
        return status, data


class StdlibHttp:
    def __init__(self, host, port):
        self.conn = http.client.HTTPConnection(host, port, timeout=60)

    def post(self, path, body, headers):
        self.conn.request("POST", path, body=body, headers=headers)
        resp = self.conn.getresponse()
        return resp.status, resp.read()


def run_http(label, n, spacing, url, lang, path, client=MinimalHttp):
    u = urllib.parse.urlsplit(url)
    code = open(path).read()
    want = None
    if os.path.exists(path + ".want"):
        want = open(path + ".want").read()
    body = json.dumps({"language": lang, "files": [{"name": "main" + os.path.splitext(path)[1],
                                                    "content": code}]}).encode()
    headers = {"Authorization": "Bearer " + os.environ["BENCH_KEY"],
               "Content-Type": "application/json"}
    conn = client(u.hostname, u.port)

    def once():
        t = time.perf_counter()
        status, data = conn.post("/v1/runs", body, headers)
        ms = (time.perf_counter() - t) * 1e3
        if status != 200:
            sys.exit(f"{label}: HTTP {status}: {data[:300]!r}")
        o = json.loads(data)
        if o.get("exit_code") != 0 or (want is not None and o.get("stdout") != want):
            sys.exit(f"{label}: the run failed: {json.dumps(o)[:600]}")
        return ms

    report(label, spaced(n, spacing, once))


def main(argv):
    if len(argv) < 4:
        sys.exit(__doc__)
    mode, label, n, spacing = argv[0], argv[1], int(argv[2]), float(argv[3])
    if mode == "exec" and len(argv) > 5 and argv[4] == "--":
        run_exec(label, n, spacing, argv[5:])
    elif mode == "http" and len(argv) == 7:
        run_http(label, n, spacing, *argv[4:])
    elif mode == "http-stdlib" and len(argv) == 7:
        run_http(label, n, spacing, *argv[4:], client=StdlibHttp)
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main(sys.argv[1:])
