#!/usr/bin/env python3
"""Raw OCI distribution-API client for the crash and lifecycle e2e tests (stdlib only).

  regclient.py push     --addr A --repo R --log F --seed S [--slow]   push until the registry dies
  regclient.py verify   --addr A LOG…      acknowledged content intact, catalog/tags all pullable
  regclient.py resume   --addr A LOG…      finish every upload session the kill interrupted
  regclient.py slowloris --addr A …        partial-header clients vs. normal clients
  regclient.py stall    --addr A --path P …  a request whose body stops arriving
  regclient.py checklogs FILE…              every line a JSON log record (event, rid on requests)

`push` appends one JSON line per event to its log, each written only after the registry
answered it (an "ack"): {"ev":"blob"|"manifest"|"tag"|"chunk"|"upload_started", …}. Events
named *_try are written before the request is sent (the registry may or may not have applied
it when it was killed). Exit status 0 means every check passed; failures go to stderr.
"""
import argparse
import hashlib
import http.client
import json
import math
import random
import socket
import sys
import time
import urllib.parse

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_LAYER = "application/vnd.oci.image.layer.v1.tar"
ACCEPT = ", ".join([
    "application/vnd.oci.image.index.v1+json", OCI_MANIFEST,
    "application/vnd.docker.distribution.manifest.list.v2+json",
    "application/vnd.docker.distribution.manifest.v2+json",
])
BLOCK = 256 * 1024


def sha256(b):
    return "sha256:" + hashlib.sha256(b).hexdigest()


def content(seed, size):
    """Deterministic incompressible bytes: a random block, each copy with a unique prefix."""
    base = random.Random(seed).randbytes(min(size, BLOCK))
    parts, left, i = [], size, 0
    while left > 0:
        n = min(left, BLOCK)
        head = hashlib.sha256(b"%d:%d" % (seed, i)).digest()
        parts.append((head + base[32:])[:n] if n > 32 else head[:n])
        left -= n
        i += 1
    return b"".join(parts)


class Fail(Exception):
    pass


class Client:
    """One keep-alive HTTP/1.1 connection, reopened when the server closes it."""

    def __init__(self, addr, timeout=30):
        host, port = addr.rsplit(":", 1)
        self.host, self.port, self.timeout, self.c = host, int(port), timeout, None

    def req(self, method, path, body=None, headers=None):
        if self.c is None:
            self.c = http.client.HTTPConnection(self.host, self.port, timeout=self.timeout)
        try:
            self.c.request(method, path, body=body, headers=headers or {})
            r = self.c.getresponse()
            data = r.read()
        except Exception:
            self.c.close()
            self.c = None
            raise
        if r.will_close:
            self.c.close()
            self.c = None
        return r.status, {k.lower(): v for k, v in r.getheaders()}, data


def with_query(loc, **q):
    return loc + ("&" if "?" in loc else "?") + urllib.parse.urlencode(q)


def path_of(loc):
    u = urllib.parse.urlsplit(loc)
    return u.path + ("?" + u.query if u.query else "")


# ------------------------------------------------------------------------------------------
# push
# ------------------------------------------------------------------------------------------

class Pusher:
    def __init__(self, a):
        self.a, self.cli = a, Client(a.addr)
        self.rng = random.Random(a.seed)
        self.log = open(a.log, "a", buffering=1)

    def emit(self, **ev):
        ev["t"] = round(time.time(), 3)
        self.log.write(json.dumps(ev) + "\n")
        self.log.flush()

    def expect(self, what, got, want, h, body):
        if got != want:
            self.emit(ev="bad_status", what=what, status=got, want=want, body=body[:300].decode("latin1"))
            raise Fail(f"{what}: HTTP {got}, want {want}: {body[:300]!r}")

    def blob(self, data, seed=None, mode=None):
        repo, d, size = self.a.repo, sha256(data), len(data)
        base = f"/v2/{repo}/blobs/uploads/"
        mode = mode or self.rng.choice(["mono", "put", "chunks", "chunks+put"] if size <= 1 << 20
                                       else ["put", "chunks", "chunks", "chunks+put"])
        if mode == "mono":
            st, h, b = self.cli.req("POST", with_query(base, digest=d), data,
                                    {"Content-Type": "application/octet-stream"})
            self.expect("monolithic POST", st, 201, h, b)
        else:
            st, h, b = self.cli.req("POST", base)
            self.expect("POST upload", st, 202, h, b)
            loc = path_of(h["location"])
            self.emit(ev="upload_started", repo=repo, loc=loc, seed=seed, size=size, digest=d)
            off, view = 0, memoryview(data)
            if mode != "put":
                last = size if mode == "chunks" else self.rng.randint(0, size)
                while off < last:
                    n = min(last - off, self.a.chunk or self.rng.randint(64 << 10, 4 << 20))
                    st, h, b = self.cli.req("PATCH", loc, view[off:off + n], {
                        "Content-Type": "application/octet-stream",
                        "Content-Range": f"{off}-{off + n - 1}"})
                    self.expect("PATCH chunk", st, 202, h, b)
                    if h.get("range") != f"0-{off + n - 1}":
                        self.expect(f"PATCH Range header {h.get('range')!r}", 0, 202, h, b)
                    off += n
                    loc = path_of(h["location"])
                    self.emit(ev="chunk", loc=loc, end=off)
                    if self.a.slow:
                        time.sleep(0.1)
            self.emit(ev="put_try", loc=loc, digest=d)
            rest = view[off:]
            hdr = {"Content-Type": "application/octet-stream"}
            if len(rest):
                hdr["Content-Range"] = f"{off}-{size - 1}"
            st, h, b = self.cli.req("PUT", with_query(loc, digest=d), rest if len(rest) else None, hdr)
            self.expect("PUT upload", st, 201, h, b)
        if h.get("docker-content-digest") != d:
            self.expect(f"blob Docker-Content-Digest {h.get('docker-content-digest')!r}", 0, 201, h, b)
        self.emit(ev="blob", repo=repo, digest=d, size=size, seed=seed)
        return d

    def manifest(self, body, tag, ev):
        d = sha256(body)
        self.emit(ev=ev + "_try", repo=self.a.repo, tag=tag, digest=d)
        st, h, b = self.cli.req("PUT", f"/v2/{self.a.repo}/manifests/{tag}", body, {"Content-Type": OCI_MANIFEST})
        self.expect("PUT manifest", st, 201, h, b)
        if h.get("docker-content-digest") != d:
            self.expect(f"manifest Docker-Content-Digest {h.get('docker-content-digest')!r}", 0, 201, h, b)
        self.emit(ev=ev, repo=self.a.repo, tag=tag, digest=d)

    def run(self):
        n = 0
        while True:
            n += 1
            layers = []
            for _ in range(1 if self.a.slow else self.rng.randint(1, 2)):
                if self.a.slow:
                    size = 20 << 20
                else:
                    size = int(math.exp(self.rng.uniform(math.log(4 << 10), math.log(20 << 20))))
                seed = self.rng.getrandbits(62)
                d = self.blob(content(seed, size), seed, "chunks" if self.a.slow else None)
                layers.append({"mediaType": OCI_LAYER, "digest": d, "size": size})
            cfg = json.dumps({"architecture": "amd64", "os": "linux", "nonce": self.rng.getrandbits(64),
                              "rootfs": {"type": "layers", "diff_ids": [l["digest"] for l in layers]}}).encode()
            cd = self.blob(cfg, None, "mono")
            m = json.dumps({"schemaVersion": 2, "mediaType": OCI_MANIFEST,
                            "config": {"mediaType": OCI_CONFIG, "digest": cd, "size": len(cfg)},
                            "layers": layers}).encode()
            self.manifest(m, f"{self.a.tag}-{n}", "manifest")   # a new tag each time
            self.manifest(m, f"{self.a.tag}-latest", "tag")      # one tag moved each time


def cmd_push(a):
    p = Pusher(a)
    try:
        p.run()
    except Fail as e:
        print(f"push {a.repo}: {e}", file=sys.stderr)
        return 1
    except (OSError, http.client.HTTPException) as e:
        p.emit(ev="stopped", error=repr(e))  # the registry went away: expected
    return 0


# ------------------------------------------------------------------------------------------
# verify / resume
# ------------------------------------------------------------------------------------------

def load(paths):
    return [(p, [json.loads(l) for l in open(p) if l.strip()]) for p in paths]


class Checker:
    def __init__(self, a):
        self.cli, self.errors, self.verified = Client(a.addr, 60), [], set()

    def err(self, msg):
        self.errors.append(msg)
        print("ERROR:", msg, file=sys.stderr)

    def blob_ok(self, repo, d, size=None, what="blob"):
        if (repo, d) in self.verified:
            return True
        st, h, b = self.cli.req("GET", f"/v2/{repo}/blobs/{d}")
        if st != 200:
            self.err(f"{what} {repo}@{d}: GET status {st}: {b[:200]!r}")
            return False
        if sha256(b) != d or (size is not None and len(b) != size):
            self.err(f"{what} {repo}@{d}: GET returned {len(b)} bytes with digest {sha256(b)} (want {size} bytes)")
            return False
        st, h, _ = self.cli.req("HEAD", f"/v2/{repo}/blobs/{d}")
        if st != 200 or h.get("content-length") != str(len(b)):
            self.err(f"{what} {repo}@{d}: HEAD {st} Content-Length {h.get('content-length')} (want {len(b)})")
            return False
        self.verified.add((repo, d))
        return True

    def pages(self, path, key):
        """All entries of a paginated listing (n=100, following the Link header)."""
        out, last = [], None
        for _ in range(10000):
            q = "?n=100" + (f"&last={urllib.parse.quote(last)}" if last else "")
            st, h, b = self.cli.req("GET", path + q)
            if st != 200:
                self.err(f"GET {path}{q}: status {st}: {b[:200]!r}")
                break
            page = json.loads(b).get(key) or []
            out += page
            if not page or "link" not in h:
                break
            last = page[-1]
        if len(out) != len(set(out)):
            self.err(f"GET {path}: duplicate entries across pages")
        return out

    def manifest(self, repo, ref):
        st, h, b = self.cli.req("GET", f"/v2/{repo}/manifests/{ref}", None, {"Accept": ACCEPT})
        if st != 200:
            self.err(f"manifest {repo}:{ref}: GET status {st}: {b[:200]!r}")
            return None
        if sha256(b) != h.get("docker-content-digest"):
            self.err(f"manifest {repo}:{ref}: body digest {sha256(b)} != Docker-Content-Digest {h.get('docker-content-digest')}")
            return None
        return sha256(b), b

    def pullable(self, repo, ref):
        got = self.manifest(repo, ref)
        if got is None:
            return None
        d, body = got
        try:
            m = json.loads(body)
            refs = [m["config"]] + m["layers"]
        except (ValueError, KeyError, TypeError) as e:
            self.err(f"manifest {repo}:{ref} is not an image manifest: {e}")
            return None
        for r in refs:
            self.blob_ok(repo, r["digest"], r["size"], f"blob of {repo}:{ref}")
        return d


def cmd_verify(a):
    ck = Checker(a)
    blobs, tags, tried, moving, repos = {}, {}, {}, {}, set()
    n_manifests = 0
    for path, evs in load(a.logs):
        for e in evs:
            if "repo" in e:
                repos.add(e["repo"])
            if e["ev"] == "blob":
                blobs[(e["repo"], e["digest"])] = e["size"]
            elif e["ev"] == "manifest":
                tags[(e["repo"], e["tag"])] = {e["digest"]}
                n_manifests += 1
            elif e["ev"] == "manifest_try":
                tags.setdefault((e["repo"], e["tag"]), None)
                tried[(e["repo"], e["tag"])] = e["digest"]
            elif e["ev"] == "tag_try":
                moving.setdefault((e["repo"], e["tag"]), [None, []])[1].append(e["digest"])
            elif e["ev"] == "tag":
                moving[(e["repo"], e["tag"])] = [e["digest"], []]
    # 1. every acknowledged blob: exact bytes
    for (repo, d), size in blobs.items():
        ck.blob_ok(repo, d, size, "acknowledged blob")
    # 2. every acknowledged manifest: by digest and by its tag
    for (repo, tag), ds in tags.items():
        if ds is None:
            continue
        (d,) = ds
        got = ck.manifest(repo, d)
        if got and got[0] != d:
            ck.err(f"manifest {repo}@{d}: served digest {got[0]}")
        got = ck.manifest(repo, tag)
        if got and got[0] != d:
            ck.err(f"tag {repo}:{tag} resolves to {got[0]}, acknowledged {d}")
    # 3. a moved tag: the last acknowledged digest, or one that was in flight after it
    for (repo, tag), (acked, later) in moving.items():
        allowed = ({acked} if acked else set()) | set(later)
        st, h, _ = ck.cli.req("HEAD", f"/v2/{repo}/manifests/{tag}", None, {"Accept": ACCEPT})
        if st == 404 and acked is None:
            continue
        if st != 200 or h.get("docker-content-digest") not in allowed:
            ck.err(f"moving tag {repo}:{tag}: HEAD {st} {h.get('docker-content-digest')}, allowed {sorted(allowed)}")
    # 4. no half-visible state: everything listed is complete and pullable
    listed = ck.pages("/v2/_catalog", "repositories")
    n_tags = 0
    for repo in listed:
        if repo not in repos:
            ck.err(f"catalog lists {repo!r}, which no client pushed to")
            continue
        listed_tags = ck.pages(f"/v2/{repo}/tags/list", "tags")
        required = [t for (r, t), ds in tags.items() if r == repo and ds] + \
                   [t for (r, t), (acked, _) in moving.items() if r == repo and acked]
        for t in required:
            if t not in listed_tags:
                ck.err(f"acknowledged tag {repo}:{t} missing from tags/list")
        for t in listed_tags:
            n_tags += 1
            d = ck.pullable(repo, t)  # acknowledged or in flight at the kill: whole either way
            if d and (repo, t) in tried and d != tried[(repo, t)]:
                ck.err(f"tag {repo}:{t} resolves to {d}, but the only PUT of it was {tried[(repo, t)]}")
            if (repo, t) not in tags and (repo, t) not in moving:
                ck.err(f"tags/list {repo} has tag {t!r} that no client pushed")
    for (repo, _), ds in tags.items():
        if ds and repo not in listed:
            ck.err(f"repository {repo} with acknowledged manifests missing from the catalog")
    print(f"verified {len(blobs)} acknowledged blobs, {n_manifests} manifests, {len(moving)} moving tags; "
          f"catalog {len(listed)} repos, {n_tags} tags all pullable; {len(ck.errors)} errors")
    return 1 if ck.errors else 0


def cmd_resume(a):
    ck = Checker(a)
    sessions = {}
    for path, evs in load(a.logs):
        cur = None  # each pusher has one upload in progress at a time
        for e in evs:
            if e["ev"] == "upload_started":
                sessions[e["loc"]] = dict(e, acked=0, put=False, done=False)
                cur = sessions[e["loc"]]
            elif e["ev"] == "chunk":
                cur["acked"] = e["end"]
                sessions[e["loc"]] = cur
            elif e["ev"] == "put_try":
                cur["put"] = True
            elif e["ev"] == "blob" and cur and cur["digest"] == e["digest"]:
                cur["done"] = True
    pending = {id(s): s for s in sessions.values() if not s["done"]}.values()
    resumed, lost, completed = 0, [], []
    for s in pending:
        repo, d, size, loc = s["repo"], s["digest"], s["size"], s["loc"]
        st, h, b = ck.cli.req("GET", loc)
        if st == 404 and s["put"]:
            # the completing PUT was in flight: then the blob should be there, whole
            hst, _, _ = ck.cli.req("HEAD", f"/v2/{repo}/blobs/{d}")
            if hst == 200:
                if ck.blob_ok(repo, d, size, "blob whose PUT was in flight"):
                    print(f"upload {loc}: completed by the in-flight PUT")
                    completed.append((repo, d, size))
                continue
            # Neither completed nor resumable. No 201 was given, so no promise is broken, but
            # the client has to start over: recorded for a separate step; check that works.
            msg = (f"upload {loc} ({size} bytes, {d}): the kill hit its final PUT ?digest=; now the "
                   f"session is 404 BLOB_UPLOAD_UNKNOWN and the blob HEAD is {hst}")
            print("LOST:", msg)
            lost.append(msg)
            st, h, b = ck.cli.req("POST", with_query(f"/v2/{repo}/blobs/uploads/", digest=d),
                                  content(s["seed"], size), {"Content-Type": "application/octet-stream"})
            if st != 201:
                ck.err(f"re-upload of {d} from scratch: POST ?digest= status {st} {b[:200]!r}")
            elif ck.blob_ok(repo, d, size, "blob uploaded again"):
                print(f"upload {loc}: pushed again from scratch, ok")
                completed.append((repo, d, size))
            continue
        if st != 204:
            ck.err(f"interrupted upload {loc} ({s['acked']} of {size} bytes acknowledged): GET status {st} {b[:200]!r}")
            continue
        rng = h.get("range", "")
        if not rng.startswith("0-"):
            ck.err(f"upload {loc}: GET status has no Range header: {h}")
            continue
        have = int(rng[2:]) + 1
        if rng == "0-0" and s["acked"] == 0:
            have = 0
        if have < s["acked"] or have > size:
            ck.err(f"upload {loc}: server has {have} bytes, client had {s['acked']} acknowledged (size {size})")
            continue
        data = content(s["seed"], size)
        loc = path_of(h.get("location", loc))
        if have < size:
            st, h, b = ck.cli.req("PATCH", loc, data[have:], {"Content-Type": "application/octet-stream",
                                                               "Content-Range": f"{have}-{size - 1}"})
            if st != 202 or h.get("range") != f"0-{size - 1}":
                ck.err(f"upload {loc}: resuming PATCH from {have}: status {st} Range {h.get('range')}: {b[:200]!r}")
                continue
            loc = path_of(h.get("location", loc))
        st, h, b = ck.cli.req("PUT", with_query(loc, digest=d))
        if st != 201:
            ck.err(f"upload {loc}: PUT ?digest={d} after resuming at {have}: status {st} {b[:300]!r}")
            continue
        if ck.blob_ok(repo, d, size, "resumed blob"):
            resumed += 1
            completed.append((repo, d, size))
            print(f"upload {loc}: resumed at byte {have} (acknowledged {s['acked']}) of {size}, completed")
    print(f"{resumed} interrupted uploads resumed and completed; {len(lost)} lost at the final PUT; "
          f"{len(ck.errors)} errors")
    if a.lost:
        with open(a.lost, "a") as f:
            f.writelines(m + "\n" for m in lost)
    if a.acked:
        # in the pushers' log format, so that `verify` checks these blobs from now on
        with open(a.acked, "a") as f:
            f.writelines(json.dumps({"ev": "blob", "repo": r, "digest": d, "size": n}) + "\n"
                         for r, d, n in completed)
    if resumed < a.min_resumed:
        ck.err(f"only {resumed} uploads resumed, want at least {a.min_resumed}")
    return 1 if ck.errors else 0


# ------------------------------------------------------------------------------------------
# slowloris
# ------------------------------------------------------------------------------------------

def cmd_slowloris(a):
    """Opens --conns connections that send a partial header (half of them then drip one byte
    every 0.5 s), checks normal requests stay fast meanwhile, and that the server closes the
    slow connections after about --timeout seconds."""
    host, port = a.addr.rsplit(":", 1)
    t0 = time.monotonic()
    slow = []
    for i in range(a.conns):
        s = socket.create_connection((host, int(port)), timeout=5)
        s.sendall(b"GET /v2/ HTTP/1.1\r\nHost: x\r\nX-Slow: ")
        s.setblocking(False)
        slow.append([s, i % 2 == 1, None])
    errors = []
    worst = 0.0
    cli = Client(a.addr, 5)
    closed_at = {}
    deadline = t0 + a.timeout + a.slack
    next_drip = t0 + 0.5
    n_ok = 0
    while time.monotonic() < deadline and len(closed_at) < len(slow):
        t = time.monotonic()
        try:
            st, _, _ = Client(a.addr, 5).req("GET", "/v2/")   # a fresh connection each time
            st2, _, _ = cli.req("GET", "/healthz")
        except OSError as e:
            errors.append(f"normal request failed while slow clients were connected: {e!r}")
            break
        dt = time.monotonic() - t
        worst = max(worst, dt)
        if st != 200 or st2 != 200:
            errors.append(f"normal request status {st}/{st2}")
        n_ok += 1
        now = time.monotonic()
        for i, (s, drip, _) in enumerate(slow):
            if i in closed_at:
                continue
            try:
                got = s.recv(4096)
                if got == b"":
                    closed_at[i] = now - t0
            except BlockingIOError:
                if drip and now >= next_drip:
                    try:
                        s.send(b"a")
                    except OSError:
                        closed_at[i] = now - t0
            except OSError:
                closed_at[i] = now - t0
        if now >= next_drip:
            next_drip = now + 0.5
        time.sleep(0.05)
    for s, _, _ in slow:
        s.close()
    if len(closed_at) < len(slow):
        errors.append(f"{len(slow) - len(closed_at)} of {len(slow)} slow connections still open after "
                      f"{a.timeout + a.slack:.1f} s (read timeout {a.timeout} s)")
    if closed_at and min(closed_at.values()) < a.timeout * 0.5:
        errors.append(f"a slow connection was closed after {min(closed_at.values()):.2f} s, before the timeout")
    if worst > a.max_latency:
        errors.append(f"normal requests slowed down to {worst:.2f} s")
    if n_ok == 0:
        errors.append("no normal request was made")
    times = sorted(closed_at.values())
    print(f"{n_ok} normal request pairs, worst {worst * 1000:.0f} ms; slow connections closed after "
          f"{times[0] if times else -1:.2f}..{times[-1] if times else -1:.2f} s")
    for e in errors:
        print("ERROR:", e, file=sys.stderr)
    return 1 if errors else 0


def cmd_stall(a):
    """Sends a request head announcing --length body bytes, then only --send of them, and
    waits (up to --wait s) for the server to answer or close. Prints the seconds waited and
    the status line received, if any."""
    host, port = a.addr.rsplit(":", 1)
    s = socket.create_connection((host, int(port)), timeout=a.wait)
    s.sendall(f"{a.method} {a.path} HTTP/1.1\r\nHost: {a.addr}\r\nContent-Type: application/octet-stream\r\n"
              f"Content-Length: {a.length}\r\n\r\n".encode() + content(a.seed, a.length)[:a.send])
    t0 = time.monotonic()
    got = b""
    try:
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            got += chunk
    except socket.timeout:
        print(f"still open after {a.wait} s")
        return 1
    except OSError:
        pass
    status = got.split(b"\r\n", 1)[0].decode("latin1") if got else "none"
    print(f"{time.monotonic() - t0:.2f} {status}")
    return 0


def cmd_checklogs(a):
    """Every line of every file: UTF-8 JSON object with ts, level and a non-empty event; request
    lines also carry a non-empty rid, an HTTP status and a plausible byte count."""
    bad, n, req = [], 0, 0
    for path in a.files:
        for i, raw in enumerate(open(path, "rb").read().split(b"\n")):
            if not raw:
                continue
            n += 1
            where = f"{path.rsplit('/', 1)[-1]}:{i + 1}"
            try:
                obj = json.loads(raw.decode("utf-8"))
            except (UnicodeDecodeError, ValueError) as e:
                bad.append(f"{where}: not UTF-8 JSON ({e}): {raw[:200]!r}")
                continue
            if not isinstance(obj, dict) or not isinstance(obj.get("event"), str) or not obj["event"]:
                bad.append(f"{where}: no \"event\": {raw[:200]!r}")
                continue
            for k in ("ts", "level"):
                if k not in obj:
                    bad.append(f"{where}: no {k!r}: {raw[:200]!r}")
            if obj["event"] == "request":
                req += 1
                if not isinstance(obj.get("rid"), str) or not obj["rid"]:
                    bad.append(f"{where}: request line without \"rid\": {raw[:200]!r}")
                if not isinstance(obj.get("status"), int) or not 100 <= obj["status"] <= 599:
                    bad.append(f"{where}: bad status: {raw[:200]!r}")
                if not isinstance(obj.get("bytes"), int) or not 0 <= obj["bytes"] < 1 << 53:
                    bad.append(f"{where}: implausible bytes {obj.get('bytes')!r}: {raw[:260]!r}")
    print(f"{n} log lines ({req} request lines) in {len(a.files)} files, {len(bad)} bad")
    for b in bad[:20]:
        print("BAD", b, file=sys.stderr)
    return 1 if bad or req == 0 else 0


def main():
    p = argparse.ArgumentParser()
    sub = p.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("push")
    s.add_argument("--addr", required=True)
    s.add_argument("--repo", required=True)
    s.add_argument("--tag", required=True)
    s.add_argument("--log", required=True)
    s.add_argument("--seed", type=int, required=True)
    s.add_argument("--slow", action="store_true", help="one 20 MiB blob in 256 KiB chunks, 0.1 s apart")
    s.add_argument("--chunk", type=int, default=0)
    s = sub.add_parser("verify")
    s.add_argument("--addr", required=True)
    s.add_argument("logs", nargs="+")
    s = sub.add_parser("resume")
    s.add_argument("--addr", required=True)
    s.add_argument("--min-resumed", type=int, default=0)
    s.add_argument("--lost", help="append sessions the kill left neither completed nor resumable here")
    s.add_argument("--acked", help="append the blobs completed here as acknowledged blob events")
    s.add_argument("logs", nargs="+")
    s = sub.add_parser("slowloris")
    s.add_argument("--addr", required=True)
    s.add_argument("--conns", type=int, default=20)
    s.add_argument("--timeout", type=float, required=True)
    s.add_argument("--slack", type=float, default=3.0)
    s.add_argument("--max-latency", type=float, default=1.0)
    s = sub.add_parser("stall")
    s.add_argument("--addr", required=True)
    s.add_argument("--method", default="PATCH")
    s.add_argument("--path", required=True)
    s.add_argument("--length", type=int, required=True)
    s.add_argument("--send", type=int, required=True)
    s.add_argument("--seed", type=int, default=7)
    s.add_argument("--wait", type=float, default=15)
    s = sub.add_parser("checklogs")
    s.add_argument("files", nargs="+")
    a = p.parse_args()
    if a.cmd == "push" and a.slow and not a.chunk:
        a.chunk = 256 << 10
    return {"push": cmd_push, "verify": cmd_verify, "resume": cmd_resume, "slowloris": cmd_slowloris,
            "stall": cmd_stall, "checklogs": cmd_checklogs}[a.cmd](a)


if __name__ == "__main__":
    sys.exit(main())
