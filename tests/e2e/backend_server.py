#!/usr/bin/env python3
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
# The lab's backend server (HTTP, TCP stream, UDP echo; each answer names
# the backend) and the matching clients the demo and the e2e tests drive.
#
# Server:  backend_server.py serve --name be1 [--http 80] [--stream 9000]
#                            [--udp 9001] [--ready FILE]
#   HTTP   GET  -> "be1\n";  POST -> "be1 <bytes> <sha256>\n"
#   stream on connect sends "be1\n", hashes everything until the client
#          half-closes, then sends "<bytes> <sha256>\n"
#   UDP    datagram -> "be1 <datagram>"
#   All sockets are dual stack (:: with IPV6_V6ONLY off).
#
# Clients (print one JSON object on stdout, exit 1 on a failed check):
#   http   ADDR PORT -n N [--stop FILE]  N GETs, each a new connection
#                                    (fewer if FILE appears)
#   post   ADDR PORT --bytes B       one POST of B bytes, checks the hash
#   udp    ADDR PORT -n N [--sport-base P]  N requests, each its own port
#   tcpflows ADDR PORT --sport-base P -n N  N GETs from source ports P..
#   stream ADDR PORT --stop FILE     stream until FILE exists, check hash
#
# Only the Python standard library is used.

import argparse
import hashlib
import http.server
import json
import os
import socket
import socketserver
import sys
import threading
import time


# ---- server ---------------------------------------------------------------


def dual_stack_socket(kind):
    s = socket.socket(socket.AF_INET6, kind)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
    return s


class DualStackHTTPServer(http.server.ThreadingHTTPServer):
    address_family = socket.AF_INET6
    daemon_threads = True

    def server_bind(self):
        self.socket.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
        super().server_bind()


def make_http_handler(name):
    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.0"

        def reply(self, body):
            self.send_response(200)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", str(len(body)))
            self.send_header("X-Backend", name)
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self):
            self.reply((name + "\n").encode())

        def do_POST(self):
            left = int(self.headers.get("Content-Length", "0"))
            h = hashlib.sha256()
            n = 0
            while left > 0:
                chunk = self.rfile.read(min(left, 65536))
                if not chunk:
                    break
                h.update(chunk)
                n += len(chunk)
                left -= len(chunk)
            self.reply(f"{name} {n} {h.hexdigest()}\n".encode())

        def log_message(self, fmt, *args):
            pass

    return Handler


def serve_stream(sock, name):
    while True:
        conn, _ = sock.accept()
        threading.Thread(target=stream_conn, args=(conn, name),
                         daemon=True).start()


def stream_conn(conn, name):
    try:
        conn.sendall((name + "\n").encode())
        h = hashlib.sha256()
        n = 0
        while True:
            b = conn.recv(65536)
            if not b:
                break
            h.update(b)
            n += len(b)
        conn.sendall(f"{n} {h.hexdigest()}\n".encode())
    except OSError:
        pass
    finally:
        conn.close()


# Linux's IP_PKTINFO, when the socket module does not name it.
IP_PKTINFO = getattr(socket, "IP_PKTINFO", 8)


def udp_socket(family, port):
    """A UDP socket that learns each datagram's destination address, so
    the answer can leave from the VIP the client asked (DSR: the VIP is on
    lo, and the route back would pick the interface's address)."""
    s = socket.socket(family, socket.SOCK_DGRAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if family == socket.AF_INET6:
        s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
        s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_RECVPKTINFO, 1)
        s.bind(("::", port))
    else:
        s.setsockopt(socket.IPPROTO_IP, IP_PKTINFO, 1)
        s.bind(("0.0.0.0", port))
    return s


def serve_udp(sock, name):
    prefix = (name + " ").encode()
    v6 = sock.family == socket.AF_INET6
    while True:
        data, anc, _, peer = sock.recvmsg(65535, 256)
        cmsg = []
        for level, kind, val in anc:
            if v6 and level == socket.IPPROTO_IPV6 and \
                    kind == socket.IPV6_PKTINFO:
                # in6_pktinfo: the address the client sent to, ifindex 0
                cmsg = [(level, kind, val[:16] + bytes(4))]
            elif not v6 and level == socket.IPPROTO_IP and \
                    kind == IP_PKTINFO:
                # in_pktinfo: ifindex 0, spec_dst = the address asked
                cmsg = [(level, kind, bytes(4) + val[8:12] + bytes(4))]
        try:
            sock.sendmsg([prefix + data], cmsg, 0, peer)
        except OSError:
            pass


def cmd_serve(a):
    threads = []
    if a.http:
        for port in a.http.split(","):
            srv = DualStackHTTPServer(("::", int(port)),
                                      make_http_handler(a.name))
            threads.append(threading.Thread(target=srv.serve_forever,
                                            daemon=True))
    if a.stream:
        s = dual_stack_socket(socket.SOCK_STREAM)
        s.bind(("::", a.stream))
        s.listen(128)
        threads.append(threading.Thread(target=serve_stream,
                                        args=(s, a.name), daemon=True))
    if a.udp:
        for fam in (socket.AF_INET, socket.AF_INET6):
            u = udp_socket(fam, a.udp)
            threads.append(threading.Thread(target=serve_udp,
                                            args=(u, a.name), daemon=True))
    for t in threads:
        t.start()
    if a.ready:
        with open(a.ready, "w") as f:
            f.write(f"{os.getpid()}\n")
    while True:
        time.sleep(3600)


# ---- clients --------------------------------------------------------------


def family_of(addr):
    return socket.AF_INET6 if ":" in addr else socket.AF_INET


def http_get(addr, port, timeout, sport=0):
    """One GET on a new connection; returns the backend name."""
    s = socket.socket(family_of(addr), socket.SOCK_STREAM)
    s.settimeout(timeout)
    try:
        if sport:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            s.bind(("", sport))
        s.connect((addr, port))
        s.sendall(b"GET / HTTP/1.0\r\nHost: vip\r\n\r\n")
        buf = b""
        while True:
            b = s.recv(4096)
            if not b:
                break
            buf += b
    finally:
        s.close()
    head, _, body = buf.partition(b"\r\n\r\n")
    if not head.startswith(b"HTTP/1.0 200"):
        raise OSError(f"bad HTTP answer {head[:40]!r}")
    return body.decode().strip()


def tally(names):
    out = {}
    for n in names:
        out[n] = out.get(n, 0) + 1
    return out


def retry(fn, tries, what):
    """Run fn up to @tries times (a lost SYN or datagram is retried, as
    any client would); returns (result, attempts) or (None, attempts)."""
    err = None
    for i in range(tries):
        try:
            return fn(), i + 1
        except OSError as e:
            err = e
            time.sleep(0.05)
    print(f"{what}: {err}", file=sys.stderr)
    return None, tries


def cmd_http(a):
    names, failed, retried = [], 0, 0
    for _ in range(a.n):
        if a.stop and os.path.exists(a.stop):
            break
        name, k = retry(lambda: http_get(a.addr, a.port, a.timeout),
                        a.tries, f"GET [{a.addr}]:{a.port}")
        retried += k - 1
        if name is None:
            failed += 1
        else:
            names.append(name)
    print(json.dumps({"answered": len(names), "failed": failed,
                      "retried": retried, "backends": tally(names)}))
    return 1 if failed else 0


def cmd_tcpflows(a):
    flows, failed = {}, 0
    for i in range(a.n):
        sport = a.sport_base + i
        name, _ = retry(lambda: http_get(a.addr, a.port, a.timeout, sport),
                        a.tries, f"GET [{a.addr}]:{a.port} from {sport}")
        if name is None:
            failed += 1
        else:
            flows[str(sport)] = name
    print(json.dumps({"failed": failed, "flows": flows,
                      "backends": tally(flows.values())}))
    return 1 if failed else 0


def udp_once(addr, port, timeout, sport, msg):
    s = socket.socket(family_of(addr), socket.SOCK_DGRAM)
    s.settimeout(timeout)
    try:
        if sport:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            s.bind(("", sport))
        s.connect((addr, port))
        s.send(msg)
        data = s.recv(65535)
    finally:
        s.close()
    name, _, echo = data.partition(b" ")
    if echo != msg:
        raise OSError(f"echo mismatch: sent {msg!r}, got {echo!r}")
    return name.decode()


def cmd_udp(a):
    names, flows, failed, retried = [], {}, 0, 0
    for i in range(a.n):
        sport = a.sport_base + i if a.sport_base else 0
        msg = f"req-{i}-{os.getpid()}".encode()
        name, k = retry(lambda: udp_once(a.addr, a.port, a.timeout, sport,
                                         msg),
                        a.tries, f"UDP [{a.addr}]:{a.port}")
        retried += k - 1
        if name is None:
            failed += 1
            continue
        names.append(name)
        if sport:
            flows[str(sport)] = name
    out = {"answered": len(names), "failed": failed, "retried": retried,
           "backends": tally(names)}
    if a.sport_base:
        out["flows"] = flows
    print(json.dumps(out))
    return 1 if failed else 0


def read_line(s):
    buf = b""
    while not buf.endswith(b"\n"):
        b = s.recv(1)
        if not b:
            raise OSError(f"connection closed after {buf!r}")
        buf += b
    return buf.decode().strip()


def cmd_post(a):
    body = os.urandom(a.bytes)
    want = hashlib.sha256(body).hexdigest()
    s = socket.socket(family_of(a.addr), socket.SOCK_STREAM)
    s.settimeout(a.timeout)
    t0 = time.monotonic()
    try:
        s.connect((a.addr, a.port))
        s.sendall(b"POST / HTTP/1.0\r\nHost: vip\r\nContent-Length: "
                  + str(len(body)).encode() + b"\r\n\r\n" + body)
        buf = b""
        while True:
            b = s.recv(4096)
            if not b:
                break
            buf += b
        mss = s.getsockopt(socket.IPPROTO_TCP, socket.TCP_MAXSEG)
    finally:
        s.close()
    _, _, ans = buf.partition(b"\r\n\r\n")
    parts = ans.decode().split()
    ok = len(parts) == 3 and parts[1] == str(len(body)) and parts[2] == want
    print(json.dumps({"ok": ok, "backend": parts[0] if parts else None,
                      "bytes": len(body), "mss": mss,
                      "seconds": round(time.monotonic() - t0, 3)}))
    return 0 if ok else 1


def cmd_stream(a):
    """Stream pseudo-random chunks until the stop file appears; the
    server's byte count and hash at the end must match ours."""
    h = hashlib.sha256()
    n = 0
    s = socket.socket(family_of(a.addr), socket.SOCK_STREAM)
    s.settimeout(a.timeout)
    err = None
    name = None
    try:
        s.connect((a.addr, a.port))
        name = read_line(s)
        if a.started:
            with open(a.started, "w") as f:
                f.write(name + "\n")
        seed = 0
        while not os.path.exists(a.stop):
            chunk = hashlib.sha256(f"{os.getpid()}-{seed}".encode()).digest()
            chunk = chunk * (a.chunk // len(chunk))
            s.sendall(chunk)
            h.update(chunk)
            n += len(chunk)
            seed += 1
            time.sleep(a.interval)
        s.shutdown(socket.SHUT_WR)
        ans = read_line(s).split()
    except OSError as e:
        err = str(e)
        ans = []
    finally:
        s.close()
    ok = err is None and ans == [str(n), h.hexdigest()]
    print(json.dumps({"ok": ok, "backend": name, "bytes": n,
                      "server": ans, "error": err}))
    return 0 if ok else 1


def main():
    p = argparse.ArgumentParser(description=__doc__)
    sub = p.add_subparsers(dest="cmd", required=True)

    s = sub.add_parser("serve")
    s.add_argument("--name", required=True)
    s.add_argument("--http", default="80")
    s.add_argument("--stream", type=int, default=9000)
    s.add_argument("--udp", type=int, default=9001)
    s.add_argument("--ready")

    for c in ("http", "udp", "tcpflows", "post", "stream"):
        q = sub.add_parser(c)
        q.add_argument("addr")
        q.add_argument("port", type=int)
        q.add_argument("-n", type=int, default=1)
        q.add_argument("--timeout", type=float, default=1.0)
        q.add_argument("--tries", type=int, default=5)
        q.add_argument("--sport-base", type=int, default=0)
        q.add_argument("--bytes", type=int, default=1 << 20)
        q.add_argument("--stop", default="")
        q.add_argument("--started", default="")
        q.add_argument("--chunk", type=int, default=4096)
        q.add_argument("--interval", type=float, default=0.01)

    a = p.parse_args()
    if a.cmd == "serve":
        cmd_serve(a)
        return 0
    if a.cmd == "stream" and not a.stop:
        p.error("stream needs --stop FILE")
    return {"http": cmd_http, "udp": cmd_udp, "tcpflows": cmd_tcpflows,
            "post": cmd_post, "stream": cmd_stream}[a.cmd](a)


if __name__ == "__main__":
    sys.exit(main())
