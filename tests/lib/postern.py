"""postern.py: what the integration and interop tests share.

Tap       prints TAP results and counts them.
Server    a real build/posternd on an ephemeral loopback port, with its own
          temporary configuration, passwd-file and Maildirs.
Client    a raw POP3 client over a socket, for exact replies.
"""
import collections
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

TOP = os.environ.get("POSTERN_TOP") or os.path.dirname(
    os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BUILD = os.environ.get("BUILD") or os.path.join(TOP, "build")
POSTERND = os.path.join(BUILD, "posternd")
POSTERN = os.path.join(BUILD, "postern")


class Tap:
    """TAP output: one line per check, a summary at the end."""

    current = None      # the script's Tap, for Server.check_sanitizers

    def __init__(self):
        self.n = 0
        self.failed = 0
        Tap.current = self

    def ok(self, cond, name, detail=None):
        self.n += 1
        print(("ok" if cond else "not ok") + f" {self.n} - {name}",
              flush=True)
        if not cond:
            self.failed += 1
            if detail is not None:
                for line in str(detail).splitlines() or [""]:
                    print("#   " + line, flush=True)
        return cond

    def eq(self, got, want, name):
        return self.ok(got == want, name, f"got:  {got!r}\nwant: {want!r}")

    def skip(self, name, reason):
        self.n += 1
        print(f"ok {self.n} - {name} # SKIP {reason}", flush=True)

    def done(self):
        print(f"1..{self.n}", flush=True)
        sys.exit(1 if self.failed else 0)


def maildir(path):
    """Creates an empty Maildir at path."""
    for sub in ("new", "cur", "tmp"):
        os.makedirs(os.path.join(path, sub), exist_ok=True)
    return path


def put(md, name, data, sub="new"):
    """Writes one message file into md/sub/name."""
    if isinstance(data, str):
        data = data.encode()
    path = os.path.join(md, sub, name)
    with open(path, "wb") as f:
        f.write(data)
    return path


def files(md):
    """The message files of a Maildir, as "new/x" and "cur/y" names."""
    out = []
    for sub in ("new", "cur"):
        for f in sorted(os.listdir(os.path.join(md, sub))):
            out.append(sub + "/" + f)
    return out


def crlf(data):
    """The network form of message bytes: bare LF as CRLF, final CRLF."""
    if isinstance(data, str):
        data = data.encode()
    out = re.sub(rb"(?<!\r)\n", b"\r\n", data)
    if out and not out.endswith(b"\n"):
        out += b"\r\n"
    return out


def wait_for(pred, timeout=10):
    """Whether pred() comes true within timeout seconds, asked every
    50 ms."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pred():
            return True
        time.sleep(0.05)
    return pred()


def read_to_end(sock, timeout=10):
    """What sock receives until its peer closes it (a reset counts as
    closed): (data, True); or (data, False) when it stays open for
    timeout seconds."""
    sock.settimeout(timeout)
    data = b""
    try:
        while True:
            more = sock.recv(4096)
            if not more:
                return data, True
            data += more
    except ConnectionResetError:
        return data, True
    except socket.timeout:
        return data, False


def open_files(pid):
    """What pid holds open, as a count of each file: sockets and pipes
    by kind alone (their inodes change with every new one)."""
    out = collections.Counter()
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            what = os.readlink(f"/proc/{pid}/fd/{fd}")
        except OSError:
            continue
        out[re.sub(r"^(socket|pipe):\[\d+\]$", r"\1", what)] += 1
    return out


def sanitized(path=None):
    """Whether the binary at path (posternd by default) was built with
    AddressSanitizer (make check SANITIZE=1)."""
    with open(path or POSTERND, "rb") as f:
        return b"__asan_init" in f.read()


def socket_inode(server_port, client_port):
    """The inode of the server's end of a loopback TCP connection."""
    with open("/proc/net/tcp") as f:
        for line in f.readlines()[1:]:
            fields = line.split()
            local = int(fields[1].split(":")[1], 16)
            remote = int(fields[2].split(":")[1], 16)
            if local == server_port and remote == client_port:
                return fields[9]
    return None


def holders(inode):
    """Pids of the processes with a descriptor on socket inode."""
    out = []
    want = f"socket:[{inode}]"
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            for fd in os.listdir(f"/proc/{pid}/fd"):
                if os.readlink(f"/proc/{pid}/fd/{fd}") == want:
                    out.append(int(pid))
                    break
        except OSError:
            continue
    return out


def build_shim(name, dirname):
    """Compiles the LD_PRELOAD shim tests/shims/NAME.c into dirname; its
    path, or None without a compiler (a shim that does not compile is an
    error)."""
    cc = shutil.which("cc") or shutil.which("gcc")
    if cc is None:
        return None
    so = os.path.join(dirname, name + ".so")
    r = subprocess.run([cc, "-shared", "-fPIC", "-o", so,
                        os.path.join(TOP, "tests", "shims", name + ".c"),
                        "-ldl"], stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, text=True)
    if r.returncode != 0:
        raise RuntimeError(f"tests/shims/{name}.c: {r.stdout}")
    return so


def preload_env(env):
    """env for a run with an LD_PRELOAD shim: under AddressSanitizer
    (make check SANITIZE=1) the shim comes before ASan's runtime, which
    ASan refuses unless told not to check the order."""
    if "LD_PRELOAD" in (env or {}):
        asan = os.environ.get("ASAN_OPTIONS", "")
        env = dict(env, ASAN_OPTIONS=(asan + ":" if asan else "") +
                   "verify_asan_link_order=0")
    return env


class Server:
    """A posternd with its own directory, users "alice" and "bob"."""

    def __init__(self, users=None, settings=None, workers=2, env=None):
        self.dir = tempfile.mkdtemp(prefix="postern-test-")
        self.env = preload_env(env)     # added to posternd's environment
        self.users = users or {"alice": "wonderland", "bob": "builder"}
        self.settings = dict(workers=workers, auth_fail_delay=0,
                             shutdown_grace=2)
        if os.geteuid() == 0:
            # Privilege separation: sessions of accounts that name no
            # uid run as mail_user, so their Maildirs must be its.
            self.settings["mail_user"] = "nobody"
        # The global message-ID counter (own() gives it to mail_user).
        self.settings.setdefault("state_dir",
                                 os.path.join(self.dir, "home", "state"))
        os.makedirs(self.settings["state_dir"], exist_ok=True)
        self.settings.update(settings or {})
        self.proc = None
        self.log = []
        self.port = None
        self.conf = os.path.join(self.dir, "postern.conf")
        self.pidfile = os.path.join(self.dir, "posternd.pid")
        passwd = os.path.join(self.dir, "passwd")
        with open(passwd, "w") as f:
            for u, pw in self.users.items():
                home = os.path.join(self.dir, "home", u)
                maildir(os.path.join(home, "Maildir"))
                f.write(f"{u}:{{PLAIN}}{pw}::::{home}::\n")
        self.passwd = passwd
        self.write_conf()

    def maildir(self, user):
        return os.path.join(self.dir, "home", user, "Maildir")

    def write_conf(self, extra=""):
        lines = [f'passwd_file = "{self.passwd}"',
                 f'pidfile = "{self.pidfile}"',
                 'hostname = "test.example"']
        for k, v in self.settings.items():
            lines.append(f'{k} = "{v}"' if isinstance(v, str)
                         else f"{k} = {v}")
        lines.append('listen { protocol = "pop3" address = "127.0.0.1" '
                     'port = 0 }')
        with open(self.conf, "w") as f:
            f.write("\n".join(lines) + "\n" + extra)

    def start(self):
        self.own()
        self.proc = subprocess.Popen(
            [POSTERND, "-f", "-v", "-c", self.conf],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE, text=True,
            env=dict(os.environ, **self.env) if self.env else None)
        ready = threading.Event()

        def drain():
            for line in self.proc.stderr:
                self.log.append(line.rstrip("\n"))
                m = re.search(r"listening on 127\.0\.0\.1:(\d+) \(pop3\)",
                              line)
                if m and self.port is None:
                    self.port = int(m.group(1))
                if "started" in line and "workers" in line:
                    ready.set()
            ready.set()

        self.drainer = threading.Thread(target=drain, daemon=True)
        self.drainer.start()
        if not ready.wait(10) or self.port is None:
            self.stop()
            raise RuntimeError("posternd did not start:\n" +
                               "\n".join(self.log))
        return self

    def wait_log(self, pattern, timeout=5):
        """The first log line matching pattern, waiting up to timeout."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for line in list(self.log):
                if re.search(pattern, line):
                    return line
            time.sleep(0.05)
        return None

    def log_count(self, pattern, want, timeout=5):
        """How many log lines match pattern, once want of them have come
        or timeout has passed: the log arrives through a pipe that a
        thread drains, so a line the server wrote before its reply may
        not be here yet when the client has that reply."""
        deadline = time.monotonic() + timeout
        while True:
            n = len([x for x in list(self.log) if re.search(pattern, x)])
            if n >= want or time.monotonic() >= deadline:
                return n
            time.sleep(0.05)

    def own(self):
        """As root, gives the test tree to mail_user (nobody), so that
        session processes running as it can work in the Maildirs."""
        if os.geteuid() != 0:
            return
        import pwd
        pw = pwd.getpwnam("nobody")
        os.chmod(self.dir, 0o755)
        for root, dirs, names in os.walk(os.path.join(self.dir, "home")):
            os.chown(root, pw.pw_uid, pw.pw_gid)
            for n in names:
                os.chown(os.path.join(root, n), pw.pw_uid, pw.pw_gid)

    def children(self, parent):
        """Pids of parent's live children, from /proc."""
        out = []
        for pid in os.listdir("/proc"):
            if not pid.isdigit():
                continue
            try:
                with open(f"/proc/{pid}/stat") as f:
                    fields = f.read().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == parent and fields[0] != "Z":
                out.append(int(pid))
        return sorted(out)

    @staticmethod
    def title(pid):
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                return f.read().replace(b"\0", b" ").decode().strip()
        except OSError:
            return ""

    def workers(self):
        """Pids of the master's workers (not the auth process)."""
        return [p for p in self.children(self.proc.pid)
                if "posternd: auth" not in self.title(p)]

    def authd(self):
        """The auth process's pid, or None without privilege separation."""
        for p in self.children(self.proc.pid):
            if "posternd: auth" in self.title(p):
                return p
        return None

    def sessions(self):
        """Pids of the session processes (the auth process's children)."""
        a = self.authd()
        return self.children(a) if a else []

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.check_sanitizers()
        return self.proc.returncode if self.proc else None

    # What AddressSanitizer, LeakSanitizer and UBSan print when they find
    # something (make check SANITIZE=1).
    SANITIZER_REPORT = re.compile(r"ERROR: \w*Sanitizer|runtime error:")

    def check_sanitizers(self):
        """Fails a test when posternd or any process it forked wrote a
        sanitizer report: a worker's report is only in this log.  Once
        per server, after it has exited; True when the log is clean."""
        if getattr(self, "sanitizers_checked", False) or \
                self.proc is None or self.proc.poll() is None:
            return True
        self.sanitizers_checked = True
        drainer = getattr(self, "drainer", None)
        if drainer is not None:
            drainer.join(5)     # the rest of the log, up to its EOF
        first = next((i for i, line in enumerate(self.log)
                      if self.SANITIZER_REPORT.search(line)), None)
        if first is None:
            return True
        name = "posternd and its children wrote no sanitizer report"
        detail = "\n".join(self.log[first:first + 60])
        if Tap.current is not None:
            Tap.current.ok(False, name, detail)
        else:
            print(f"not ok - {name}", flush=True)
            print("\n".join("#   " + line for line in detail.splitlines()),
                  flush=True)
        return False

    def cleanup(self):
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)

    def client(self):
        return Client(self.port)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.cleanup()


class Client:
    """A raw POP3 client: send lines, read replies exactly."""

    def __init__(self, port, host="127.0.0.1", timeout=10):
        self.sock = socket.create_connection((host, port), timeout=timeout)
        self.buf = b""
        self.greeting = self.line()

    def send(self, data):
        if isinstance(data, str):
            data = data.encode()
        self.sock.sendall(data)

    def line(self):
        """One reply line without its CRLF, as str ("" at EOF)."""
        while b"\r\n" not in self.buf:
            chunk = self.sock.recv(65536)
            if not chunk:
                rest, self.buf = self.buf, b""
                return rest.decode("latin-1")
            self.buf += chunk
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line.decode("latin-1")

    def cmd(self, line):
        self.send(line + "\r\n")
        return self.line()

    def multi(self):
        """The body of a multi-line reply, un-stuffed, as bytes with
        CRLF line ends (without the terminating ".")."""
        out = []
        while True:
            while b"\r\n" not in self.buf:
                chunk = self.sock.recv(65536)
                if not chunk:
                    raise EOFError("connection closed in multi-line reply")
                self.buf += chunk
            line, self.buf = self.buf.split(b"\r\n", 1)
            if line == b".":
                return b"".join(out)
            if line.startswith(b"."):
                line = line[1:]
            out.append(line + b"\r\n")

    def raw_until_dot(self):
        """The bytes of a multi-line reply as sent, terminator included."""
        while b"\r\n.\r\n" not in self.buf:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise EOFError("connection closed in multi-line reply")
            self.buf += chunk
        i = self.buf.index(b"\r\n.\r\n") + 5
        data, self.buf = self.buf[:i], self.buf[i:]
        return data

    def closed(self, timeout=5):
        """Whether the server closes the connection within timeout."""
        self.sock.settimeout(timeout)
        try:
            while True:
                chunk = self.sock.recv(65536)
                if not chunk:
                    return True
                self.buf += chunk
        except (socket.timeout, ConnectionResetError):
            return False

    def login(self, user="alice", password="wonderland"):
        r1 = self.cmd(f"USER {user}")
        r2 = self.cmd(f"PASS {password}")
        return r1, r2

    def close(self):
        self.sock.close()
