/*
 * test_mrp.c: the MRP module's replies over a socketpair.  A forked child
 * runs mrp_protocol.serve() with a temporary passwd-file and Maildir
 * (logins checked in the child, no privilege separation); the test
 * speaks MRP on the other end: states, tokens, FETCH framing, CHANGE and
 * EXPUNGE on disk, CREATE.
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
#include "server/account.h"
#include "server/io.h"
#include "server/session.h"
#include "server/token.h"
#include "tests/unit/fixture.h"

/* A message whose lines look like MRP replies, without a final newline. */
static const char TRICKY[] = "From: a@example.org\nTo: b@example.org\n"
    "Subject: tricky\nDate: Tue, 2 Jan 2018 10:00:00 +0000\n\n"
    "* FETCH ID 1 SIZE 2\nOK FETCH Completed\nBAD Syntax error\n"
    "no newline";
static const char PLAIN[] = "Subject: plain\n\nhello\n";

/* octets: the next n octets into out (NUL-terminated). */
static void
octets(struct fixture *f, char *out, size_t n)
{
	while (f->len < n)
		assert_true(fill(f));
	memcpy(out, f->buf, n);
	out[n] = '\0';
	memmove(f->buf, f->buf + n, f->len - n);
	f->len -= n;
}

/* frame: parses "* FETCH ID id SIZE n" into *id and *size; 0 or -1. */
static int
frame(const char *l, unsigned long *id, long *size)
{
	char	*end;

	*id = 0;
	*size = 0;
	if (strncmp(l, "* FETCH ID ", 11) != 0)
		return -1;
	*id = strtoul(l + 11, &end, 10);
	if (strncmp(end, " SIZE ", 6) != 0)
		return -1;
	*size = strtol(end + 6, &end, 10);
	return *end == '\0' ? 0 : -1;
}

/* setup: alice, with a message in new/ and one seen in cur/. */
static int
setup(void **state)
{
	struct fixture	*f = fx_new("mrp");

	account(f, "alice", "secret", NULL);
	put_in(f->md, "new/1000000001.a.test", TRICKY);
	put_in(f->md, "cur/1000000002.b.test:2,S", PLAIN);
	f->conf.max_auth_failures = 10;
	f->conf.mrp_create_home = f->home;
	f->conf.mrp_create_rate = 2;
	*state = f;
	return 0;
}

/* login: LOGIN alice; the token it answers into tok (TOKEN_LEN + 1). */
static void
login(struct fixture *f, char *tok)
{
	const char	*l = cmd(f, "LOGIN alice secret");

	assert_int_equal(strncmp(l, "* TOKEN ", 8), 0);
	assert_int_equal(strlen(l + 8), TOKEN_LEN);
	strlcpy(tok, l + 8, TOKEN_LEN + 1);
	assert_string_equal(line(f), "OK LOGIN Completed");
}

/* Before login: what is allowed and what is not. */
static void
test_states(void **state)
{
	struct fixture	*f = *state;
	char		 tok[TOKEN_LEN + 1];

	start(f);
	assert_string_equal(line(f), "OK Postern MRP server ready");
	assert_string_equal(cmd(f, "NoOp"), "OK NOOP Completed");
	assert_string_equal(cmd(f, "SELECT"),
	    "BAD Not logged in: LOGIN or TOKEN first");
	assert_string_equal(cmd(f, "EXPUNGE"),
	    "BAD Not logged in: LOGIN or TOKEN first");
	assert_string_equal(cmd(f, "CREATE abcdefgh abcdefgh"),
	    "BAD account creation disabled");
	assert_string_equal(cmd(f, "LOGIN alice wrong"),
	    "BAD Invalid name or password");
	assert_string_equal(cmd(f, "LOGIN alice"),
	    "BAD Syntax error: missing password");
	login(f, tok);
	assert_string_equal(cmd(f, "CHANGE 1 SEEN"),
	    "BAD Syntax error: no mailbox selected, SELECT first");
	assert_string_equal(cmd(f, "TOKEN alice x"), "BAD Already logged in");
	assert_string_equal(cmd(f, "SELECT"), "* 2 EXISTS");
	assert_string_equal(line(f), "* 1 RECENT");
	assert_string_equal(line(f), "* 0 SENT");
	assert_string_equal(line(f), "* 0 DRAFT");
	assert_string_equal(line(f), "* 1 SEEN");
	assert_string_equal(line(f), "* 0 DELETED");
	assert_string_equal(line(f), "OK SELECT Completed");
	assert_string_equal(cmd(f, "SELECT"),
	    "BAD Mailbox already selected: LOGOUT first");
	assert_string_equal(cmd(f, "LOGOUT"), "OK LOGOUT Completed");
	assert_string_equal(cmd(f, "LOGOUT"),
	    "BAD Syntax error: no mailbox selected, SELECT first");
	assert_string_equal(cmd(f, "QUIT"), "OK QUIT Completed");
	assert_string_equal(line(f), "");
	stop(f);
}

/* Tokens: hashed on disk, replaced by each LOGIN, checked exactly. */
static void
test_tokens(void **state)
{
	struct fixture	*f = *state;
	char		 tok[TOKEN_LEN + 1], tok2[TOKEN_LEN + 1], l[128];
	char		 path[PATH_MAX + 128], data[256];
	const char	*why;
	FILE		*fp;

	start(f);
	line(f);
	login(f, tok);
	stop(f);
	snprintf(path, sizeof(path), "%s/alice/Maildir/%s", f->home,
	    TOKEN_FILE);
	assert_non_null(fp = fopen(path, "r"));
	assert_non_null(fgets(data, sizeof(data), fp));
	fclose(fp);
	assert_null(strstr(data, tok));
	assert_int_equal(strncmp(data, "sha256:", 7), 0);
	assert_int_equal(token_check(f->md, -1, tok, &why), AUTH_OK);
	tok2[0] = tok[0] == 'a' ? 'b' : 'a';
	strlcpy(tok2 + 1, tok + 1, sizeof(tok2) - 1);
	assert_int_equal(token_check(f->md, -1, tok2, &why), AUTH_FAILED);
	assert_int_equal(token_check(f->md, (long)getuid() + 1, tok, &why),
	    AUTH_TEMPFAIL);

	start(f);
	line(f);
	snprintf(l, sizeof(l), "TOKEN alice %s", tok);
	assert_string_equal(cmd(f, l), "OK TOKEN Completed");
	stop(f);
	start(f);
	line(f);
	login(f, tok2);
	assert_string_not_equal(tok, tok2);
	stop(f);
	start(f);
	line(f);
	assert_string_equal(cmd(f, l), "BAD Invalid name or token");
	assert_string_equal(cmd(f, "TOKEN alice short"),
	    "BAD Syntax error: a token is 36 characters");
	snprintf(l, sizeof(l), "TOKEN alice %s", tok2);
	assert_string_equal(cmd(f, l), "OK TOKEN Completed");
	stop(f);
}

/* FETCH: the frame's size covers the summary and the message exactly,
 * whatever its lines look like. */
static void
test_fetch_framing(void **state)
{
	struct fixture	*f = *state;
	char		 tok[TOKEN_LEN + 1], data[4096], want[4096];
	const char	*l;
	unsigned long	 id;
	long		 size;

	start(f);
	line(f);
	login(f, tok);
	cmd(f, "SELECT");
	while (strcmp(line(f), "OK SELECT Completed") != 0)
		;
	l = cmd(f, "FETCH 1");
	assert_int_equal(frame(l, &id, &size), 0);
	assert_true(size > 0 && size < (int)sizeof(data));
	octets(f, data, (size_t)size);
	snprintf(want, sizeof(want), "UID: 1\r\nSender: a@example.org\r\n"
	    "Recipient: b@example.org\r\nSubject: tricky\r\n"
	    "Date: 2018-01-02\r\nFrom: a@example.org\r\n");
	assert_int_equal(strncmp(data, want, strlen(want)), 0);
	assert_non_null(strstr(data, "\r\n* FETCH ID 1 SIZE 2\r\n"
	    "OK FETCH Completed\r\nBAD Syntax error\r\nno newline\r\n"));
	assert_int_equal(data[size - 1], '\n');
	assert_string_equal(line(f), "OK FETCH Completed");
	l = cmd(f, "FETCH 2:1 SEEN");
	assert_int_equal(frame(l, &id, &size), 0);
	octets(f, data, (size_t)size);
	assert_non_null(strstr(data, "UID: 2\r\n"));
	assert_string_equal(line(f), "OK FETCH Completed");
	assert_string_equal(cmd(f, "FETCH 3"),
	    "BAD UID 3 is beyond the mailbox (2 messages)");
	assert_string_equal(cmd(f, "SEARCH BODY=[OK FETCH]"), "* SEARCH 1");
	assert_string_equal(line(f), "OK SEARCH Completed");
	/* Message 2 has no Date field: its delivery time, 2001. */
	assert_string_equal(cmd(f, "SEARCH UNTIL=[2018-01-01]"), "* SEARCH 2");
	assert_string_equal(line(f), "OK SEARCH Completed");
	stop(f);
}

/* CHANGE and EXPUNGE reach the Maildir and last. */
static void
test_change_expunge(void **state)
{
	struct fixture	*f = *state;
	char		 tok[TOKEN_LEN + 1], l[64], data[4096];
	unsigned long	 id;
	long		 size;

	start(f);
	line(f);
	login(f, tok);
	cmd(f, "SELECT");
	while (strcmp(line(f), "OK SELECT Completed") != 0)
		;
	assert_int_equal(frame(cmd(f, "FETCH 1"), &id, &size), 0);
	octets(f, data, (size_t)size);
	line(f);
	snprintf(l, sizeof(l), "CHANGE %lu DELETED", id);
	assert_string_equal(cmd(f, l), "OK CHANGE Completed");
	assert_int_equal(count(f->md, "new"), 0);
	assert_int_equal(count(f->md, "cur"), 2);
	assert_string_equal(cmd(f, "EXPUNGE"), "OK EXPUNGE Completed");
	assert_int_equal(count(f->md, "cur"), 1);
	assert_string_equal(cmd(f, l), "BAD Message ID is not valid!");
	assert_string_equal(cmd(f, "FETCH 2"),
	    "BAD UID 2 is beyond the mailbox (1 messages)");
	stop(f);
	start(f);
	line(f);
	login(f, tok);
	assert_string_equal(cmd(f, "SELECT"), "* 1 EXISTS");
	assert_string_equal(line(f), "* 0 RECENT");
	stop(f);
}

/* CREATE: a passwd-file line, a Maildir, a token; names unique in any
 * case; the rate limit. */
static void
test_create(void **state)
{
	struct fixture	*f = *state;
	char		 path[PATH_MAX + 128];
	const char	*l;
	struct stat	 st;

	f->conf.mrp_create = true;
	start(f);
	line(f);
	l = cmd(f, "CREATE newuser1 password1");
	assert_int_equal(strncmp(l, "* TOKEN ", 8), 0);
	assert_string_equal(line(f), "OK CREATE Completed");
	assert_string_equal(cmd(f, "SELECT"), "* 0 EXISTS");
	stop(f);
	snprintf(path, sizeof(path), "%s/newuser1/Maildir/cur", f->home);
	assert_int_equal(stat(path, &st), 0);
	start(f);
	line(f);
	assert_string_equal(cmd(f, "CREATE NEWUSER1 password2"),
	    "BAD Cannot create the account: the name is taken or too many "
	    "were created");
	stop(f);
	start(f);
	line(f);
	l = cmd(f, "CREATE another12 password3");
	assert_int_equal(strncmp(l, "* TOKEN ", 8), 0);
	assert_string_equal(line(f), "OK CREATE Completed");
	stop(f);
	start(f);
	line(f);
	assert_string_equal(cmd(f, "CREATE thirdone password4"),
	    "BAD Cannot create the account: the name is taken or too many "
	    "were created");
	l = cmd(f, "LOGIN newuser1 password1");
	assert_int_equal(strncmp(l, "* TOKEN ", 8), 0);
	assert_string_equal(line(f), "OK LOGIN Completed");
	stop(f);
	assert_false(account_name_valid("short"));
	assert_false(account_name_valid(".dotfirst"));
	assert_false(account_name_valid("has/slash1"));
	assert_true(account_name_valid("a.b+c-d@e_f"));
	assert_false(account_password_valid("seven77"));
	assert_false(account_password_valid("with space"));
	assert_true(account_password_valid("thirty-characters-long-passwrd"));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_states, setup,
		    fx_teardown),
		cmocka_unit_test_setup_teardown(test_tokens, setup,
		    fx_teardown),
		cmocka_unit_test_setup_teardown(test_fetch_framing, setup,
		    fx_teardown),
		cmocka_unit_test_setup_teardown(test_change_expunge, setup,
		    fx_teardown),
		cmocka_unit_test_setup_teardown(test_create, setup,
		    fx_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
