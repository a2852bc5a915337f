/*
 * test_pop3.c: the POP3 module's replies, command by command, with their
 * error cases.  A forked child runs pop3_protocol.serve() on one end of a
 * socketpair with a temporary passwd-file and Maildir; the test speaks
 * POP3 on the other end and checks every reply.
 */
#include <sys/stat.h>

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tests/unit/unit.h"

#include <openssl/evp.h>

#include "protocols/protocol.h"
#include "server/base64.h"
#include "server/io.h"
#include "server/limits.h"
#include "server/log.h"
#include "server/session.h"
#include "tests/unit/fixture.h"

static const char MSG1[] = "Subject: one\n\nfirst body\n";
static const char MSG2[] = "Subject: two\n\n.\n..x\nlast line without newline";

/* netsize: the network size of a text (bare LF as CRLF, final CRLF). */
static long
netsize(const char *s)
{
	size_t	 n = strlen(s), i;
	long	 size = (long)n;

	for (i = 0; i < n; i++)
		if (s[i] == '\n' && (i == 0 || s[i - 1] != '\r'))
			size++;
	if (n > 0 && s[n - 1] != '\n')
		size += 2;
	return size;
}

/* setup: alice, with two messages in new/. */
static int
setup(void **state)
{
	struct fixture	*f = fx_new("pop3");

	account(f, "alice", "secret pass", NULL);
	put_in(f->md, "new/1000000001.a.test", MSG1);
	put_in(f->md, "new/1000000002.b.test", MSG2);
	f->conf.pop3_uidl_format = "%f";
	*state = f;
	return 0;
}

/* login: USER and PASS for alice. */
static void
login(struct fixture *f)
{
	assert_string_equal(cmd(f, "USER alice"), "+OK send PASS");
	assert_string_equal(cmd(f, "PASS secret pass"),
	    "+OK maildrop has 2 messages (79 octets)");
}

static void
test_greeting_and_quit(void **state)
{
	struct fixture	*f = *state;

	start(f);
	assert_string_equal(line(f), "+OK Postern POP3 server ready");
	assert_string_equal(cmd(f, "QUIT"),
	    "+OK Postern POP3 server signing off");
	assert_string_equal(line(f), "");	/* closed */
}

static void
test_authorization(void **state)
{
	struct fixture	*f = *state;

	start(f);
	line(f);
	assert_string_equal(cmd(f, "PASS x"), "-ERR send USER first");
	assert_string_equal(cmd(f, "USER"), "-ERR USER needs a user name");
	assert_string_equal(cmd(f, "STAT"), "-ERR STAT is not valid before "
	    "login");
	assert_string_equal(cmd(f, "RETR 1"), "-ERR RETR is not valid "
	    "before login");
	assert_string_equal(cmd(f, "APOP alice 0123"),
	    "-ERR [AUTH] APOP is not available on this server");
	assert_string_equal(cmd(f, "USER alice"), "+OK send PASS");
	assert_string_equal(cmd(f, "PASS secret"),
	    "-ERR [AUTH] invalid user name or password");
	assert_string_equal(cmd(f, "USER mallory"), "+OK send PASS");
	assert_string_equal(cmd(f, "PASS secret pass"),
	    "-ERR [AUTH] invalid user name or password");
	/* The password is the whole rest of the line, spaces included. */
	login(f);
	assert_string_equal(cmd(f, "PASS x"), "-ERR PASS is not valid after "
	    "login");
	assert_string_equal(cmd(f, "QUIT"),
	    "+OK Postern POP3 server signing off (2 messages left)");
}

static void
test_plaintext_refused_off_loopback(void **state)
{
	struct fixture	*f = *state;

	start_peer(f, "192.0.2.7", 0, false);
	line(f);
	assert_string_equal(cmd(f, "USER alice"), "-ERR [AUTH] plaintext "
	    "authentication disallowed without TLS");
	assert_string_equal(cmd(f, "CAPA"), "+OK capability list follows");
	assert_null(strstr(body(f), "USER"));
	stop(f);
	f->conf.plaintext_auth = PLAINTEXT_ALWAYS;
	start_peer(f, "192.0.2.7", 0, false);
	line(f);
	login(f);
}

static void
test_stat_list_uidl(void **state)
{
	struct fixture	*f = *state;
	char		 want[128];

	start(f);
	line(f);
	login(f);
	assert_int_equal(netsize(MSG1) + netsize(MSG2), 79);
	assert_string_equal(cmd(f, "STAT"), "+OK 2 79");
	assert_string_equal(cmd(f, "STAT x"), "-ERR STAT takes no argument");
	assert_string_equal(cmd(f, "LIST"), "+OK 2 messages (79 octets)");
	snprintf(want, sizeof(want), "1 %ld\n2 %ld\n", netsize(MSG1),
	    netsize(MSG2));
	assert_string_equal(body(f), want);
	snprintf(want, sizeof(want), "+OK 2 %ld", netsize(MSG2));
	assert_string_equal(cmd(f, "LIST 2"), want);
	assert_string_equal(cmd(f, "LIST 3"),
	    "-ERR no such message, only 2 messages in maildrop");
	assert_string_equal(cmd(f, "LIST 0"),
	    "-ERR no such message, only 2 messages in maildrop");
	assert_string_equal(cmd(f, "LIST +1"), "-ERR invalid message number");
	assert_string_equal(cmd(f, "LIST 1x"), "-ERR invalid message number");
	assert_string_equal(cmd(f, "LIST 4294967297"),
	    "-ERR invalid message number");
	assert_string_equal(cmd(f, "LIST 1 2"),
	    "-ERR LIST takes at most one argument");
	assert_string_equal(cmd(f, "UIDL"), "+OK unique-id listing follows");
	assert_string_equal(body(f), "1 1000000001.a.test\n"
	    "2 1000000002.b.test\n");
	assert_string_equal(cmd(f, "UIDL 2"), "+OK 2 1000000002.b.test");
	assert_string_equal(cmd(f, "UIDL 9"),
	    "-ERR no such message, only 2 messages in maildrop");
	assert_string_equal(cmd(f, "NOOP"), "+OK");
	/* A message marked deleted is left out of the listing. */
	assert_string_equal(cmd(f, "DELE 1"), "+OK message 1 deleted");
	assert_string_equal(cmd(f, "UIDL"), "+OK unique-id listing follows");
	assert_string_equal(body(f), "2 1000000002.b.test\n");
	assert_string_equal(cmd(f, "UIDL 1"), "-ERR message 1 already "
	    "deleted");
}

/* pop3_uidl_format: Dovecot's UID and UIDVALIDITY format, and the
 * global ID, both lasting from one session to the next. */
static void
test_uidl_format(void **state)
{
	struct fixture	*f = *state;
	char		 first[256], uidv[16];
	const char	*r;

	f->conf.pop3_uidl_format = "%08Xu%08Xv";
	start(f);
	line(f);
	login(f);
	assert_string_equal(cmd(f, "UIDL"), "+OK unique-id listing follows");
	strlcpy(first, body(f), sizeof(first));
	/* "1 00000001xxxxxxxx\n2 00000002xxxxxxxx\n", the same UIDVALIDITY */
	assert_int_equal(strlen(first), 2 * (2 + 16 + 1));
	assert_int_equal(strncmp(first, "1 00000001", 10), 0);
	assert_int_equal(strncmp(first + 19, "2 00000002", 10), 0);
	memcpy(uidv, first + 10, 8);
	uidv[8] = '\0';
	assert_int_equal(strspn(uidv, "0123456789abcdef"), 8);
	assert_int_equal(memcmp(first + 29, uidv, 8), 0);
	assert_string_equal(cmd(f, "QUIT"),
	    "+OK Postern POP3 server signing off (2 messages left)");
	stop(f);

	/* the same in the next session */
	start(f);
	line(f);
	login(f);
	assert_string_equal(cmd(f, "UIDL"), "+OK unique-id listing follows");
	assert_string_equal(body(f), first);
	stop(f);

	/* global IDs: 1 and 2 from the fresh counter */
	f->conf.pop3_uidl_format = "g%g";
	start(f);
	line(f);
	login(f);
	r = cmd(f, "UIDL 2");
	assert_string_equal(r, "+OK 2 g2");
	stop(f);
}

static void
test_retr_top(void **state)
{
	struct fixture	*f = *state;
	char		 want[128];

	start(f);
	line(f);
	login(f);
	snprintf(want, sizeof(want), "+OK %ld octets", netsize(MSG1));
	assert_string_equal(cmd(f, "RETR 1"), want);
	assert_string_equal(body(f), "Subject: one\n\nfirst body\n");
	snprintf(want, sizeof(want), "+OK %ld octets", netsize(MSG2));
	assert_string_equal(cmd(f, "RETR 2"), want);
	/* Raw lines: dot-stuffed, and the missing newline added. */
	assert_string_equal(line(f), "Subject: two");
	assert_string_equal(line(f), "");
	assert_string_equal(line(f), "..");
	assert_string_equal(line(f), "...x");
	assert_string_equal(line(f), "last line without newline");
	assert_string_equal(line(f), ".");
	assert_string_equal(cmd(f, "TOP 2 0"), "+OK top of message follows");
	assert_string_equal(body(f), "Subject: two\n\n");
	assert_string_equal(cmd(f, "TOP 2 1"), "+OK top of message follows");
	assert_string_equal(body(f), "Subject: two\n\n..\n");
	assert_string_equal(cmd(f, "TOP 2 100"), "+OK top of message follows");
	assert_string_equal(body(f), "Subject: two\n\n..\n...x\n"
	    "last line without newline\n");
	assert_string_equal(cmd(f, "TOP 2"),
	    "-ERR TOP needs a number of lines (0 or more)");
	assert_string_equal(cmd(f, "TOP 2 x"),
	    "-ERR TOP needs a number of lines (0 or more)");
	assert_string_equal(cmd(f, "TOP 3 1"),
	    "-ERR no such message, only 2 messages in maildrop");
	assert_string_equal(cmd(f, "TOP 1 1 1"), "-ERR TOP takes two "
	    "arguments");
	assert_string_equal(cmd(f, "RETR"), "-ERR message number required");
	assert_string_equal(cmd(f, "RETR 1 2"), "-ERR RETR takes one "
	    "argument");
}

/* unlink_msg: another agent removes a message file of alice's. */
static void
unlink_msg(struct fixture *f, const char *rel)
{
	char	 path[sizeof(f->md) + 64];

	snprintf(path, sizeof(path), "%s/%s", f->md, rel);
	assert_int_equal(unlink(path), 0);
}

/*
 * A message file removed by another agent: -ERR, the session goes on;
 * but the message after a RETR not marked deleted (here 3, as 2 is) was
 * opened ahead, and is sent although its file is gone.
 */
static void
test_retr_removed(void **state)
{
	struct fixture	*f = *state;
	char		 want[128];
	static const char MSG3[] = "Subject: three\n\nthird\n";

	put_in(f->md, "new/1000000003.c.test", MSG3);
	start(f);
	line(f);
	assert_string_equal(cmd(f, "USER alice"), "+OK send PASS");
	snprintf(want, sizeof(want), "+OK maildrop has 3 messages (%ld "
	    "octets)", netsize(MSG1) + netsize(MSG2) + netsize(MSG3));
	assert_string_equal(cmd(f, "PASS secret pass"), want);
	assert_string_equal(cmd(f, "DELE 2"), "+OK message 2 deleted");
	snprintf(want, sizeof(want), "+OK %ld octets", netsize(MSG1));
	assert_string_equal(cmd(f, "RETR 1"), want);
	assert_string_equal(body(f), MSG1);
	/* NOOP's reply: the server is done with RETR 1, read-ahead too */
	assert_string_equal(cmd(f, "NOOP"), "+OK");
	unlink_msg(f, "new/1000000003.c.test");
	snprintf(want, sizeof(want), "+OK %ld octets", netsize(MSG3));
	assert_string_equal(cmd(f, "RETR 3"), want);
	assert_string_equal(body(f), MSG3);
	assert_string_equal(cmd(f, "RETR 3"),
	    "-ERR message 3 was removed by another agent");
	snprintf(want, sizeof(want), "+OK maildrop has 3 messages (%ld "
	    "octets)", netsize(MSG1) + netsize(MSG2) + netsize(MSG3));
	assert_string_equal(cmd(f, "RSET"), want);
	unlink_msg(f, "new/1000000002.b.test");
	assert_string_equal(cmd(f, "RETR 2"),
	    "-ERR message 2 was removed by another agent");
	assert_string_equal(cmd(f, "QUIT"),
	    "+OK Postern POP3 server signing off (3 messages left)");
	stop(f);
}

/* A message file that became something else (here a FIFO): RETR says it
 * cannot read it, the session goes on, nothing is removed. */
static void
test_retr_not_a_file(void **state)
{
	struct fixture	*f = *state;
	char		 path[PATH_MAX + 128], want[64];

	start(f);
	line(f);
	login(f);
	unlink_msg(f, "new/1000000001.a.test");
	snprintf(path, sizeof(path), "%s/new/1000000001.a.test", f->md);
	assert_int_equal(mkfifo(path, 0600), 0);
	assert_string_equal(cmd(f, "RETR 1"),
	    "-ERR [SYS/TEMP] cannot read message 1");
	snprintf(want, sizeof(want), "+OK %ld octets", netsize(MSG2));
	assert_string_equal(cmd(f, "RETR 2"), want);
	assert_string_equal(body(f), "Subject: two\n\n..\n...x\n"
	    "last line without newline\n");
	assert_string_equal(cmd(f, "QUIT"),
	    "+OK Postern POP3 server signing off (2 messages left)");
	stop(f);
	assert_int_equal(count(f->md, "new") + count(f->md, "cur"), 2);
}

static void
test_dele_rset_quit(void **state)
{
	struct fixture	*f = *state;
	char		 want[128];

	start(f);
	line(f);
	login(f);
	assert_string_equal(cmd(f, "DELE 1"), "+OK message 1 deleted");
	assert_string_equal(cmd(f, "DELE 1"), "-ERR message 1 already "
	    "deleted");
	assert_string_equal(cmd(f, "RETR 1"), "-ERR message 1 already "
	    "deleted");
	assert_string_equal(cmd(f, "LIST 1"), "-ERR message 1 already "
	    "deleted");
	snprintf(want, sizeof(want), "+OK 1 %ld", netsize(MSG2));
	assert_string_equal(cmd(f, "STAT"), want);
	assert_string_equal(cmd(f, "LIST"), "+OK 1 messages (51 octets)");
	assert_string_equal(body(f), "2 51\n");
	assert_string_equal(cmd(f, "RSET"),
	    "+OK maildrop has 2 messages (79 octets)");
	assert_string_equal(cmd(f, "DELE 2"), "+OK message 2 deleted");
	assert_string_equal(cmd(f, "DELE"), "-ERR message number required");
	assert_string_equal(cmd(f, "QUIT"),
	    "+OK Postern POP3 server signing off (1 messages left)");
	stop(f);
	assert_int_equal(count(f->md, "new"), 1);
	assert_int_equal(count(f->md, "cur"), 0);
	/* Everything deleted: "maildrop empty". */
	start(f);
	line(f);
	assert_string_equal(cmd(f, "USER alice"), "+OK send PASS");
	assert_string_equal(cmd(f, "PASS secret pass"),
	    "+OK maildrop has 1 messages (28 octets)");
	assert_string_equal(cmd(f, "DELE 1"), "+OK message 1 deleted");
	assert_string_equal(cmd(f, "QUIT"),
	    "+OK Postern POP3 server signing off (maildrop empty)");
	stop(f);
	assert_int_equal(count(f->md, "new") + count(f->md, "cur"), 0);
}

/*
 * A deleted message that cannot be removed at QUIT (here its name has
 * become a directory): -ERR with how many, the others removed, nothing
 * else lost; the next session does not count the directory.
 */
static void
test_quit_cannot_delete(void **state)
{
	struct fixture	*f = *state;
	char		 path[PATH_MAX + 128];

	start(f);
	line(f);
	login(f);
	assert_string_equal(cmd(f, "DELE 1"), "+OK message 1 deleted");
	assert_string_equal(cmd(f, "DELE 2"), "+OK message 2 deleted");
	unlink_msg(f, "new/1000000002.b.test");
	snprintf(path, sizeof(path), "%s/new/1000000002.b.test", f->md);
	assert_int_equal(mkdir(path, 0700), 0);
	assert_string_equal(cmd(f, "QUIT"),
	    "-ERR [SYS/TEMP] some deleted messages not removed (1)");
	assert_string_equal(line(f), "");
	stop(f);
	assert_int_equal(count(f->md, "new"), 1);
	assert_int_equal(rmdir(path), 0);
	put_in(f->md, "new/1000000003.c.test", MSG1);
	start(f);
	line(f);
	assert_string_equal(cmd(f, "USER alice"), "+OK send PASS");
	assert_string_equal(cmd(f, "PASS secret pass"),
	    "+OK maildrop has 1 messages (28 octets)");
	assert_string_equal(cmd(f, "QUIT"),
	    "+OK Postern POP3 server signing off (1 messages left)");
	stop(f);
}

static void
test_dele_then_drop(void **state)
{
	struct fixture	*f = *state;

	start(f);
	line(f);
	login(f);
	assert_string_equal(cmd(f, "DELE 1"), "+OK message 1 deleted");
	assert_string_equal(cmd(f, "DELE 2"), "+OK message 2 deleted");
	stop(f);		/* the client drops the connection */
	assert_int_equal(count(f->md, "new"), 2);
}

static void
test_bad_input(void **state)
{
	struct fixture	*f = *state;
	char		 big[700];

	start(f);
	line(f);
	assert_string_equal(cmd(f, ""), "-ERR empty command");
	assert_string_equal(cmd(f, "HELO x"), "-ERR unknown command");
	memset(big, 'A', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	assert_string_equal(cmd(f, big), "-ERR line too long");
	assert_string_equal(cmd(f, "capa"), "+OK capability list follows");
	assert_string_equal(body(f), "TOP\nUIDL\nRESP-CODES\n"
	    "AUTH-RESP-CODE\nPIPELINING\nEXPIRE NEVER\nUSER\n"
	    "SASL PLAIN LOGIN\n");
	memcpy(big, "USER ", 5);
	memset(big + 5, 'a', USER_MAX + 1);
	big[5 + USER_MAX + 1] = '\0';
	assert_string_equal(cmd(f, big), "-ERR user name too long");
	big[5 + USER_MAX] = '\0';
	assert_string_equal(cmd(f, big), "+OK send PASS");
	/* Spaces around the name are not part of it. */
	assert_string_equal(cmd(f, "USER   alice  "), "+OK send PASS");
	assert_string_equal(cmd(f, "PASS secret pass"),
	    "+OK maildrop has 2 messages (79 octets)");
	assert_string_equal(cmd(f, "CAPA"), "+OK capability list follows");
	assert_null(strstr(body(f), "USER"));
	assert_string_equal(cmd(f, "DELE 1 2"), "-ERR DELE takes one argument");
	assert_string_equal(cmd(f, "UIDL 1 2"),
	    "-ERR UIDL takes at most one argument");
	assert_string_equal(cmd(f, "QUIT"),
	    "+OK Postern POP3 server signing off (2 messages left)");
}

static void
test_bad_command_limit(void **state)
{
	struct fixture	*f = *state;

	f->conf.max_bad_commands = 2;
	start(f);
	line(f);
	assert_string_equal(cmd(f, "X"), "-ERR unknown command");
	assert_string_equal(cmd(f, "Y"), "-ERR unknown command");
	assert_string_equal(line(f), "-ERR too many bad commands, closing");
	assert_string_equal(line(f), "");
}

static void
test_pipelined(void **state)
{
	struct fixture	*f = *state;
	const char	 burst[] = "USER alice\r\nPASS secret pass\r\nSTAT\r\n"
			    "LIST 1\r\nDELE 1\r\nQUIT\r\n";

	start(f);
	line(f);
	assert_int_equal(write(f->fd, burst, sizeof(burst) - 1),
	    (ssize_t)sizeof(burst) - 1);
	assert_string_equal(line(f), "+OK send PASS");
	assert_string_equal(line(f), "+OK maildrop has 2 messages "
	    "(79 octets)");
	assert_string_equal(line(f), "+OK 2 79");
	assert_string_equal(line(f), "+OK 1 28");
	assert_string_equal(line(f), "+OK message 1 deleted");
	assert_string_equal(line(f), "+OK Postern POP3 server signing off "
	    "(1 messages left)");
	stop(f);
	assert_int_equal(count(f->md, "new"), 1);
}

static void
test_locked(void **state)
{
	struct fixture	*f = *state;
	struct fixture	 g;

	start(f);
	line(f);
	login(f);
	memcpy(&g, f, sizeof(g));
	start(&g);
	line(&g);
	assert_string_equal(cmd(&g, "USER alice"), "+OK send PASS");
	assert_string_equal(cmd(&g, "PASS secret pass"),
	    "-ERR [IN-USE] maildrop locked by another session");
	assert_string_equal(cmd(&g, "QUIT"),
	    "+OK Postern POP3 server signing off");
	stop(&g);
}

/* The AUTH, APOP and RPOP tests (RFC 5034, RFC 1939 section 7, the 1985
 * revised POP draft) and CAPA's contents. */

/* b64: base64 of len octets of s (static buffer). */
static const char *
b64(const char *s, size_t len)
{
	static char	 out[1024];

	assert_true(base64_encode(s, len, out, sizeof(out)) >= 0);
	return out;
}

/* cmdf: cmd() with the line verb followed by arg. */
static const char *
cmdf(struct fixture *f, const char *verb, const char *arg)
{
	char	 c[2048];

	assert_true((size_t)snprintf(c, sizeof(c), "%s%s", verb, arg) <
	    sizeof(c));
	return cmd(f, c);
}

/* mkfile: writes text to dir/name with mode; the path into out. */
static void
mkfile(struct fixture *f, const char *name, const char *text, mode_t mode,
    char *out, size_t outlen)
{
	assert_true((size_t)snprintf(out, outlen, "%s/%s", f->dir, name) <
	    outlen);
	put(AT_FDCWD, out, text);
	assert_int_equal(chmod(out, mode), 0);
}

static const char MAILDROP2[] = "+OK maildrop has 2 messages (79 octets)";

static void
test_capa_contents(void **state)
{
	struct fixture	*f = *state;

	start_peer(f, "127.0.0.1", 40000, true);
	line(f);
	assert_string_equal(cmd(f, "CAPA"), "+OK capability list follows");
	assert_string_equal(body(f), "TOP\nUIDL\nRESP-CODES\nAUTH-RESP-CODE\n"
	    "PIPELINING\nEXPIRE NEVER\nUSER\nSASL PLAIN LOGIN\n");
	login(f);
	assert_string_equal(cmd(f, "CAPA"), "+OK capability list follows");
	assert_string_equal(body(f), "TOP\nUIDL\nRESP-CODES\nAUTH-RESP-CODE\n"
	    "PIPELINING\nEXPIRE NEVER\n");
	stop(f);
	/* Off loopback without TLS: nothing that sends a password. */
	f->conf.pop3_login_delay = 900;
	f->conf.pop3_implementation = "Postern 0.1";
	start_peer(f, "192.0.2.7", 40000, false);
	line(f);
	assert_string_equal(cmd(f, "CAPA"), "+OK capability list follows");
	assert_string_equal(body(f), "TOP\nUIDL\nRESP-CODES\nAUTH-RESP-CODE\n"
	    "PIPELINING\nEXPIRE NEVER\nLOGIN-DELAY 900\n"
	    "IMPLEMENTATION Postern 0.1\n");
}

static void
test_auth_list_and_errors(void **state)
{
	struct fixture	*f = *state;

	start_peer(f, "127.0.0.1", 40000, true);
	line(f);
	assert_string_equal(cmd(f, "AUTH"), "+OK");
	assert_string_equal(body(f), "PLAIN\nLOGIN\n");
	assert_string_equal(cmd(f, "AUTH CRAM-MD5"),
	    "-ERR unsupported authentication mechanism");
	assert_string_equal(cmd(f, "AUTH PLAIN a b"),
	    "-ERR AUTH takes a mechanism and at most an initial response");
	assert_string_equal(cmd(f, "AUTH PLAIN AGFsaWNl!"),
	    "-ERR [AUTH] invalid base64");
	assert_string_equal(cmd(f, "AUTH PLAIN AGFsaWNlAHB3="),
	    "-ERR [AUTH] invalid base64");
	/* "=" is an empty initial response: not a PLAIN message. */
	assert_string_equal(cmd(f, "AUTH PLAIN ="),
	    "-ERR [AUTH] malformed SASL response");
	assert_string_equal(cmdf(f, "AUTH PLAIN ", b64("alice\0pw", 8)),
	    "-ERR [AUTH] malformed SASL response");
	login(f);
	assert_string_equal(cmd(f, "AUTH"), "-ERR AUTH is not valid after "
	    "login");
	stop(f);
	/* Off loopback without TLS: no mechanism is on offer. */
	start_peer(f, "192.0.2.7", 40000, false);
	line(f);
	assert_string_equal(cmd(f, "AUTH"), "+OK");
	assert_string_equal(body(f), "");
	assert_string_equal(cmdf(f, "AUTH PLAIN ",
	    b64("\0alice\0secret pass", 18)),
	    "-ERR [AUTH] plaintext authentication disallowed without TLS");
	assert_string_equal(cmd(f, "AUTH LOGIN"),
	    "-ERR [AUTH] plaintext authentication disallowed without TLS");
}

static void
test_auth_plain(void **state)
{
	struct fixture	*f = *state;
	char		 big[700];

	/* With an initial response; the mechanism's name in any case. */
	start_peer(f, "127.0.0.1", 40000, true);
	line(f);
	assert_string_equal(cmdf(f, "AUTH plain ",
	    b64("\0alice\0wrong", 12)),
	    "-ERR [AUTH] invalid user name or password");
	assert_string_equal(cmdf(f, "AUTH PLAIN ",
	    b64("alice\0alice\0secret pass", 23)), MAILDROP2);
	assert_string_equal(cmd(f, "STAT"), "+OK 2 79");
	stop(f);
	/* Without: an empty challenge "+ ", then the response. */
	start_peer(f, "127.0.0.1", 40000, true);
	line(f);
	assert_string_equal(cmd(f, "AUTH PLAIN"), "+ ");
	assert_string_equal(cmd(f, b64("\0alice\0secret pass", 18)),
	    MAILDROP2);
	stop(f);
	/* Proxy authorization is refused, as a failed login. */
	start_peer(f, "127.0.0.1", 40000, true);
	line(f);
	assert_string_equal(cmd(f, "AUTH PLAIN"), "+ ");
	assert_string_equal(cmd(f, b64("bob\0alice\0secret pass", 21)),
	    "-ERR [AUTH] authorization identity refused: no proxy "
	    "authorization");
	/* Cancelled, and a bad continuation. */
	assert_string_equal(cmd(f, "AUTH PLAIN"), "+ ");
	assert_string_equal(cmd(f, "*"), "-ERR AUTH cancelled");
	assert_string_equal(cmd(f, "AUTH PLAIN"), "+ ");
	assert_string_equal(cmd(f, "%%%%"), "-ERR [AUTH] invalid base64");
	/* A response longer than a line ends the exchange, not the
	 * session. */
	memset(big, 'A', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	assert_string_equal(cmd(f, "AUTH PLAIN"), "+ ");
	assert_string_equal(cmd(f, big), "-ERR line too long");
	assert_string_equal(cmd(f, "NOOP"), "-ERR NOOP is not valid before "
	    "login");
}

static void
test_auth_login(void **state)
{
	struct fixture	*f = *state;

	start_peer(f, "127.0.0.1", 40000, true);
	line(f);
	assert_string_equal(cmd(f, "AUTH LOGIN"), "+ VXNlcm5hbWU6");
	assert_string_equal(cmd(f, "*"), "-ERR AUTH cancelled");
	assert_string_equal(cmd(f, "AUTH LOGIN"), "+ VXNlcm5hbWU6");
	assert_string_equal(cmd(f, b64("alice", 5)), "+ UGFzc3dvcmQ6");
	assert_string_equal(cmd(f, "*"), "-ERR AUTH cancelled");
	assert_string_equal(cmd(f, "AUTH LOGIN"), "+ VXNlcm5hbWU6");
	assert_string_equal(cmd(f, b64("alice", 5)), "+ UGFzc3dvcmQ6");
	assert_string_equal(cmd(f, b64("secret pass", 11)), MAILDROP2);
	stop(f);
	/* The initial response is the user name. */
	start_peer(f, "127.0.0.1", 40000, true);
	line(f);
	assert_string_equal(cmdf(f, "AUTH LOGIN ", b64("alice", 5)),
	    "+ UGFzc3dvcmQ6");
	assert_string_equal(cmd(f, b64("secret pass", 11)), MAILDROP2);
}

static void
test_auth_failures_close(void **state)
{
	struct fixture	*f = *state;

	f->conf.max_auth_failures = 3;
	start_peer(f, "127.0.0.1", 40000, true);
	line(f);
	assert_string_equal(cmd(f, "USER alice"), "+OK send PASS");
	assert_string_equal(cmd(f, "PASS x"),
	    "-ERR [AUTH] invalid user name or password");
	/* A cancel or bad base64 is no failed login. */
	assert_string_equal(cmd(f, "AUTH PLAIN"), "+ ");
	assert_string_equal(cmd(f, "*"), "-ERR AUTH cancelled");
	assert_string_equal(cmdf(f, "AUTH PLAIN ", b64("\0bob\0x", 6)),
	    "-ERR [AUTH] invalid user name or password");
	assert_string_equal(cmd(f, "APOP alice 0123"),
	    "-ERR [AUTH] APOP is not available on this server");
	assert_string_equal(cmd(f, "USER alice"), "+OK send PASS");
	assert_string_equal(cmd(f, "PASS y"),
	    "-ERR [AUTH] invalid user name or password");
	assert_string_equal(line(f), "-ERR [AUTH] too many failures, closing");
	assert_string_equal(line(f), "");
}

static void
test_maildrop_faults(void **state)
{
	struct fixture	*f = *state;
	char		 path[PATH_MAX + 128];

	/* A Maildir without tmp/: lasting, [SYS/PERM]. */
	snprintf(path, sizeof(path), "%s/tmp", f->md);
	assert_int_equal(rmdir(path), 0);
	start_peer(f, "127.0.0.1", 40000, true);
	line(f);
	assert_string_equal(cmd(f, "USER alice"), "+OK send PASS");
	assert_string_equal(cmd(f, "PASS secret pass"),
	    "-ERR [SYS/PERM] the maildrop is not a complete Maildir");
	stop(f);
	/* No Maildir at all: a first delivery may make it, [SYS/TEMP]. */
	assert_int_equal(fx_rmtree(f->md), 0);
	start_peer(f, "127.0.0.1", 40000, true);
	line(f);
	assert_string_equal(cmd(f, "USER alice"), "+OK send PASS");
	assert_string_equal(cmd(f, "PASS secret pass"),
	    "-ERR [SYS/TEMP] cannot open the maildrop");
}

/* apop_digest: MD5(stamp secret) in lower case hex. */
static void
apop_digest(const char *stamp, const char *secret, char out[33])
{
	unsigned char	 md[EVP_MAX_MD_SIZE];
	unsigned int	 n, i;
	EVP_MD_CTX	*ctx = EVP_MD_CTX_new();

	assert_non_null(ctx);
	assert_int_equal(EVP_DigestInit_ex(ctx, EVP_md5(), NULL), 1);
	assert_int_equal(EVP_DigestUpdate(ctx, stamp, strlen(stamp)), 1);
	assert_int_equal(EVP_DigestUpdate(ctx, secret, strlen(secret)), 1);
	assert_int_equal(EVP_DigestFinal_ex(ctx, md, &n), 1);
	EVP_MD_CTX_free(ctx);
	for (i = 0; i < n; i++)
		snprintf(out + 2 * i, 3, "%02x", md[i]);
}

/* greeting_stamp: the APOP timestamp of the greeting, checked. */
static void
greeting_stamp(struct fixture *f, char *stamp, size_t len)
{
	const char	*g = line(f), *lt;
	size_t		 n;

	lt = strchr(g, '<');
	assert_non_null(lt);
	assert_int_equal(lt - g, strlen("+OK Postern POP3 server ready "));
	n = strlen(lt);
	assert_true(n < len && n > 20);
	assert_int_equal(lt[n - 1], '>');
	assert_non_null(strstr(lt, "@test.example>"));
	/* "<pid.time.random@host>": two dots before the '@'. */
	assert_int_equal(strspn(lt + 1, "0123456789."), strchr(lt, '@') -
	    lt - 1);
	strlcpy(stamp, lt, len);
}

static void
test_apop(void **state)
{
	struct fixture	*f = *state;
	char		 path[512], stamp[256], other[256], dig[33], c[512];
	size_t		 i;

	mkfile(f, "apop", "# APOP secrets\nbob:xyzzy\nalice:tanstaaf\n",
	    0600, path, sizeof(path));
	f->conf.apop_secrets = path;
	/* Off loopback too: APOP never sends the secret. */
	start_peer(f, "192.0.2.7", 40000, false);
	greeting_stamp(f, stamp, sizeof(stamp));
	assert_string_equal(cmd(f, "APOP alice"),
	    "-ERR APOP needs a user name and a digest");
	apop_digest(stamp, "wrong", dig);
	assert_string_equal(cmdf(f, "APOP alice ", dig),
	    "-ERR [AUTH] invalid user name or digest");
	assert_string_equal(cmd(f, "APOP alice 0123"),
	    "-ERR [AUTH] invalid user name or digest");
	apop_digest(stamp, "tanstaaf", dig);
	assert_string_equal(cmdf(f, "APOP mallory ", dig),
	    "-ERR [AUTH] invalid user name or digest");
	/* Upper case hex is taken too. */
	for (i = 0; dig[i] != '\0'; i++)
		c[i] = (char)toupper((unsigned char)dig[i]);
	c[i] = '\0';
	assert_string_equal(cmdf(f, "APOP alice ", c), MAILDROP2);
	stop(f);
	/* Each session has its own timestamp: the old digest fails. */
	start_peer(f, "127.0.0.1", 40000, true);
	greeting_stamp(f, other, sizeof(other));
	assert_string_not_equal(stamp, other);
	assert_string_equal(cmdf(f, "APOP alice ", dig),
	    "-ERR [AUTH] invalid user name or digest");
	stop(f);
	/* A secrets file others may read is not used. */
	assert_int_equal(chmod(path, 0644), 0);
	start_peer(f, "127.0.0.1", 40000, true);
	greeting_stamp(f, stamp, sizeof(stamp));
	apop_digest(stamp, "tanstaaf", dig);
	assert_string_equal(cmdf(f, "APOP alice ", dig),
	    "-ERR [SYS/TEMP] authentication is unavailable, try again later");
}

static void
test_rpop(void **state)
{
	struct fixture	*f = *state;
	char		 path[512];

	/* Disabled by default. */
	start_peer(f, "192.0.2.7", 1023, false);
	line(f);
	assert_string_equal(cmd(f, "USER alice"), "-ERR [AUTH] plaintext "
	    "authentication disallowed without TLS");
	assert_string_equal(cmd(f, "RPOP mrose"), "-ERR RPOP disabled");
	stop(f);
	mkfile(f, "rpop", "# client-host remote-user local-user\n"
	    "192.0.2.7 mrose alice\n2001:db8::7 mrose alice\n", 0644, path,
	    sizeof(path));
	f->conf.rpop_trust_file = path;
	/* From a reserved port: USER is taken, PASS still is not. */
	start_peer(f, "192.0.2.7", 1023, false);
	line(f);
	assert_string_equal(cmd(f, "RPOP mrose"), "-ERR send USER first");
	assert_string_equal(cmd(f, "USER alice"), "+OK send RPOP");
	assert_string_equal(cmd(f, "PASS secret pass"), "-ERR [AUTH] "
	    "plaintext authentication disallowed without TLS");
	assert_string_equal(cmd(f, "USER alice"), "+OK send RPOP");
	assert_string_equal(cmd(f, "RPOP root"),
	    "-ERR [AUTH] permission denied");
	assert_string_equal(cmd(f, "USER bob"), "+OK send RPOP");
	assert_string_equal(cmd(f, "RPOP mrose"),
	    "-ERR [AUTH] permission denied");
	assert_string_equal(cmd(f, "USER alice"), "+OK send RPOP");
	assert_string_equal(cmd(f, "RPOP mrose x"),
	    "-ERR RPOP needs one user name");
	assert_string_equal(cmd(f, "USER alice"), "+OK send RPOP");
	assert_string_equal(cmd(f, "RPOP mrose"), MAILDROP2);
	stop(f);
	/* IPv6, written another way in the file. */
	start_peer(f, "2001:db8:0:0::7", 600, false);
	line(f);
	assert_string_equal(cmd(f, "USER alice"), "+OK send RPOP");
	assert_string_equal(cmd(f, "RPOP mrose"), MAILDROP2);
	stop(f);
	/* An unreserved port: refused even from a trusted host. */
	start_peer(f, "192.0.2.7", 1024, true);
	line(f);
	assert_string_equal(cmd(f, "USER alice"), "+OK send PASS");
	assert_string_equal(cmd(f, "RPOP mrose"),
	    "-ERR [AUTH] permission denied");
	stop(f);
	/* An untrusted host. */
	start_peer(f, "192.0.2.8", 1023, true);
	line(f);
	assert_string_equal(cmd(f, "USER alice"), "+OK send PASS");
	assert_string_equal(cmd(f, "RPOP mrose"),
	    "-ERR [AUTH] permission denied");
	stop(f);
	/* A trust file others may write is not used. */
	assert_int_equal(chmod(path, 0666), 0);
	start_peer(f, "192.0.2.7", 1023, false);
	line(f);
	assert_string_equal(cmd(f, "USER alice"), "+OK send RPOP");
	assert_string_equal(cmd(f, "RPOP mrose"), "-ERR [SYS/TEMP] "
	    "authentication is unavailable, try again later");
}

extern char **environ;

int
main(int argc, char *argv[])
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_greeting_and_quit,
		    setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_authorization,
		    setup, fx_teardown),
		cmocka_unit_test_setup_teardown(
		    test_plaintext_refused_off_loopback, setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_stat_list_uidl,
		    setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_uidl_format, setup,
		    fx_teardown),
		cmocka_unit_test_setup_teardown(test_retr_top,
		    setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_retr_removed,
		    setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_dele_rset_quit,
		    setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_retr_not_a_file,
		    setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_quit_cannot_delete,
		    setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_dele_then_drop,
		    setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_bad_input,
		    setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_bad_command_limit,
		    setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_pipelined,
		    setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_locked,
		    setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_capa_contents,
		    setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_auth_list_and_errors,
		    setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_auth_plain,
		    setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_auth_login,
		    setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_auth_failures_close,
		    setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_maildrop_faults,
		    setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_apop,
		    setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_rpop,
		    setup, fx_teardown),
	};

#ifdef HAVE_LIBBSD
	setproctitle_init(argc, argv, environ);
#endif
	log_init("test_pop3", 1);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
