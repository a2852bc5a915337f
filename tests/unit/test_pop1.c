/*
 * test_pop1.c: the RFC 918 POP module's replies, command by command, and
 * the mbox stream RCEV sends, octet for octet.  A forked child runs
 * pop1_protocol.serve() on one end of a socketpair with a temporary
 * passwd-file and Maildir; the test speaks RFC 918 on the other end.
 */
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
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

/* Named 1000000001.a.test and 1000000002.b.test: delivered at those
 * seconds, Sun Sep  9 01:46:41 and 42 2001 UTC. */
static const char MSG1[] = "Return-Path: <a@b.example>\nSubject: one\n\n"
    "From x\n>From y\n>>From z\nFrom\n.\n";
static const char MSG2[] = "Subject: two\r\n\r\nFrom crlf\r\nno newline";
static const char WANT1[] = "From a@b.example Sun Sep  9 01:46:41 2001\r\n"
    "Return-Path: <a@b.example>\r\nSubject: one\r\n\r\n"
    ">From x\r\n>>From y\r\n>>>From z\r\nFrom\r\n.\r\n\r\n";
static const char WANT2[] = "From MAILER-DAEMON Sun Sep  9 01:46:42 2001\r\n"
    "Subject: two\r\n\r\n>From crlf\r\nno newline\r\n\r\n";

/* maildir_path: rel under alice's Maildir (static storage). */
static const char *
maildir_path(struct fixture *f, const char *rel)
{
	static char	 path[PATH_MAX + 128];

	snprintf(path, sizeof(path), "%s/%s", f->md, rel);
	return path;
}

/* expect: the next n octets of the stream, which must equal want. */
static void
expect(struct fixture *f, const char *want, size_t n)
{
	while (f->len < n && fill(f))
		continue;
	assert_true(f->len >= n);
	assert_memory_equal(f->buf, want, n);
	memmove(f->buf, f->buf + n, f->len - n);
	f->len -= n;
}

/* stream: RCEV, then exactly n octets, which must equal want. */
static void
stream(struct fixture *f, const char *want, size_t n)
{
	assert_int_equal(write(f->fd, "RCEV\r\n", 6), 6);
	expect(f, want, n);
}

/* setup: alice, with two messages in new/. */
static int
setup(void **state)
{
	struct fixture	*f = fx_new("pop1");

	account(f, "alice", "secret", NULL);
	put_in(f->md, "new/1000000001.a.test", MSG1);
	put_in(f->md, "new/1000000002.b.test", MSG2);
	*state = f;
	return 0;
}

/* login: USER and PASS for alice. */
static void
login(struct fixture *f)
{
	assert_string_equal(cmd(f, "USER alice"), "+OK send PASS");
	assert_string_equal(cmd(f, "PASS secret"), "+OK logged in");
}

/* hash_count: "#n" for the two messages. */
static const char *
hash_count(void)
{
	static char	 out[32];

	snprintf(out, sizeof(out), "#%zu", strlen(WANT1) + strlen(WANT2));
	return out;
}

static void
test_greeting_login_quit(void **state)
{
	struct fixture	*f = *state;

	start(f);
	assert_string_equal(line(f), "+OK Postern POP server ready");
	assert_string_equal(cmd(f, "RETR INBOX"),
	    "-ERR RETR is not valid before login");
	assert_string_equal(cmd(f, "PASS x"), "-ERR send USER first");
	assert_string_equal(cmd(f, "USER   "), "-ERR USER needs a user name");
	assert_string_equal(cmd(f, "USER alice"), "+OK send PASS");
	assert_string_equal(cmd(f, "PASS wrong"),
	    "-ERR invalid user name or password");
	assert_string_equal(cmd(f, "NOOP"), "+OK");
	assert_string_equal(cmd(f, "RSET"), "+OK");
	login(f);
	assert_string_equal(cmd(f, "PASS x"),
	    "-ERR PASS is not valid after login");
	assert_string_equal(cmd(f, "XYZZY"), "-ERR unknown command");
	assert_string_equal(cmd(f, ""), "-ERR empty command");
	assert_string_equal(cmd(f, "quit"), "+OK Postern POP server signing "
	    "off");
	assert_string_equal(line(f), "");	/* closed */
}

/* max_auth_failures refused logins end the session; a passwd-file that
 * cannot be read is the server's failure, not the client's. */
static void
test_auth_failures(void **state)
{
	struct fixture	*f = *state;

	f->conf.max_auth_failures = 2;
	start(f);
	line(f);
	assert_string_equal(cmd(f, "USER alice"), "+OK send PASS");
	assert_string_equal(cmd(f, "PASS x"),
	    "-ERR invalid user name or password");
	assert_string_equal(cmd(f, "USER alice"), "+OK send PASS");
	assert_string_equal(cmd(f, "PASS y"),
	    "-ERR invalid user name or password");
	assert_string_equal(line(f), "-ERR too many failures, closing");
	assert_string_equal(line(f), "");
	stop(f);
	assert_int_equal(unlink(f->passwd), 0);
	start(f);
	line(f);
	assert_string_equal(cmd(f, "USER alice"), "+OK send PASS");
	assert_string_equal(cmd(f, "PASS secret"),
	    "-ERR authentication is unavailable, try again later");
	assert_string_equal(cmd(f, "NOOP"), "+OK");
}

static void
test_plaintext_refused(void **state)
{
	struct fixture	*f = *state;

	f->conf.plaintext_auth = PLAINTEXT_NEVER;
	start(f);
	line(f);
	assert_string_equal(cmd(f, "USER alice"), "-ERR plaintext "
	    "authentication disallowed without TLS");
}

static void
test_retr_stream(void **state)
{
	struct fixture	*f = *state;
	char		 want[1024];

	snprintf(want, sizeof(want), "%s%s", WANT1, WANT2);
	start(f);
	line(f);
	login(f);
	assert_string_equal(cmd(f, "RETR INBOX"), hash_count());
	stream(f, want, strlen(want));
	assert_string_equal(cmd(f, "RCVD"), "+OK");
	/* Nothing deleted; both read, so in cur/ now. */
	assert_int_equal(count(f->md, "new"), 0);
	assert_int_equal(count(f->md, "cur"), 2);
	/* The same again, from cur/. */
	assert_string_equal(cmd(f, "RETR inbox"), hash_count());
	stream(f, want, strlen(want));
	assert_string_equal(cmd(f, "RCVD"), "+OK");
	assert_string_equal(cmd(f, "QUIT"), "+OK Postern POP server signing "
	    "off");
	assert_int_equal(count(f->md, "cur"), 2);
}

static void
test_chunk_edges(void **state)
{
	struct fixture	*f = *state;
	static char	 msg[70000], want[70100];
	char		 hash[32];
	size_t		 n3 = 45 + 65535 + 13, n4 = 45 + 65534 + 13;

	/* A CRLF and a "From " each split by the 64 KiB read. */
	memset(msg, 'a', 65535);
	strlcpy(msg + 65535, "\r\nFrom z\n", sizeof(msg) - 65535);
	put_in(f->md, "new/1000000003.c.test", msg);
	memset(msg, 'b', 65534);
	strlcpy(msg + 65534, "\nFrom q\n", sizeof(msg) - 65534);
	put_in(f->md, "new/1000000004.d.test", msg);
	start(f);
	line(f);
	login(f);
	snprintf(hash, sizeof(hash), "#%zu", strlen(WANT1) + strlen(WANT2) +
	    n3 + n4);
	assert_string_equal(cmd(f, "RETR INBOX"), hash);
	stream(f, WANT1, strlen(WANT1));
	expect(f, WANT2, strlen(WANT2));
	memcpy(want, "From MAILER-DAEMON Sun Sep  9 01:46:43 2001\r\n", 45);
	memset(want + 45, 'a', 65535);
	memcpy(want + 45 + 65535, "\r\n>From z\r\n\r\n", 13);
	expect(f, want, n3);
	memcpy(want, "From MAILER-DAEMON Sun Sep  9 01:46:44 2001\r\n", 45);
	memset(want + 45, 'b', 65534);
	memcpy(want + 45 + 65534, "\r\n>From q\r\n\r\n", 13);
	expect(f, want, n4);
	assert_string_equal(cmd(f, "RCVD"), "+OK");
}

static void
test_rdel_deletes_what_was_sent(void **state)
{
	struct fixture	*f = *state;
	char		 want[1024];

	snprintf(want, sizeof(want), "%s%s", WANT1, WANT2);
	start(f);
	line(f);
	login(f);
	assert_string_equal(cmd(f, "RDEL INBOX"), hash_count());
	/* Mail that arrives now is neither sent nor deleted. */
	put_in(f->md, "new/1000000009.late.test", "Subject: late\n\nx\n");
	stream(f, want, strlen(want));
	assert_int_equal(count(f->md, "new"), 3);
	assert_string_equal(cmd(f, "RCVD"), "+OK");
	assert_int_equal(count(f->md, "new"), 1);
	assert_int_equal(count(f->md, "cur"), 0);
	assert_string_equal(cmd(f, "QUIT"), "+OK Postern POP server signing "
	    "off");
}

static void
test_drop_deletes_nothing(void **state)
{
	struct fixture	*f = *state;
	char		 want[1024];

	snprintf(want, sizeof(want), "%s%s", WANT1, WANT2);
	start(f);
	line(f);
	login(f);
	assert_string_equal(cmd(f, "RDEL INBOX"), hash_count());
	stream(f, want, strlen(want));
	stop(f);
	assert_int_equal(count(f->md, "new"), 2);
	/* QUIT and RSET before RCVD delete nothing either. */
	start(f);
	line(f);
	login(f);
	assert_string_equal(cmd(f, "RDEL INBOX"), hash_count());
	stream(f, want, strlen(want));
	assert_string_equal(cmd(f, "RSET"), "+OK");
	assert_string_equal(cmd(f, "RCVD"), "-ERR no transaction: send RETR "
	    "or RDEL first");
	assert_string_equal(cmd(f, "RDEL INBOX"), hash_count());
	assert_string_equal(cmd(f, "QUIT"), "+OK Postern POP server signing "
	    "off");
	stop(f);
	assert_int_equal(count(f->md, "new"), 2);
}

static void
test_order_rules(void **state)
{
	struct fixture	*f = *state;
	struct maildrop	*md;

	start(f);
	line(f);
	login(f);
	assert_string_equal(cmd(f, "RCEV"), "-ERR no transaction: send RETR "
	    "or RDEL first");
	assert_string_equal(cmd(f, "RCVD"), "-ERR no transaction: send RETR "
	    "or RDEL first");
	assert_string_equal(cmd(f, "RETR"), "-ERR RETR needs a mailbox name");
	assert_string_equal(cmd(f, "RETR INBOX"), hash_count());
	assert_string_equal(cmd(f, "RETR INBOX"), "-ERR a transaction is "
	    "open: send RCVD or RSET first");
	assert_string_equal(cmd(f, "RDEL INBOX"), "-ERR a transaction is "
	    "open: send RCVD or RSET first");
	assert_string_equal(cmd(f, "RCVD"), "-ERR send RCEV first");
	/* The mailbox is locked while the transaction is open... */
	assert_int_equal(maildrop_open(f->md, NULL, &md), MAILDROP_LOCKED);
	assert_string_equal(cmd(f, "RSET"), "+OK");
	/* ...and unlocked by RSET. */
	assert_int_equal(maildrop_open(f->md, NULL, &md), 0);
	assert_string_equal(cmd(f, "RETR INBOX"),
	    "-ERR mailbox locked by another session");
	maildrop_close(&md);
	assert_string_equal(cmd(f, "RECV"), "-ERR no transaction: send RETR "
	    "or RDEL first");
	assert_string_equal(cmd(f, "RETR INBOX"), hash_count());
	assert_int_equal(write(f->fd, "RECV\r\n", 6), 6);
	expect(f, WANT1, strlen(WANT1));
	expect(f, WANT2, strlen(WANT2));
	assert_string_equal(cmd(f, "RCEV"), "-ERR the mailbox was sent: "
	    "send RCVD");
	assert_string_equal(cmd(f, "RCVD"), "+OK");
}

static void
test_changed_aborts(void **state)
{
	struct fixture	*f = *state;
	char		 path[PATH_MAX + 128];

	start(f);
	line(f);
	login(f);
	assert_string_equal(cmd(f, "RDEL INBOX"), hash_count());
	/* Another agent removes a message counted: the count cannot be
	 * kept, so the stream stops short and the connection closes. */
	snprintf(path, sizeof(path), "%s/new/1000000002.b.test", f->md);
	assert_int_equal(unlink(path), 0);
	stream(f, WANT1, strlen(WANT1));
	assert_false(fill(f));
	assert_int_equal(f->len, 0);	/* closed: nothing more */
	stop(f);
	assert_int_equal(count(f->md, "new") + count(f->md, "cur"), 1);
}

static void
test_folders(void **state)
{
	struct fixture	*f = *state;
	char		 path[PATH_MAX + 128], link[PATH_MAX + 128], hash[32];
	static const char want[] = "From MAILER-DAEMON Sun Sep  9 01:46:45 "
	    "2001\r\nSubject: kept\r\n\r\n>From me\r\n\r\n";

	snprintf(path, sizeof(path), "%s/.Sent", f->md);
	assert_int_equal(fx_mkmaildir(AT_FDCWD, path, 0700), 0);
	put_in(path, "new/1000000005.s.test", "Subject: kept\n\nFrom me\n");
	snprintf(link, sizeof(link), "%s/.Link", f->md);
	assert_int_equal(symlink(path, link), 0);
	snprintf(hash, sizeof(hash), "#%zu", strlen(want));
	start(f);
	line(f);
	login(f);
	assert_string_equal(cmd(f, "RETR Sent"), hash);
	stream(f, want, strlen(want));
	assert_string_equal(cmd(f, "RCVD"), "+OK");
	assert_string_equal(cmd(f, "RDEL INBOX.Sent"), hash);
	stream(f, want, strlen(want));
	assert_string_equal(cmd(f, "RCVD"), "+OK");
	assert_int_equal(count(path, "new") + count(path, "cur"), 0);
	assert_int_equal(count(f->md, "new"), 2);
	assert_string_equal(cmd(f, "RETR Link"), "-ERR no such mailbox");
	assert_string_equal(cmd(f, "RETR Nosuch"), "-ERR no such mailbox");
	assert_string_equal(cmd(f, "RETR a/b"), "-ERR no such mailbox");
	assert_string_equal(cmd(f, "RETR ..x"), "-ERR no such mailbox");
	assert_string_equal(cmd(f, "RETR alice"), hash_count());
	assert_string_equal(cmd(f, "RSET"), "+OK");
}

/* A user name over 255 octets is refused before PASS. */
static void
test_user_too_long(void **state)
{
	struct fixture	*f = *state;
	char		 l[300];

	memset(l, 'u', sizeof(l) - 1);
	memcpy(l, "USER ", 5);
	l[5 + 256] = '\0';
	start(f);
	line(f);
	assert_string_equal(cmd(f, l), "-ERR user name too long");
	assert_string_equal(cmd(f, "PASS secret"), "-ERR send USER first");
	l[5 + 255] = '\0';
	assert_string_equal(cmd(f, l), "+OK send PASS");
}

/* The mailbox name goes without the spaces around it. */
static void
test_args_trimmed(void **state)
{
	struct fixture	*f = *state;

	start(f);
	line(f);
	login(f);
	assert_string_equal(cmd(f, "RETR   INBOX   "), hash_count());
	assert_string_equal(cmd(f, "RSET"), "+OK");
}

/* A Return-Path that is no plain address gives MAILER-DAEMON: one with
 * a control octet, one over 256 octets. */
static void
test_sender_fallback(void **state)
{
	struct fixture	*f = *state;
	static char	 msg[400], want[500];
	char		 hash[32];
	size_t		 n;

	assert_int_equal(unlink(maildir_path(f, "new/1000000001.a.test")), 0);
	assert_int_equal(unlink(maildir_path(f, "new/1000000002.b.test")), 0);
	put_in(f->md, "new/1000000001.a.test",
	    "Return-Path: <a\001b@example>\n\nx\n");
	memset(msg, 'l', 13 + 257);
	memcpy(msg, "Return-Path: ", 13);
	strlcpy(msg + 13 + 257, "\n\ny\n", sizeof(msg) - 13 - 257);
	put_in(f->md, "new/1000000002.b.test", msg);
	n = (size_t)snprintf(want, sizeof(want), "From MAILER-DAEMON Sun Sep  "
	    "9 01:46:41 2001\r\nReturn-Path: <a\001b@example>\r\n\r\nx\r\n\r\n"
	    "From MAILER-DAEMON Sun Sep  9 01:46:42 2001\r\n%.*s\r\n\r\ny\r\n"
	    "\r\n", 13 + 257, msg);
	snprintf(hash, sizeof(hash), "#%zu", n);
	start(f);
	line(f);
	login(f);
	assert_string_equal(cmd(f, "RETR INBOX"), hash);
	stream(f, want, n);
	assert_string_equal(cmd(f, "RCVD"), "+OK");
}

/* A message that ends in the middle of a ">From " prefix: the octets are
 * sent as they are, unquoted, with the line end added. */
static void
test_partial_from_at_end(void **state)
{
	struct fixture	*f = *state;
	static const char want[] = "From MAILER-DAEMON Sun Sep  9 01:46:41 "
	    "2001\r\nSubject: cut\r\n\r\n>>Fro\r\n\r\n";
	char		 hash[32];

	assert_int_equal(unlink(maildir_path(f, "new/1000000001.a.test")), 0);
	assert_int_equal(unlink(maildir_path(f, "new/1000000002.b.test")), 0);
	put_in(f->md, "new/1000000001.a.test", "Subject: cut\n\n>>Fro");
	snprintf(hash, sizeof(hash), "#%zu", strlen(want));
	start(f);
	line(f);
	login(f);
	assert_string_equal(cmd(f, "RETR INBOX"), hash);
	stream(f, want, strlen(want));
	assert_string_equal(cmd(f, "RCVD"), "+OK");
}

/* A folder that is no whole Maildir cannot be opened. */
static void
test_cannot_open(void **state)
{
	struct fixture	*f = *state;
	char		 path[PATH_MAX + 128];

	snprintf(path, sizeof(path), "%s/.Half", f->md);
	assert_int_equal(mkdir(path, 0700), 0);
	start(f);
	line(f);
	login(f);
	assert_string_equal(cmd(f, "RETR Half"),
	    "-ERR cannot open the mailbox");
	assert_string_equal(cmd(f, "RCEV"), "-ERR no transaction: send RETR "
	    "or RDEL first");
	assert_string_equal(cmd(f, "RETR INBOX"), hash_count());
}

/* A message that grows after it was counted: the stream stops at the
 * count announced, the connection closes, nothing is deleted. */
static void
test_grown_aborts(void **state)
{
	struct fixture	*f = *state;

	start(f);
	line(f);
	login(f);
	assert_string_equal(cmd(f, "RDEL INBOX"), hash_count());
	put_in(f->md, "new/1000000002.b.test", "Subject: two, now longer\r\n"
	    "\r\nFrom crlf\r\nno newline, and more");
	stream(f, WANT1, strlen(WANT1));
	while (fill(f))
		;
	assert_true(f->len <= strlen(WANT2));	/* never past the count */
	stop(f);
	assert_int_equal(count(f->md, "new"), 2);
}

extern char **environ;

int
main(int argc, char *argv[])
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_greeting_login_quit,
		    setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_auth_failures,
		    setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_plaintext_refused,
		    setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_retr_stream,
		    setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_chunk_edges,
		    setup, fx_teardown),
		cmocka_unit_test_setup_teardown(
		    test_rdel_deletes_what_was_sent, setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_drop_deletes_nothing,
		    setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_order_rules,
		    setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_changed_aborts,
		    setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_folders,
		    setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_user_too_long,
		    setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_args_trimmed,
		    setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_sender_fallback,
		    setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_partial_from_at_end,
		    setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_cannot_open,
		    setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_grown_aborts,
		    setup, fx_teardown),
	};

#ifdef HAVE_LIBBSD
	setproctitle_init(argc, argv, environ);
#endif
	log_init("test_pop1", 1);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
