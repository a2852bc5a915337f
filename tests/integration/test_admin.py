#!/usr/bin/env python3
"""test_admin.py: postern(1)'s hash, check, status and version with bad
options and input, and the errors of postern.conf(5) that postern check
reports: integer settings at and past the bounds the manual gives, the
other documented refusals, the 1 MiB size limit, comments and escapes.

Each check compares the exact exit status and output.
"""
import os
import re
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from postern import POSTERN, Tap  # noqa: E402

t = Tap()

USAGE = ("usage: postern hash\n"
         "       postern check [-c file]\n"
         "       postern deliver [-d] [-c file] [-f sender] [-m folder] "
         "user\n"
         "       postern version\n"
         "       postern status [-c file]\n")

LISTEN = 'listen { protocol = "pop3" address = "::1" }\n'


def postern(args, stdin=b""):
    """Runs build/postern; returns (exit status, stdout, stderr)."""
    p = subprocess.run([POSTERN] + args, input=stdin, capture_output=True,
                       timeout=30)
    return (p.returncode, p.stdout.decode("latin-1"),
            p.stderr.decode("latin-1"))


def hash_refusals():
    """postern hash refuses what postern(1) says, on stdin, with one
    line on stderr and nothing on stdout."""
    cases = [
        (b"", "no password on stdin"),
        (b"\n", "empty password refused"),
        # The CR before the LF is dropped: the password is empty.
        (b"\r\n", "empty password refused"),
        (b"a" * 1025 + b"\n", "password longer than 1024 octets refused"),
        (b"a\0b\n", "the password contains a NUL"),
    ]
    for data, why in cases:
        got = postern(["hash"], data)
        t.eq(got, (1, "", f"postern: {why}\n"),
             f"postern hash of {data[:12]!r}: {why}")
    got = postern(["hash", "x"])
    t.eq(got, (64, "", USAGE), "postern hash with an operand: usage, 64")
    # Without a final new line the password is the whole input.
    rc, out, err = postern(["hash"], b"s3cret")
    t.ok(rc == 0 and out.startswith("$") and out.endswith("\n") and
         out.count("\n") == 1 and err == "",
         "postern hash takes a password without a new line", (rc, out, err))
    if sys.platform.startswith("linux"):
        # libxcrypt's crypt(3) takes at most 511 octets (postern(1)).
        rc, out, err = postern(["hash"], b"a" * 511 + b"\n")
        t.ok(rc == 0 and out.startswith("$") and err == "",
             "postern hash of 511 octets", (rc, out, err))
        got = postern(["hash"], b"a" * 512 + b"\n")
        t.eq(got, (1, "", "postern: password too long for crypt(3)\n"),
             "postern hash of 512 octets: too long for crypt(3)")
    else:
        t.skip("postern hash at crypt(3)'s limit", "libxcrypt's limit")


def version_and_usage():
    """postern version, and the usage errors of every command."""
    rc, out, err = postern(["version"])
    t.ok(rc == 0 and err == "" and
         re.fullmatch(r"postern \d+\.\d+\.\d+\n", out),
         "postern version prints its version", (rc, out, err))
    t.eq(postern(["version", "x"]), (64, "", USAGE),
         "postern version with an operand: usage, 64")
    t.eq(postern(["bogus"]), (64, "", USAGE),
         "an unknown command: usage, 64")
    for cmd in ("check", "status"):
        t.eq(postern([cmd, "-x"]),
             (64, "", "postern: unknown option -x\n" + USAGE),
             f"postern {cmd} -x: unknown option, 64")
        t.eq(postern([cmd, "-c"]),
             (64, "", "postern: option -c needs a file name\n" + USAGE),
             f"postern {cmd} -c without a file: 64")
        t.eq(postern([cmd, "-c", "/dev/null", "x"]), (64, "", USAGE),
             f"postern {cmd} with an operand: usage, 64")


def status_without_server(d):
    """postern status, exit 1 with the reason, when there is no
    posternd to show."""
    conf = os.path.join(d, "status.conf")
    pidfile = os.path.join(d, "posternd.pid")
    with open(conf, "w") as f:
        f.write(f'pidfile = ""\npasswd_file = "{d}/passwd"\n' + LISTEN)
    t.eq(postern(["status", "-c", conf]),
         (1, "", f"postern: status: {conf} sets no pidfile: posternd "
          "cannot be found\n"), "status: a configuration with no pidfile")
    with open(conf, "w") as f:
        f.write(f'pidfile = "{pidfile}"\npasswd_file = "{d}/passwd"\n' +
                LISTEN)
    t.eq(postern(["status", "-c", conf]),
         (1, "", f"postern: status: {pidfile}: No such file or directory "
          "(is posternd running?)\n"), "status: no pidfile")
    for text in ("", "x\n", "12x\n", "1\n", "-5\n", "99999999999\n"):
        with open(pidfile, "w") as f:
            f.write(text)
        t.eq(postern(["status", "-c", conf]),
             (1, "", f"postern: status: {pidfile} holds no process id\n"),
             f"status: a pidfile holding {text!r}")
    # A stale pidfile: its process (this script) is no posternd.
    with open(pidfile, "w") as f:
        f.write(f"{os.getpid()}\n")
    t.eq(postern(["status", "-c", conf]),
         (1, "", f"postern: status: no scoreboard for posternd "
          f"{os.getpid()} (not running?)\n"), "status: a stale pidfile")


# Integer settings and their bounds as postern.conf(5) gives them, with
# what the other settings need for the bound itself to be valid.
BOUNDS = [
    ("workers", 1, 1024, ""),
    ("min_spare", 1, 1024, "max_spare = 1024\nmax_workers = 1024\n"),
    ("max_spare", 1, 1024, "min_spare = 1\n"),
    ("max_workers", 1, 1024, "workers = 1\nmin_spare = 1\n"),
    ("max_local_workers", 1, 256, ""),
    ("max_sessions_per_worker", 0, 1000000000, ""),
    ("max_connections", 1, 65536, ""),
    ("max_connections_per_ip", 0, 65536, ""),
    ("max_sessions_per_user", 0, 65536, ""),
    ("max_session_time", 0, 604800, ""),
    ("shutdown_grace", 0, 3600, ""),
    ("mail_workers", 0, 1024, ""),
    ("first_valid_uid", 1, 2147483647, ""),
    ("login_timeout", 1, 86400, ""),
    ("idle_timeout", 600, 86400, ""),
    ("lmtp_idle_timeout", 1, 86400, ""),
    ("max_line_length", 64, 65536, ""),
    ("max_bad_commands", 1, 1000, ""),
    ("auth_fail_delay", 0, 60, ""),
    ("auth_fail_delay_max", 0, 60, ""),
    ("max_auth_failures", 1, 100, ""),
    ("lmtp_max_message_size", 1024, 2147483647, ""),
    ("papm_max_message_size", 1024, 2147483647, ""),
    ("mrp_create_rate", 1, 1000, ""),
    ("proxy_timeout", 3, 60, ""),
]


def check(d, text, listen=True):
    """postern check of a file of text (with a passwd-file and, unless
    listen is false, a listen section); (status, stdout, stderr, path)."""
    conf = os.path.join(d, "c.conf")
    with open(conf, "w") as f:
        f.write(f'passwd_file = "{d}/passwd"\n' + text +
                (LISTEN if listen else ""))
    return postern(["check", "-c", conf]) + (conf,)


def bounds(d):
    """Each bound is taken and one past it refused, as the manual says;
    the refusal names the file and line (line 2: the passwd_file line
    comes first)."""
    for name, lo, hi, extra in BOUNDS:
        for v in (lo, hi):
            rc, out, err, _ = check(d, f"{name} = {v}\n{extra}")
            t.ok(rc == 0 and f"\n{name} = {v}\n" in out and err == "",
                 f"{name} = {v} is taken", (rc, err))
        for v in (lo - 1, hi + 1):
            rc, out, err, conf = check(d, f"{name} = {v}\n{extra}")
            t.eq((rc, out, err), (1, "", f"{conf}:2: {name} must be from "
                                  f"{lo} to {hi}, not {v}\n"),
                 f"{name} = {v} is refused")
    for v in (0, 65535):
        rc, out, err, _ = check(d, f'listen {{ protocol = "pop3" '
                                f'port = {v} }}\n', listen=False)
        t.ok(rc == 0 and f"\tport = {v}\n" in out and err == "",
             f"listen port = {v} is taken", (rc, err))
    for v in (-1, 65536):
        rc, out, err, conf = check(d, f'listen {{ protocol = "pop3" '
                                   f'port = {v} }}\n', listen=False)
        t.eq((rc, out, err), (1, "", f"{conf}:2: port must be from 0 to "
                              f"65535, not {v}\n"),
             f"listen port = {v} is refused")
    # 010 is octal, 0x10 hexadecimal (postern.conf(5)).
    rc, out, err, _ = check(d, "workers = 010\nmax_spare = 0x10\n")
    t.ok(rc == 0 and "\nworkers = 8\n" in out and
         "\nmax_spare = 16\n" in out, "010 is 8 and 0x10 is 16", err)


def refusals(d):
    """The other refusals of postern.conf(5), each with its reason."""
    long_name = "s" * 65
    cases = [
        ('passdb = "ldap"\n',
         ':2: passdb must be passwd-file or system, not "ldap"'),
        (f'pam_service = "{long_name}"\n',
         ":2: pam_service must be at most 64 printable ASCII characters"),
        ('pam_service = "a\\tb"\n',
         ":2: pam_service must be at most 64 printable ASCII characters"),
        ('pop3_implementation = "x\\ny"\n', ":2: pop3_implementation must "
         "be at most 64 printable ASCII characters"),
        ('state_dir = "var/lib/postern"\n',
         ':2: state_dir must be an absolute path, not "var/lib/postern"'),
        ('papm_helo_domains = "a.example;b.example"\n',
         ":2: papm_helo_domains must list domain names, not "
         '"a.example;b.example"'),
        ('papm_relay_command = "sendmail -t"\n', ":2: papm_relay_command "
         'must start with an absolute path, not "sendmail -t"'),
        ('tls_key = "key.pem"\n',
         ':2: tls_key must be an absolute path, not "key.pem"'),
        ('tls_ciphers = ""\n', ": tls_ciphers is empty"),
        ('lmtp_temp_dir = ""\n', ": lmtp_temp_dir is empty"),
        ("mrp_create = true\n",
         ": mrp_create needs mrp_create_home, an absolute path"),
        ('mrp_create = true\nmrp_create_home = "home"\n',
         ": mrp_create needs mrp_create_home, an absolute path"),
        ('user = ""\n', ": user must be set and chroot absolute"),
        ('chroot = "var/empty"\n', ": user must be set and chroot absolute"),
        ("workers = 300\nmax_workers = 200\n", ": workers (300) and "
         "min_spare (2) must not exceed max_workers (200)"),
        ("min_spare = 5\nmax_spare = 4\n",
         ": max_spare (4) must be at least min_spare (5)"),
    ]
    for text, why in cases:
        rc, out, err, conf = check(d, text)
        t.eq((rc, out, err), (1, "", conf + why + "\n"),
             f"refused: {text.strip()!r}")
    rc, out, err, conf = check(d, 'passwd_file = ""\n')
    t.eq((rc, out, err), (1, "", f"{conf}: passwd_file is empty\n"),
         "refused: an empty passwd_file")
    rc, out, err, _ = check(d, f'pam_service = "{long_name[1:]}"\n')
    t.ok(rc == 0 and f'pam_service = "{long_name[1:]}"' in out,
         "a pam_service of 64 characters is taken", err)
    rc, out, err, conf = check(d, 'listen { address = "::1" }\n',
                               listen=False)
    t.eq((rc, out, err), (1, "", f"{conf}: listen section 1 has no "
                          "protocol\n"), "a listen section needs a protocol")
    many = "".join(f'listen {{ protocol = "pop3" port = {1000 + i} }}\n'
                   for i in range(64))
    rc, out, err, conf = check(d, many, listen=False)
    t.ok(rc == 0 and out.count("listen {") == 64 and err == "",
         "64 listen sections are taken", err)
    rc, out, err, conf = check(d, many + 'listen { protocol = "pop3" }\n',
                               listen=False)
    t.eq((rc, out, err), (1, "", f"{conf}: more than 64 listen sections\n"),
         "65 listen sections are refused")


def syntax(d):
    """The 1 MiB limit, block comments and string escapes."""
    pad = 1024 * 1024 - len(f'passwd_file = "{d}/passwd"\n' + LISTEN)
    rc, out, err, _ = check(d, "#" * (pad - 1) + "\n")
    t.ok(rc == 0 and err == "", "a file of 1 MiB is taken", err)
    rc, out, err, conf = check(d, "#" * pad + "\n")
    t.eq((rc, out, err), (1, "", f"{conf}: File too large\n"),
         "a file of 1 MiB and one octet is refused")
    # A block comment over two lines keeps the line numbers right.
    rc, out, err, conf = check(d, "/* a\n b */ workers = 0\n")
    t.eq((rc, out, err), (1, "", f"{conf}:3: workers must be from 1 to "
                          "1024, not 0\n"), "a block comment spans lines")
    # Inside quotes "/*" and "#" are text, not comments.
    rc, out, err, conf = check(d, 'hostname = "a/*b#c" workers = 0\n')
    t.eq((rc, out, err), (1, "", f"{conf}:2: workers must be from 1 to "
                          "1024, not 0\n"), "no comment inside quotes")
    # An unclosed block comment runs to the end of the file.
    rc, out, err, _ = check(d, LISTEN + "/* workers = 0\n", listen=False)
    t.ok(rc == 0 and "\nworkers = 4\n" in out,
         "an unclosed block comment runs to the end", err)
    # Quotes, backslashes and '$' are printed escaped, and read back.
    rc, out, err, _ = check(d, 'hostname = "a\\"b\\\\c$d"\n'
                            "pop3_implementation = 'x\\'y'\n")
    want = ('hostname = "a\\"b\\\\c\\$d"\n',
            "pop3_implementation = \"x'y\"\n")
    t.ok(rc == 0 and all(w in out for w in want),
         "postern check escapes what it prints", out)
    again = os.path.join(d, "again.conf")
    with open(again, "w") as f:
        f.write(out)
    rc2, out2, err2 = postern(["check", "-c", again])
    t.eq((rc2, out2.split("\n", 1)[1], err2), (0, out.split("\n", 1)[1], ""),
         "and its output reads back as the same settings")


def main():
    d = tempfile.mkdtemp(prefix="postern-admin-")
    try:
        open(os.path.join(d, "passwd"), "w").close()
        hash_refusals()
        version_and_usage()
        status_without_server(d)
        bounds(d)
        refusals(d)
        syntax(d)
    finally:
        shutil.rmtree(d, ignore_errors=True)
    t.done()


main()
