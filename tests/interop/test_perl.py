#!/usr/bin/env python3
"""test_perl.py: Perl's Net::POP3 and Mail::POP3Client against the real
posternd: login, list, get every message, UIDL, delete, a refused login.
The Perl side is a small script written to a temporary file.
"""
import os
import re
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(__file__))
from common import (PASSWORD, USER, Server, Tap, bases,  # noqa: E402
                    compare, exits, missing, run, seed)
from postern import crlf  # noqa: E402

t = Tap()

# argv: port user password outdir mode.  Prints "count N", "size I S"
# and "uidl I U" lines; writes message I to outdir/I.  mode "dele1"
# deletes message 1 and quits; "bad" only tries to log in.
NET_POP3 = r'''
use strict;
use warnings;
use Net::POP3;
my ($port, $user, $pass, $dir, $mode) = @ARGV;
my $pop = Net::POP3->new("127.0.0.1", Port => $port, Timeout => 20)
    or die "connect: $@\n";
my $n = $pop->login($user, $pass);
if ($mode eq "bad") {
    print defined($n) ? "login ok\n" : "login refused\n";
    $pop->quit;
    exit 0;
}
defined $n or die "login failed: " . $pop->message;
print "count ", $n + 0, "\n";
if ($mode eq "dele1") {
    $pop->delete(1) or die "delete: " . $pop->message;
    $pop->quit or die "quit: " . $pop->message;
    exit 0;
}
my $sizes = $pop->list or die "list: " . $pop->message;
print "size $_ $sizes->{$_}\n" for sort { $a <=> $b } keys %$sizes;
my $uidl = $pop->uidl or die "uidl: " . $pop->message;
print "uidl $_ $uidl->{$_}\n" for sort { $a <=> $b } keys %$uidl;
for my $i (sort { $a <=> $b } keys %$sizes) {
    my $lines = $pop->get($i) or die "get $i: " . $pop->message;
    open(my $f, ">:raw", "$dir/$i") or die "$dir/$i: $!";
    print $f @$lines;
    close($f) or die "$dir/$i: $!";
}
$pop->quit or die "quit: " . $pop->message;
'''

# argv: port user password outdir.  Prints "count N" and "size I S";
# writes message I to outdir/I as HeadAndBody returns it.
POP3CLIENT = r'''
use strict;
use warnings;
use Mail::POP3Client;
my ($port, $user, $pass, $dir) = @ARGV;
my $pop = Mail::POP3Client->new(USER => $user, PASSWORD => $pass,
    HOST => "127.0.0.1", PORT => $port, TIMEOUT => 20)
    or die "new: $!\n";
my $n = $pop->Count;
$n >= 0 or die "login failed: " . $pop->Message;
print "count $n\n";
for my $l ($pop->List) {
    $l =~ s/\s+$//;    # List keeps the line's CRLF
    print "size $l\n";
}
for my $i (1 .. $n) {
    my $m = $pop->HeadAndBody($i);
    defined $m or die "HeadAndBody $i: " . $pop->Message;
    open(my $f, ">:raw", "$dir/$i") or die "$dir/$i: $!";
    print $f $m;
    close($f) or die "$dir/$i: $!";
}
$pop->Close or die "close: " . $pop->Message;
'''


def has_module(name):
    return subprocess.run(["perl", f"-M{name}", "-e", "1"],
                          stdout=subprocess.DEVNULL,
                          stderr=subprocess.DEVNULL).returncode == 0


def perl(work, name, script, *args):
    path = os.path.join(work, name + ".pl")
    with open(path, "w") as f:
        f.write(script)
    return run(["perl", path, *map(str, args)])


def received(out):
    """The messages written to out, by number."""
    return {int(n): open(os.path.join(out, n), "rb").read()
            for n in os.listdir(out)}


def net_pop3(work):
    if not has_module("Net::POP3"):
        t.skip("Net::POP3", "Perl's Net::POP3 not installed")
        return
    with Server() as srv:
        md, seeded = seed(srv)
        names = [n for n, _ in seeded]
        out = os.path.join(work, "net")
        os.mkdir(out)
        rc, text = perl(work, "net", NET_POP3, srv.port, USER, PASSWORD,
                        out, "all")
        exits(t, "Net::POP3: the session script exits 0", rc, text)
        t.ok(f"count {len(seeded)}\n" in text, "Net::POP3: login returns "
             "the message count", text)
        sizes = "".join(f"size {i} {len(crlf(m))}\n"
                        for i, (_, m) in enumerate(seeded, 1))
        t.ok(sizes in text, "Net::POP3: list returns every size", text)
        uidls = re.findall(r"^uidl (\d+) (\S+)$", text, re.M)
        t.eq(len({u for _, u in uidls}), len(seeded), "Net::POP3: uidl "
             "returns distinct ids")
        got = received(out)
        for i, (_, want) in enumerate(seeded, 1):
            compare(t, f"Net::POP3: get {i} intact", got.get(i, b""), want)
        t.eq(bases(md), names, "Net::POP3: get keeps every message")

        rc, text = perl(work, "net", NET_POP3, srv.port, USER, PASSWORD,
                        out, "dele1")
        exits(t, "Net::POP3: delete 1 and quit exits 0", rc, text)
        t.eq(bases(md), names[1:], "Net::POP3: delete 1 removes message 1 "
             "only")

        rc, text = perl(work, "net", NET_POP3, srv.port, USER, "wrong",
                        out, "bad")
        t.eq(text.strip(), "login refused", "Net::POP3: a wrong password is "
             "refused")


def pop3client(work):
    if not has_module("Mail::POP3Client"):
        t.skip("Mail::POP3Client", "libmail-pop3client-perl not installed")
        return
    with Server() as srv:
        md, seeded = seed(srv)
        names = [n for n, _ in seeded]
        out = os.path.join(work, "client")
        os.mkdir(out)
        rc, text = perl(work, "client", POP3CLIENT, srv.port, USER,
                        PASSWORD, out)
        exits(t, "Mail::POP3Client: the session script exits 0", rc, text)
        sizes = "".join(f"size {i} {len(crlf(m))}\n"
                        for i, (_, m) in enumerate(seeded, 1))
        t.ok(f"count {len(seeded)}\n" + sizes in text, "Mail::POP3Client: "
             "Count and List", text)
        got = received(out)
        for i, (_, want) in enumerate(seeded, 1):
            compare(t, f"Mail::POP3Client: HeadAndBody {i} intact",
                    got.get(i, b""), want)
        t.eq(bases(md), names, "Mail::POP3Client: every message stays")


def main():
    if missing(t, "perl", ["Net::POP3", "Mail::POP3Client"]):
        t.done()
    with tempfile.TemporaryDirectory(prefix="postern-perl-") as work:
        net_pop3(work)
        pop3client(work)
    t.done()


main()
