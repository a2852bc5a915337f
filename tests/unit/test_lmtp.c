/*
 * test_lmtp.c: the LMTP module's replies, command by command, with their
 * error cases, and what lands in the Maildirs.  A forked child runs
 * lmtp_protocol.serve() on one end of a socketpair with a temporary
 * passwd-file and Maildirs; the test speaks LMTP on the other end.
 */
#include <sys/socket.h>
#include <sys/stat.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tests/unit/unit.h"

#include "protocols/protocol.h"
#include "server/io.h"
#include "server/log.h"
#include "server/session.h"
#include "storage/maildir.h"
#include "tests/unit/fixture.h"

/* The users of the passwd-file; "broken" has no tmp/, "nob" runs as
 * nobody (65534). */
static const char *const USERS[] = { "alice", "bob", "carol@example.org",
	"broken", "nob" };

/* hello: reads the greeting and says LHLO. */
static void
hello(struct fixture *f)
{
	assert_string_equal(line(f), "220 test.example LMTP Postern ready");
	assert_string_equal(cmd(f, "LHLO client.example"),
	    "250-test.example");
	assert_string_equal(line(f), "250-PIPELINING");
	assert_string_equal(line(f), "250-ENHANCEDSTATUSCODES");
	assert_string_equal(line(f), "250-8BITMIME");
	assert_string_equal(line(f), "250 SIZE 100000");
}

/* delivered: the text of the one message in u's new/ (static buffer),
 * after checking its name against the reply and its sizes. */
static const char *
delivered(struct fixture *f, const char *u, const char *reply)
{
	static char	 text[131072];
	char		 path[1024], name[512];
	DIR		*d;
	struct dirent	*e;
	struct stat	 st;
	off_t		 s, w, counted;
	ssize_t		 n;
	int		 fd;

	assert_int_equal(count(maildir_of(f, u), "new"), 1);
	snprintf(path, sizeof(path), "%s/new", maildir_of(f, u));
	assert_non_null(d = opendir(path));
	while ((e = readdir(d)) != NULL)
		if (e->d_name[0] != '.')
			strlcpy(name, e->d_name, sizeof(name));
	closedir(d);
	if (reply != NULL)
		assert_non_null(strstr(reply, name));
	snprintf(path, sizeof(path), "%s/new/%s", maildir_of(f, u), name);
	assert_true((fd = open(path, O_RDONLY)) != -1);
	assert_int_equal(fstat(fd, &st), 0);
	maildir_name_sizes(name, strlen(name), &s, &w);
	assert_int_equal(s, st.st_size);
	assert_int_equal(maildir_count_size(fd, &counted), 0);
	assert_int_equal(w, counted);
	assert_int_equal(lseek(fd, 0, SEEK_SET), 0);
	n = read(fd, text, sizeof(text) - 1);
	assert_true(n >= 0);
	text[n] = '\0';
	close(fd);
	assert_int_equal(unlink(path), 0);
	return text;
}

/* nobody_entry: gives one entry of a tree to nobody (nftw callback). */
static int
nobody_entry(const char *p, const struct stat *st, int type,
    struct FTW *ftw)
{
	return lchown(p, 65534, 65534);
}

/* setup: the accounts of USERS and toor (uid 0, alice's home). */
static int
setup(void **state)
{
	struct fixture	*f = fx_new("lmtp");
	char		 path[PATH_MAX + 128];
	size_t		 i;

	for (i = 0; i < sizeof(USERS) / sizeof(USERS[0]); i++)
		account(f, USERS[i], "x", strcmp(USERS[i], "nob") == 0 ?
		    "65534:65534" : NULL);
	snprintf(path, sizeof(path), "%s/tmp", maildir_of(f, "broken"));
	assert_int_equal(rmdir(path), 0);
	snprintf(path, sizeof(path), "toor:{PLAIN}x:0:0::%s/alice::", f->home);
	passwd_add(f, path);
	f->conf.mail_user = "";
	if (geteuid() == 0) {
		/* As posternd started as root: accounts naming no uid are
		 * delivered to as mail_user, here nobody (65534). */
		f->conf.privsep = true;
		f->conf.mail_user = "nobody";
		f->conf.mail_uid = 65534;
		f->conf.mail_gid = 65534;
		assert_int_equal(nftw(f->home, nobody_entry, 16, FTW_PHYS), 0);
	}
	f->conf.lmtp_max_message_size = 100000;
	f->conf.lmtp_temp_dir = "/tmp";
	*state = f;
	return 0;
}

/* The greeting, LHLO's list, and the small commands. */
static void
test_session(void **state)
{
	struct fixture	*f = *state;

	start(f);
	hello(f);
	assert_string_equal(cmd(f, "NOOP"), "250 2.0.0 OK");
	assert_string_equal(cmd(f, "noop"), "250 2.0.0 OK");
	assert_string_equal(cmd(f, "RSET"), "250 2.0.0 OK");
	assert_string_equal(cmd(f, "VRFY alice"), "252 2.5.0 cannot VRFY "
	    "user, but will accept message and attempt delivery");
	assert_string_equal(cmd(f, "HELP"), "214 2.0.0 commands: LHLO MAIL "
	    "RCPT DATA RSET NOOP QUIT VRFY HELP");
	assert_string_equal(cmd(f, "QUIT"),
	    "221 2.0.0 test.example closing connection");
	assert_string_equal(line(f), "");	/* closed */
}

/* Commands out of order, unknown, or with bad arguments. */
static void
test_errors(void **state)
{
	struct fixture	*f = *state;

	start(f);
	assert_string_equal(line(f), "220 test.example LMTP Postern ready");
	assert_string_equal(cmd(f, "MAIL FROM:<a@b>"),
	    "503 5.5.1 send LHLO first");
	assert_string_equal(cmd(f, "HELO x"),
	    "500 5.5.1 this is LMTP: use LHLO");
	assert_string_equal(cmd(f, "EHLO x"),
	    "500 5.5.1 this is LMTP: use LHLO");
	assert_string_equal(cmd(f, "LHLO"), "501 5.5.4 LHLO needs a host "
	    "name");
	assert_string_equal(cmd(f, "STARTTLS"), "500 5.5.1 unknown command");
	assert_string_equal(cmd(f, ""), "500 5.5.1 unknown command");
	assert_string_equal(cmd(f, "LHLO x"), "250-test.example");
	while (strncmp(line(f), "250 ", 4) != 0)
		;
	assert_string_equal(cmd(f, "RCPT TO:<alice>"),
	    "503 5.5.1 need MAIL before RCPT");
	assert_string_equal(cmd(f, "DATA"), "503 5.5.1 need MAIL before DATA");
	assert_string_equal(cmd(f, "MAIL FROM:a@b"),
	    "501 5.5.4 syntax: MAIL FROM:<address>");
	assert_string_equal(cmd(f, "MAIL TO:<a@b>"),
	    "501 5.5.4 syntax: MAIL FROM:<address>");
	assert_string_equal(cmd(f, "MAIL FROM:<a b>"),
	    "501 5.5.4 syntax: MAIL FROM:<address>");
	assert_string_equal(cmd(f, "MAIL FROM:<a@b>x"),
	    "501 5.5.4 syntax: MAIL FROM:<address>");
	assert_string_equal(cmd(f, "MAIL FROM:<a@b> FOO=1"),
	    "555 5.5.4 unsupported parameter");
	assert_string_equal(cmd(f, "MAIL FROM:<a@b> BODY=BINARYMIME"),
	    "501 5.5.4 bad BODY parameter");
	assert_string_equal(cmd(f, "MAIL FROM:<a@b> SIZE=x1"),
	    "501 5.5.4 bad SIZE parameter");
	assert_string_equal(cmd(f, "MAIL FROM:<a@b> SIZE=100001"),
	    "552 5.3.4 message size exceeds fixed maximum message size");
	assert_string_equal(cmd(f, "MAIL FROM:<a@b> SIZE=100000 "
	    "BODY=8BITMIME"), "250 2.1.0 sender <a@b> OK");
	assert_string_equal(cmd(f, "MAIL FROM:<a@b>"),
	    "503 5.5.1 nested MAIL command");
	assert_string_equal(cmd(f, "DATA"),
	    "503 5.5.1 need a valid RCPT before DATA");
	assert_string_equal(cmd(f, "RCPT TO:<>"),
	    "501 5.5.4 syntax: RCPT TO:<address>");
	assert_string_equal(cmd(f, "RCPT TO:alice"),
	    "501 5.5.4 syntax: RCPT TO:<address>");
	assert_string_equal(cmd(f, "RCPT TO:<alice> NOTIFY=NEVER"),
	    "555 5.5.4 unsupported parameter");
	assert_string_equal(cmd(f, "RCPT TO:<mallory@example.org>"),
	    "550 5.1.1 <mallory@example.org> unknown user");
	assert_string_equal(cmd(f, "RCPT TO:<toor>"),
	    "550 5.7.1 <toor> delivery as uid 0 refused");
	assert_string_equal(cmd(f, "DATA"),
	    "503 5.5.1 need a valid RCPT before DATA");
	assert_string_equal(cmd(f, "RCPT TO:<alice>"),
	    "250 2.1.5 <alice> OK");
	assert_string_equal(cmd(f, "DATA now"),
	    "501 5.5.4 DATA takes no argument");
	/* RSET drops the transaction; LHLO does too. */
	assert_string_equal(cmd(f, "RSET"), "250 2.0.0 OK");
	assert_string_equal(cmd(f, "RCPT TO:<alice>"),
	    "503 5.5.1 need MAIL before RCPT");
	assert_string_equal(cmd(f, "MAIL FROM:<>"),
	    "250 2.1.0 sender <> OK");
	assert_string_equal(cmd(f, "QUIT"),
	    "221 2.0.0 test.example closing connection");
	assert_int_equal(count(maildir_of(f, "alice"), "new"), 0);
	assert_int_equal(count(maildir_of(f, "alice"), "tmp"), 0);
}

/* One message to one recipient: headers added, dot-stuffing undone,
 * CRLF stored as LF. */
static void
test_deliver_one(void **state)
{
	struct fixture	*f = *state;
	const char	*text;
	char		 reply[1024];

	start(f);
	hello(f);
	assert_string_equal(cmd(f, "MAIL FROM:<sender@example.org>"),
	    "250 2.1.0 sender <sender@example.org> OK");
	assert_string_equal(cmd(f, "RCPT TO:<alice@example.org>"),
	    "250 2.1.5 <alice@example.org> OK");
	assert_string_equal(cmd(f, "DATA"), "354 2.0.0 send the message, "
	    "ending with \".\" on a line by itself");
	text = "Subject: dots\r\n\r\n..\r\n...two\r\n.x\r\nend\r\n.\r\n";
	sendall(f, text, strlen(text));
	strlcpy(reply, line(f), sizeof(reply));
	assert_true(strncmp(reply, "250 2.0.0 <alice@example.org> delivered "
	    "as ", 41) == 0);
	assert_string_equal(delivered(f, "alice", reply),
	    "Return-Path: <sender@example.org>\n"
	    "Delivered-To: <alice@example.org>\n"
	    "Subject: dots\n\n.\n..two\nx\nend\n");
	assert_int_equal(count(maildir_of(f, "alice"), "tmp"), 0);
	/* The transaction is over: a new MAIL is needed. */
	assert_string_equal(cmd(f, "RCPT TO:<alice>"),
	    "503 5.5.1 need MAIL before RCPT");
	/* An empty message gets the headers only. */
	assert_string_equal(cmd(f, "MAIL FROM:<>"), "250 2.1.0 sender <> OK");
	assert_string_equal(cmd(f, "RCPT TO:<alice>"), "250 2.1.5 <alice> OK");
	assert_string_equal(cmd(f, "DATA"), "354 2.0.0 send the message, "
	    "ending with \".\" on a line by itself");
	strlcpy(reply, cmd(f, "."), sizeof(reply));
	assert_string_equal(delivered(f, "alice", reply),
	    "Return-Path: <>\nDelivered-To: <alice>\n");
	assert_string_equal(cmd(f, "QUIT"),
	    "221 2.0.0 test.example closing connection");
}

/* What test_recipients delivers to %s. */
#define WANT	"Return-Path: <s@x>\nDelivered-To: <%s>\nSubject: hi\n\nhello\n"

/* Two recipients found, one unknown, one whose delivery fails: one
 * reply per accepted recipient, in order. */
static void
test_recipients(void **state)
{
	struct fixture	*f = *state;
	const char	*msg = "Subject: hi\r\n\r\nhello\r\n.\r\n";
	char		 reply[1024], text[256];

	start(f);
	hello(f);
	assert_string_equal(cmd(f, "MAIL FROM:<s@x>"),
	    "250 2.1.0 sender <s@x> OK");
	assert_string_equal(cmd(f, "RCPT TO:<alice@example.org>"),
	    "250 2.1.5 <alice@example.org> OK");
	assert_string_equal(cmd(f, "RCPT TO:<nobody@example.org>"),
	    "550 5.1.1 <nobody@example.org> unknown user");
	assert_string_equal(cmd(f, "RCPT TO:<carol@example.org>"),
	    "250 2.1.5 <carol@example.org> OK");
	assert_string_equal(cmd(f, "RCPT TO:<broken@example.org>"),
	    "250 2.1.5 <broken@example.org> OK");
	assert_string_equal(cmd(f, "RCPT TO:<@relay.example:bob@example.org>"),
	    "250 2.1.5 <bob@example.org> OK");
	assert_string_equal(cmd(f, "DATA"), "354 2.0.0 send the message, "
	    "ending with \".\" on a line by itself");
	sendall(f, msg, strlen(msg));
	strlcpy(reply, line(f), sizeof(reply));
	snprintf(text, sizeof(text), WANT, "alice@example.org");
	assert_string_equal(delivered(f, "alice", reply), text);
	strlcpy(reply, line(f), sizeof(reply));
	/* carol@example.org is an entry of its own: the whole address. */
	snprintf(text, sizeof(text), WANT, "carol@example.org");
	assert_string_equal(delivered(f, "carol@example.org", reply), text);
	assert_true(strncmp(line(f), "451 4.3.0 <broken@example.org> "
	    "temporary failure: ", 50) == 0);
	strlcpy(reply, line(f), sizeof(reply));
	snprintf(text, sizeof(text), WANT, "bob@example.org");
	assert_string_equal(delivered(f, "bob", reply), text);
	assert_string_equal(cmd(f, "NOOP"), "250 2.0.0 OK");
	assert_int_equal(count(maildir_of(f, "broken"), "new"), 0);
}

/* Everything in one write, and two transactions on one connection. */
static void
test_pipelining(void **state)
{
	struct fixture	*f = *state;
	const char	*all = "LHLO x\r\nMAIL FROM:<s@x>\r\n"
			    "RCPT TO:<alice>\r\nRCPT TO:<zed>\r\n"
			    "RCPT TO:<bob>\r\nDATA\r\n";
	const char	*msg = "one\r\n.\r\nMAIL FROM:<t@x>\r\n"
			    "RCPT TO:<alice>\r\nDATA\r\n";
	const char	*msg2 = "two\r\n.\r\nQUIT\r\n";

	start(f);
	assert_string_equal(line(f), "220 test.example LMTP Postern ready");
	sendall(f, all, strlen(all));
	assert_string_equal(line(f), "250-test.example");
	while (strncmp(line(f), "250 ", 4) != 0)
		;
	assert_string_equal(line(f), "250 2.1.0 sender <s@x> OK");
	assert_string_equal(line(f), "250 2.1.5 <alice> OK");
	assert_string_equal(line(f), "550 5.1.1 <zed> unknown user");
	assert_string_equal(line(f), "250 2.1.5 <bob> OK");
	assert_true(strncmp(line(f), "354 ", 4) == 0);
	sendall(f, msg, strlen(msg));
	assert_true(strncmp(line(f), "250 2.0.0 <alice> delivered as ",
	    31) == 0);
	assert_true(strncmp(line(f), "250 2.0.0 <bob> delivered as ",
	    29) == 0);
	assert_string_equal(line(f), "250 2.1.0 sender <t@x> OK");
	assert_string_equal(line(f), "250 2.1.5 <alice> OK");
	assert_true(strncmp(line(f), "354 ", 4) == 0);
	sendall(f, msg2, strlen(msg2));
	assert_true(strncmp(line(f), "250 2.0.0 <alice> delivered as ",
	    31) == 0);
	assert_string_equal(line(f),
	    "221 2.0.0 test.example closing connection");
	assert_string_equal(line(f), "");
	assert_int_equal(count(maildir_of(f, "alice"), "new"), 2);
	assert_string_equal(delivered(f, "bob", NULL),
	    "Return-Path: <s@x>\nDelivered-To: <bob>\none\n");
}

/* transaction: LHLO, MAIL, RCPT alice and bob, DATA. */
static void
transaction(struct fixture *f)
{
	hello(f);
	assert_string_equal(cmd(f, "MAIL FROM:<s@x>"),
	    "250 2.1.0 sender <s@x> OK");
	assert_string_equal(cmd(f, "RCPT TO:<alice>"), "250 2.1.5 <alice> OK");
	assert_string_equal(cmd(f, "RCPT TO:<bob>"), "250 2.1.5 <bob> OK");
	assert_true(strncmp(cmd(f, "DATA"), "354 ", 4) == 0);
}

/* A message over lmtp_max_message_size: 552 per recipient, nothing
 * delivered, the session goes on. */
static void
test_size_limit(void **state)
{
	struct fixture	*f = *state;
	char		 l[1000];
	int		 i;

	memset(l, 's', sizeof(l) - 2);
	l[sizeof(l) - 2] = '\r';
	l[sizeof(l) - 1] = '\n';
	start(f);
	transaction(f);
	for (i = 0; i < 101; i++)	/* 101 * 1000 > 100000 */
		sendall(f, l, sizeof(l));
	sendall(f, ".\r\n", 3);
	assert_string_equal(line(f), "552 5.3.4 <alice> message too big: the "
	    "limit is 100000 octets");
	assert_string_equal(line(f), "552 5.3.4 <bob> message too big: the "
	    "limit is 100000 octets");
	assert_string_equal(cmd(f, "NOOP"), "250 2.0.0 OK");
	assert_int_equal(count(maildir_of(f, "alice"), "new"), 0);
	assert_int_equal(count(maildir_of(f, "bob"), "new"), 0);
	assert_int_equal(count(maildir_of(f, "alice"), "tmp"), 0);
	/* Exactly at the limit is accepted. */
	assert_string_equal(cmd(f, "MAIL FROM:<s@x>"),
	    "250 2.1.0 sender <s@x> OK");
	assert_string_equal(cmd(f, "RCPT TO:<alice>"), "250 2.1.5 <alice> OK");
	assert_true(strncmp(cmd(f, "DATA"), "354 ", 4) == 0);
	for (i = 0; i < 100; i++)
		sendall(f, l, sizeof(l));
	sendall(f, ".\r\n", 3);
	assert_true(strncmp(line(f), "250 2.0.0 <alice> delivered as ",
	    31) == 0);
	assert_int_equal(count(maildir_of(f, "alice"), "new"), 1);
}

/* Lines of 5000 octets arrive whole; a line over the limit refuses the
 * message rather than cutting it; long command lines are refused. */
static void
test_long_lines(void **state)
{
	struct fixture	*f = *state;
	char		*big, *want, cmdline[600];
	const char	*text;
	size_t		 n = 5000, huge = 70000;

	assert_non_null(big = malloc(huge + 3));
	assert_non_null(want = malloc(n + 64));
	start(f);
	transaction(f);
	memset(big, 'L', n);
	big[n] = '\r';
	big[n + 1] = '\n';
	sendall(f, big, n + 2);
	sendall(f, "after\r\n.\r\n", 10);
	assert_true(strncmp(line(f), "250 2.0.0 <alice> delivered", 27) == 0);
	assert_true(strncmp(line(f), "250 2.0.0 <bob> delivered", 25) == 0);
	text = delivered(f, "alice", NULL);
	snprintf(want, n + 64, "Return-Path: <s@x>\nDelivered-To: <alice>\n"
	    "%.*s\nafter\n", (int)n, big);
	assert_string_equal(text, want);

	assert_string_equal(cmd(f, "MAIL FROM:<s@x>"),
	    "250 2.1.0 sender <s@x> OK");
	assert_string_equal(cmd(f, "RCPT TO:<alice>"), "250 2.1.5 <alice> OK");
	assert_true(strncmp(cmd(f, "DATA"), "354 ", 4) == 0);
	memset(big, 'H', huge);
	big[huge] = '\r';
	big[huge + 1] = '\n';
	sendall(f, "first\r\n", 7);
	sendall(f, big, huge + 2);
	sendall(f, "last\r\n.\r\n", 9);
	assert_string_equal(line(f), "554 5.6.0 <alice> message has a line "
	    "longer than 65536 octets, not delivered");
	assert_string_equal(cmd(f, "NOOP"), "250 2.0.0 OK");
	assert_int_equal(count(maildir_of(f, "alice"), "new"), 0);
	assert_int_equal(count(maildir_of(f, "alice"), "tmp"), 0);

	memset(cmdline, 'n', sizeof(cmdline) - 1);
	memcpy(cmdline, "NOOP ", 5);
	cmdline[sizeof(cmdline) - 1] = '\0';
	assert_string_equal(cmd(f, cmdline), "500 5.5.2 line too long");
	assert_string_equal(cmd(f, "NOOP"), "250 2.0.0 OK");
	free(big);
	free(want);
}

/* A connection lost in DATA delivers nothing. */
static void
test_eof_in_data(void **state)
{
	struct fixture	*f = *state;

	start(f);
	transaction(f);
	sendall(f, "Subject: cut\r\n\r\nhalf", 20);
	shutdown(f->fd, SHUT_WR);
	assert_string_equal(line(f), "");
	stop(f);
	assert_int_equal(count(maildir_of(f, "alice"), "new"), 0);
	assert_int_equal(count(maildir_of(f, "alice"), "tmp"), 0);
}

/* Too many bad commands close the session with 421. */
static void
test_bad_commands(void **state)
{
	struct fixture	*f = *state;
	int		 i;

	f->conf.max_bad_commands = 3;
	start(f);
	line(f);
	for (i = 0; i < 2; i++)
		assert_string_equal(cmd(f, "BOGUS"),
		    "500 5.5.1 unknown command");
	assert_string_equal(cmd(f, "BOGUS"), "500 5.5.1 unknown command");
	assert_string_equal(line(f),
	    "421 4.7.0 test.example too many errors, closing");
	assert_string_equal(line(f), "");
}

/* As root, a recipient with a uid is delivered to by a child that runs
 * as that uid: the file is the user's; one without is mail_user's. */
static void
test_uid(void **state)
{
	struct fixture	*f = *state;
	char		 path[1024], name[512];
	DIR		*d;
	struct dirent	*e;
	struct stat	 st;

	if (geteuid() != 0)
		skip();
	start(f);
	hello(f);
	assert_string_equal(cmd(f, "MAIL FROM:<s@x>"),
	    "250 2.1.0 sender <s@x> OK");
	assert_string_equal(cmd(f, "RCPT TO:<nob>"), "250 2.1.5 <nob> OK");
	assert_string_equal(cmd(f, "RCPT TO:<alice>"), "250 2.1.5 <alice> OK");
	assert_true(strncmp(cmd(f, "DATA"), "354 ", 4) == 0);
	sendall(f, "x\r\n.\r\n", 6);
	assert_true(strncmp(line(f), "250 2.0.0 <nob> delivered", 25) == 0);
	assert_true(strncmp(line(f), "250 2.0.0 <alice> delivered", 27) == 0);
	snprintf(path, sizeof(path), "%s/new", maildir_of(f, "nob"));
	assert_non_null(d = opendir(path));
	name[0] = '\0';
	while ((e = readdir(d)) != NULL)
		if (e->d_name[0] != '.')
			strlcpy(name, e->d_name, sizeof(name));
	closedir(d);
	snprintf(path, sizeof(path), "%s/new/%s", maildir_of(f, "nob"), name);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_uid, 65534);
	assert_int_equal(st.st_gid, 65534);
	snprintf(path, sizeof(path), "%s/new", maildir_of(f, "alice"));
	assert_non_null(d = opendir(path));
	name[0] = '\0';
	while ((e = readdir(d)) != NULL)
		if (e->d_name[0] != '.')
			strlcpy(name, e->d_name, sizeof(name));
	closedir(d);
	snprintf(path, sizeof(path), "%s/new/%s", maildir_of(f, "alice"), name);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_uid, 65534);
	/* The worker itself is still root: the drops were the children's. */
	assert_string_equal(cmd(f, "QUIT"),
	    "221 2.0.0 test.example closing connection");
}

/* Recipients that cannot be resolved for now get 451, not 550: an
 * account whose Maildir path is bad, one with no identity to deliver as,
 * a passwd-file that cannot be read. */
static void
test_rcpt_tempfail(void **state)
{
	struct fixture	*f = *state;
	const char	*who = geteuid() == 0 ? "alice" : "nob";
	char		 want[128], l[64];

	passwd_add(f, "rel:{PLAIN}x:::relative/home::");
	if (geteuid() == 0)
		f->conf.mail_user = "";	/* alice: no uid, no mail_user */
	start(f);
	hello(f);
	assert_string_equal(cmd(f, "MAIL FROM:<s@x>"),
	    "250 2.1.0 sender <s@x> OK");
	assert_string_equal(cmd(f, "RCPT TO:<rel>"),
	    "451 4.3.5 <rel> bad maildir path, try again later");
	snprintf(l, sizeof(l), "RCPT TO:<%s>", who);
	snprintf(want, sizeof(want), "451 4.3.5 <%s> cannot take the "
	    "account's identity, try again later", who);
	assert_string_equal(cmd(f, l), want);
	assert_int_equal(unlink(f->passwd), 0);
	assert_string_equal(cmd(f, "RCPT TO:<bob>"),
	    "451 4.3.0 <bob> cannot look the user up, try again later");
	assert_string_equal(cmd(f, "DATA"),
	    "503 5.5.1 need a valid RCPT before DATA");
}

/* 1000 recipients at most in one transaction. */
static void
test_too_many_recipients(void **state)
{
	struct fixture	*f = *state;
	int		 i;

	start(f);
	hello(f);
	assert_string_equal(cmd(f, "MAIL FROM:<s@x>"),
	    "250 2.1.0 sender <s@x> OK");
	for (i = 0; i < 1000; i++)
		assert_string_equal(cmd(f, "RCPT TO:<alice>"),
		    "250 2.1.5 <alice> OK");
	assert_string_equal(cmd(f, "RCPT TO:<bob>"),
	    "452 4.5.3 too many recipients");
	assert_string_equal(cmd(f, "RSET"), "250 2.0.0 OK");
}

/* A failure that will not go away (a file where tmp/ should be) is 550,
 * not 451: the client should not try again. */
static void
test_permanent_failure(void **state)
{
	struct fixture	*f = *state;
	char		 path[PATH_MAX + 64];

	snprintf(path, sizeof(path), "%s/tmp", maildir_of(f, "bob"));
	assert_int_equal(rmdir(path), 0);
	put_in(maildir_of(f, "bob"), "tmp", "not a directory\n");
	start(f);
	transaction(f);
	sendall(f, "x\r\n.\r\n", 6);
	assert_true(strncmp(line(f), "250 2.0.0 <alice> delivered as ",
	    31) == 0);
	assert_string_equal(line(f),
	    "550 5.2.0 <bob> cannot deliver: Not a directory");
	assert_int_equal(count(maildir_of(f, "bob"), "new"), 0);
}

extern char **environ;

/* LMTP is local (the master serves it from unsandboxed workers), and
 * its refusals are 421 with the host name, so that the client keeps the
 * mail and tries again later. */
static void
test_sandboxed(void **state)
{
	struct fixture	*f = *state;
	struct session	 s;
	char		 buf[128];
	size_t		 n;

	assert_true(lmtp_protocol.local);
	assert_false(pop3_protocol.local);
	memset(&s, 0, sizeof(s));
	s.conf = &f->conf;
	s.proto = &lmtp_protocol;
	n = lmtp_protocol.refuse(&s, "server shutting down", buf,
	    sizeof(buf));
	assert_int_equal(n, strlen(buf));
	assert_string_equal(buf, "421 4.3.2 test.example server shutting "
	    "down\r\n");
	assert_int_equal(lmtp_protocol.refuse(&s, "server shutting down",
	    buf, 20), 0);
}

int
main(int argc, char *argv[])
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_session, setup,
		    fx_teardown),
		cmocka_unit_test_setup_teardown(test_errors, setup,
		    fx_teardown),
		cmocka_unit_test_setup_teardown(test_deliver_one, setup,
		    fx_teardown),
		cmocka_unit_test_setup_teardown(test_recipients, setup,
		    fx_teardown),
		cmocka_unit_test_setup_teardown(test_pipelining, setup,
		    fx_teardown),
		cmocka_unit_test_setup_teardown(test_size_limit, setup,
		    fx_teardown),
		cmocka_unit_test_setup_teardown(test_long_lines, setup,
		    fx_teardown),
		cmocka_unit_test_setup_teardown(test_eof_in_data, setup,
		    fx_teardown),
		cmocka_unit_test_setup_teardown(test_bad_commands, setup,
		    fx_teardown),
		cmocka_unit_test_setup_teardown(test_uid, setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_rcpt_tempfail, setup,
		    fx_teardown),
		cmocka_unit_test_setup_teardown(test_too_many_recipients, setup,
		    fx_teardown),
		cmocka_unit_test_setup_teardown(test_permanent_failure, setup,
		    fx_teardown),
		cmocka_unit_test_setup_teardown(test_sandboxed, setup,
		    fx_teardown),
	};

#ifdef HAVE_LIBBSD
	setproctitle_init(argc, argv, environ);
#endif
	log_init("test_lmtp", 1);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
