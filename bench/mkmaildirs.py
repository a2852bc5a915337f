#!/usr/bin/python3
"""mkmaildirs.py: makes the Maildirs the benchmarks read, once, and keeps
them under the bench work dir between runs.  It writes only below the work
dir it is given and never touches the repository or a live mail store.

Messages look like delivered mail: Return-Path, Received, Message-ID and
MIME headers; text bodies with some lines that begin with '.' (so servers
must dot-stuff); larger messages carry a base64 attachment.  Names are
those Dovecot's deliver makes, "time.MusecPpidQn.host,S=size,W=vsize:2,S"
in cur/ (already seen, so neither server renames them); the stat variant
"S" has only ",S=".  Everything is made from a fixed seed: the same
parameters give the same bytes.

    mkmaildirs.py --dir /var/tmp/postern-bench --uid U --gid G [--quick]
"""
import argparse
import base64
import json
import os
import random
import shutil
import sys
import time

VERSION = 3                 # bump when the generated content changes
HOST = "bench.example"
WORDS = ("the of and to a in is it you that he was for on are with as his "
         "they be at one have this from or had by hot word but what some we "
         "can out other were all there when up use your how said an each "
         "she which do their time if will way about many then them write "
         "would like so these her long make thing see him two has look more "
         "day could go come did number sound no most people my over know "
         "water than call first who may down side been now find mailbox "
         "server message delivery postmaster invoice meeting report draft "
         "attached regards please thanks tomorrow schedule budget").split()


def text_pool(rng, size):
    """About size bytes of text lines; some begin with '.' or are '.'."""
    out = []
    n = 0
    while n < size:
        r = rng.random()
        if r < 0.01:
            line = "."
        elif r < 0.03:
            line = ". " + " ".join(rng.choice(WORDS)
                                   for _ in range(rng.randint(2, 10)))
        elif r < 0.035:
            line = ".." + rng.choice(WORDS)
        elif r < 0.10:
            line = ""
        elif r < 0.14:
            line = "> " + " ".join(rng.choice(WORDS)
                                   for _ in range(rng.randint(3, 12)))
        else:
            words = []
            width = rng.randint(30, 76)
            ln = 0
            while ln < width:
                w = rng.choice(WORDS)
                words.append(w)
                ln += len(w) + 1
            line = " ".join(words)
        out.append(line)
        n += len(line) + 1
    return ("\n".join(out) + "\n").encode()


def b64_pool(rng, size):
    """Base64 lines of 76 characters, as an attachment's body."""
    raw = rng.randbytes(size * 3 // 4)
    enc = base64.b64encode(raw)
    lines = [enc[i:i + 76] for i in range(0, len(enc) - 76, 76)]
    return b"\n".join(lines) + b"\n"


class Pools:
    """Text and attachment pools that message bodies are cut from."""

    def __init__(self, seed):
        rng = random.Random(seed)
        self.text = text_pool(rng, 2 << 20)
        self.b64 = b64_pool(rng, 9 << 20)

    @staticmethod
    def cut(pool, rng, n):
        """About n bytes of whole lines from pool."""
        n = min(n, len(pool) // 2)
        start = pool.find(b"\n", rng.randrange(0, len(pool) - n - 1)) + 1
        end = pool.find(b"\n", start + max(n, 1) - 1)
        if end == -1:
            end = len(pool) - 1
        return pool[start:end + 1]


def headers(rng, i, t, full):
    """The header block of message i, delivered at time t."""
    user = rng.choice(["alice", "bob", "carol", "dave", "erin", "frank"])
    date = time.strftime("%a, %d %b %Y %H:%M:%S +0000", time.gmtime(t))
    subj = " ".join(rng.choice(WORDS) for _ in range(rng.randint(2, 8)))
    h = [f"Return-Path: <{user}@sender.example>",
         f"Delivered-To: rcpt@{HOST}"]
    if full:
        h += [f"Received: from mx{rng.randint(1, 9)}.sender.example "
              f"(mx.sender.example [192.0.2.{rng.randint(1, 254)}])",
              f"\tby {HOST} (Postfix) with ESMTPS id {rng.getrandbits(40):X}",
              f"\tfor <rcpt@{HOST}>; {date}",
              f"Received: by mail.sender.example with SMTP id "
              f"{rng.getrandbits(64):x}; {date}",
              "DKIM-Signature: v=1; a=rsa-sha256; c=relaxed/relaxed; "
              "d=sender.example; s=2024;",
              f"\th=from:to:subject:date:message-id; "
              f"bh={base64.b64encode(rng.randbytes(32)).decode()}"]
    h += [f"Message-ID: <{t}.{i}.{rng.getrandbits(32):x}@sender.example>",
          f"Date: {date}",
          f"From: {user.capitalize()} <{user}@sender.example>",
          f"To: rcpt@{HOST}",
          f"Subject: {subj}",
          "MIME-Version: 1.0"]
    return ("\n".join(h) + "\n").encode()


def message(pools, rng, i, t, size):
    """One message of about size bytes."""
    if size < 1200:
        head = headers(rng, i, t, False)
        head += b"Content-Type: text/plain; charset=us-ascii\n\n"
        return head + pools.cut(pools.text, rng, max(size - len(head), 40))
    head = headers(rng, i, t, True)
    if size < 16384:
        head += b"Content-Type: text/plain; charset=us-ascii\n\n"
        return head + pools.cut(pools.text, rng, max(size - len(head), 40))
    bnd = f"=_bench_{rng.getrandbits(48):x}".encode()
    text = pools.cut(pools.text, rng, rng.randint(300, 3000))
    att = size - len(head) - len(text) - 400
    parts = [head,
             b'Content-Type: multipart/mixed; boundary="' + bnd + b'"\n\n',
             b"This is a multi-part message in MIME format.\n\n",
             b"--" + bnd + b"\nContent-Type: text/plain; charset=utf-8\n\n",
             text,
             b"\n--" + bnd + b"\nContent-Type: application/pdf; "
             b'name="report.pdf"\nContent-Transfer-Encoding: base64\n'
             b'Content-Disposition: attachment; filename="report.pdf"\n\n']
    while att > 0:
        chunk = pools.cut(pools.b64, rng, min(att, 4 << 20))
        parts.append(chunk)
        att -= len(chunk)
    parts.append(b"\n--" + bnd + b"--\n")
    return b"".join(parts)


def sizes(rng, n, total, median, sigma, lo, hi):
    """n log-normal sizes within [lo, hi], scaled to add up to total."""
    import math
    s = [rng.lognormvariate(math.log(median), sigma) for _ in range(n)]
    for _ in range(8):
        f = total / sum(s)
        s = [min(max(x * f, lo), hi) for x in s]
    return [int(x) for x in s]


def name_of(i, t, data, with_w):
    """The Maildir name Dovecot's deliver would give, already seen."""
    base = f"{t}.M{(i * 7919) % 1000000}P{10000 + i % 50000}Q{i}.{HOST}"
    base += f",S={len(data)}"
    if with_w:
        base += ",W=%d" % (len(data) + data.count(b"\n"))
    return base + ":2,S"


def new_maildir(path, uid, gid):
    """An empty Maildir at path owned by uid:gid, replacing any old one."""
    if os.path.exists(path):
        shutil.rmtree(path)
    for sub in ("cur", "new", "tmp"):
        os.makedirs(os.path.join(path, sub))
    for d in (os.path.dirname(path), path, *(os.path.join(path, s) for s in
                                             ("cur", "new", "tmp"))):
        os.chown(d, uid, gid)
        os.chmod(d, 0o700)


def write(path, data, uid, gid):
    """Writes one message file owned by uid:gid."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW,
                 0o600)
    try:
        os.write(fd, data)
        os.fchown(fd, uid, gid)
    finally:
        os.close(fd)


def make_drop(pools, path, n, total, median, sigma, lo, hi, seed, uid, gid,
              with_w=True, twin=None):
    """A Maildir of n messages adding up to about total bytes.  twin, if
    given, gets the same files hard-linked under names without ,W=."""
    rng = random.Random(seed)
    new_maildir(path, uid, gid)
    if twin:
        new_maildir(twin, uid, gid)
    t0 = 1700000000
    for i, sz in enumerate(sizes(rng, n, total, median, sigma, lo, hi)):
        t = t0 + i * 3
        data = message(pools, rng, i, t, sz)
        f = os.path.join(path, "cur", name_of(i, t, data, with_w))
        write(f, data, uid, gid)
        if twin:
            os.link(f, os.path.join(twin, "cur", name_of(i, t, data, False)))


def make_users(pools, top, nusers, per_user, seed, uid, gid):
    """nusers small Maildirs top/benchNNNN/Maildir, hard-linked from a
    pool of 4 * per_user messages."""
    pool = os.path.join(top, "pool")
    new_maildir(pool, uid, gid)
    rng = random.Random(seed)
    names = []
    for i, sz in enumerate(sizes(rng, 4 * per_user, 4 * per_user * 6000,
                                 3000, 1.0, 400, 64 << 10)):
        t = 1700000000 + i * 60
        data = message(pools, rng, i, t, sz)
        names.append(name_of(i, t, data, True))
        write(os.path.join(pool, "cur", names[-1]), data, uid, gid)
    for u in range(nusers):
        md = os.path.join(top, f"bench{u:04d}", "Maildir")
        new_maildir(md, uid, gid)
        pick = sorted({(u * 7 + j * 3) % len(names)
                       for j in range(per_user * 2)})[:per_user]
        for k in pick:
            os.link(os.path.join(pool, "cur", names[k]),
                    os.path.join(md, "cur", names[k]))


def plan(quick):
    """The Maildirs to make: name -> parameters."""
    if quick:
        return {"users": dict(nusers=1024, per_user=10),
                "retr": dict(n=2000, total=40 * 10**6),
                "stat": dict(n=10000)}
    return {"users": dict(nusers=1024, per_user=10),
            "retr": dict(n=20000, total=400 * 10**6),
            "stat": dict(n=100000)}


def count_cur(path):
    """Files in path/cur, or -1 when it is missing."""
    try:
        return len(os.listdir(os.path.join(path, "cur")))
    except OSError:
        return -1


def ensure(workdir, uid, gid, quick=False, log=print):
    """Makes what is missing or stale; returns the paths and users."""
    p = plan(quick)
    tag = "quick" if quick else "full"
    mail = os.path.join(workdir, "mail-" + tag)
    stamps = os.path.join(workdir, "stamps")
    os.makedirs(mail, exist_ok=True)
    os.makedirs(stamps, exist_ok=True)
    for d in (workdir, mail):
        os.chmod(d, 0o755)
    pools = None
    out = {"users_top": os.path.join(mail, "users"),
           "nusers": p["users"]["nusers"],
           "retr": os.path.join(mail, "retr", "Maildir"),
           "stat": os.path.join(mail, "stat", "Maildir"),
           "stats": os.path.join(mail, "stats", "Maildir"),
           "retr_n": p["retr"]["n"], "stat_n": p["stat"]["n"]}
    checks = {
        "users": lambda: all(count_cur(os.path.join(
            out["users_top"], f"bench{u:04d}", "Maildir")) ==
            p["users"]["per_user"] for u in (0, p["users"]["nusers"] - 1)),
        "retr": lambda: count_cur(out["retr"]) == p["retr"]["n"],
        "stat": lambda: (count_cur(out["stat"]) == p["stat"]["n"] and
                         count_cur(out["stats"]) == p["stat"]["n"]),
    }
    for what, params in p.items():
        stamp = os.path.join(stamps, f"{tag}-{what}.json")
        want = dict(params, version=VERSION, uid=uid, gid=gid)
        try:
            with open(stamp) as f:
                have = json.load(f)
        except (OSError, ValueError):
            have = None
        if have == want and checks[what]():
            continue
        if pools is None:
            pools = Pools(1)
        t = time.monotonic()
        log(f"making the {what} Maildirs ({tag}) in {mail}")
        if what == "users":
            make_users(pools, out["users_top"], params["nusers"],
                       params["per_user"], 2, uid, gid)
        elif what == "retr":
            make_drop(pools, out["retr"], params["n"], params["total"],
                      6000, 1.5, 300, 4 << 20, 3, uid, gid)
        else:
            make_drop(pools, out["stat"], params["n"],
                      params["n"] * 2500, 1500, 1.0, 300, 256 << 10, 4,
                      uid, gid, twin=out["stats"])
        for d in (os.path.dirname(out["retr"]), os.path.dirname(out["stat"]),
                  os.path.dirname(out["stats"]), out["users_top"]):
            if os.path.isdir(d):
                os.chown(d, uid, gid)
        with open(stamp, "w") as f:
            json.dump(want, f)
        log(f"  done in {time.monotonic() - t:.1f} s")
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--dir", required=True)
    ap.add_argument("--uid", type=int, required=True)
    ap.add_argument("--gid", type=int, required=True)
    ap.add_argument("--quick", action="store_true")
    a = ap.parse_args()
    print(json.dumps(ensure(a.dir, a.uid, a.gid, a.quick), indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
