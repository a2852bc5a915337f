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

/* selected: LOGIN alice and SELECT, the counts read. */
static void
selected(struct fixture *f)
{
	char	 tok[TOKEN_LEN + 1];

	login(f, tok);
	cmd(f, "SELECT");
	while (strcmp(line(f), "OK SELECT Completed") != 0)
		;
}

/* fetched: FETCH uid's frame and octets, then its completion; the
 * octets (static storage), their count in *size_r. */
static const char *
fetched(struct fixture *f, unsigned uid, long *size_r)
{
	static char	 data[8192];
	char		 c[32];
	unsigned long	 id;

	snprintf(c, sizeof(c), "FETCH %u", uid);
	assert_int_equal(frame(cmd(f, c), &id, size_r), 0);
	assert_true(*size_r > 0 && *size_r < (long)sizeof(data));
	octets(f, data, (size_t)*size_r);
	assert_string_equal(line(f), "OK FETCH Completed");
	return data;
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

/* CREATE of a name whose home directory exists (left by an account
 * removed from the passwd-file, or made by someone else): refused as a
 * taken name, the directory and what is in it left alone. */
static void
test_create_home_exists(void **state)
{
	struct fixture	*f = *state;
	char		 path[PATH_MAX + 128], line_[256];
	FILE		*fp;

	f->conf.mrp_create = true;
	snprintf(path, sizeof(path), "%s/lefthome1", f->home);
	assert_int_equal(mkdir(path, 0700), 0);
	put_in(path, "keep", "old mail\n");
	start(f);
	line(f);
	assert_string_equal(cmd(f, "CREATE lefthome1 password1"),
	    "BAD Cannot create the account: the name is taken or too many "
	    "were created");
	assert_string_equal(cmd(f, "LOGIN lefthome1 password1"),
	    "BAD Invalid name or password");
	stop(f);
	assert_int_equal(count(path, "."), 1);
	assert_non_null(fp = fopen(f->passwd, "r"));
	while (fgets(line_, sizeof(line_), fp) != NULL)
		assert_null(strstr(line_, "lefthome1"));
	fclose(fp);
}

/* max_auth_failures refused logins: the BAD, then an OK line before the
 * close (the draft's section 4.4). */
static void
test_auth_failures_close(void **state)
{
	struct fixture	*f = *state;

	f->conf.max_auth_failures = 2;
	start(f);
	line(f);
	assert_string_equal(cmd(f, "LOGIN alice wrong"),
	    "BAD Invalid name or password");
	assert_string_equal(cmd(f, "TOKEN alice "
	    "00000000-0000-4000-8000-000000000000"),
	    "BAD Invalid name or token");
	assert_string_equal(line(f), "OK Closing: too many failed logins");
	assert_string_equal(line(f), "");
}

/* A passwd-file that cannot be read is the server's failure: BAD, not
 * counted as a refused login, and the session goes on. */
static void
test_auth_unavailable(void **state)
{
	struct fixture	*f = *state;

	f->conf.max_auth_failures = 1;
	assert_int_equal(unlink(f->passwd), 0);
	start(f);
	line(f);
	assert_string_equal(cmd(f, "LOGIN alice secret"),
	    "BAD Authentication is unavailable, try again later");
	assert_string_equal(cmd(f, "LOGIN alice secret"),
	    "BAD Authentication is unavailable, try again later");
	assert_string_equal(cmd(f, "NOOP"), "OK NOOP Completed");
}

/* A name or secret with a control character is no "string". */
static void
test_credentials_visible(void **state)
{
	struct fixture	*f = *state;

	start(f);
	line(f);
	assert_string_equal(cmd(f, "LOGIN al\tice secret"),
	    "BAD Syntax error: the name must be visible 7-bit ASCII");
	assert_string_equal(cmd(f, "LOGIN alice se\tcret"),
	    "BAD Syntax error: the password must be visible 7-bit ASCII");
	assert_string_equal(cmd(f, "TOKEN alice "
	    "00000000-0000-4000-8000-00000000000\t"),
	    "BAD Syntax error: the token must be visible 7-bit ASCII");
}

/* plaintext_auth never: TOKEN and CREATE are refused in the clear too. */
static void
test_plaintext_token_create(void **state)
{
	struct fixture	*f = *state;

	f->conf.plaintext_auth = PLAINTEXT_NEVER;
	f->conf.mrp_create = true;
	start(f);
	line(f);
	assert_string_equal(cmd(f, "TOKEN alice "
	    "00000000-0000-4000-8000-000000000000"),
	    "BAD Plaintext logins are disabled here: use TLS");
	assert_string_equal(cmd(f, "CREATE newuser1 password1"),
	    "BAD Plaintext logins are disabled here: use TLS");
	stop(f);
	assert_int_equal(count(f->dir, "home"), 1);	/* alice's alone */
}

/* No login within login_timeout: an OK line, then the close. */
static void
test_autologout(void **state)
{
	struct fixture	*f = *state;

	f->conf.login_timeout = 1;
	start(f);
	line(f);
	assert_string_equal(line(f), "OK Autologout: idle for too long");
	assert_string_equal(line(f), "");
}

/* A token that cannot be stored: the login succeeds without one. */
static void
test_token_not_stored(void **state)
{
	struct fixture	*f = *state;
	char		 path[PATH_MAX + 128];

	snprintf(path, sizeof(path), "%s/%s", f->md, TOKEN_FILE);
	assert_int_equal(mkdir(path, 0700), 0);
	start(f);
	line(f);
	assert_string_equal(cmd(f, "LOGIN alice secret"),
	    "OK LOGIN Completed");
	assert_string_equal(cmd(f, "SELECT"), "* 2 EXISTS");
}

/* A Maildir that cannot be opened: SELECT answers BAD, the state stays. */
static void
test_select_unopenable(void **state)
{
	struct fixture	*f = *state;
	char		 path[PATH_MAX + 128], tok[TOKEN_LEN + 1];

	snprintf(path, sizeof(path), "%s/tmp", f->md);
	assert_int_equal(rmdir(path), 0);
	start(f);
	line(f);
	login(f, tok);
	assert_string_equal(cmd(f, "SELECT"),
	    "BAD Cannot open the mailbox, try again later");
	assert_string_equal(cmd(f, "FETCH 1"),
	    "BAD Syntax error: no mailbox selected, SELECT first");
}

/* The summary's fields: the first of each, unfolded, trimmed; a header
 * without a body or a last newline is read to its end. */
static void
test_summary_fields(void **state)
{
	struct fixture	*f = *state;
	static const char want[] = "UID: 3\r\nSender: first@example.org\r\n"
	    "Recipient: carol@example.org\r\n"
	    "Subject: folded   and trimmed\r\nDate: 2001-09-09\r\n"
	    "Subject:   folded  \r\n";
	const char	*data;
	long		 size;

	put_in(f->md, "new/1000000003.c.test", "Subject:   folded  \n"
	    "\tand trimmed  \nsubject: second\nX-Other: y\n"
	    "From: first@example.org\nFROM: second@example.org\n"
	    "To: carol@example.org");
	start(f);
	line(f);
	selected(f);
	data = fetched(f, 3, &size);
	assert_memory_equal(data, want, sizeof(want) - 1);
	assert_int_equal(strncmp(data + size - 23, "To: carol@example.org\r\n",
	    23), 0);
}

/* SEARCH RECIPIENT looks at Cc too, ALL at the header fields as well
 * as the body; only the first From is the sender. */
static void
test_search_fields(void **state)
{
	struct fixture	*f = *state;

	put_in(f->md, "new/1000000003.c.test", "From: first@example.org\n"
	    "From: second@example.org\nCc: dave@example.org\n"
	    "Subject: hello\n\nbody text\n");
	start(f);
	line(f);
	selected(f);
	assert_string_equal(cmd(f, "SEARCH RECIPIENT=[dave@]"), "* SEARCH 3");
	assert_string_equal(line(f), "OK SEARCH Completed");
	assert_string_equal(cmd(f, "SEARCH ALL=[dave@]"), "* SEARCH 3");
	assert_string_equal(line(f), "OK SEARCH Completed");
	assert_string_equal(cmd(f, "SEARCH ALL=[body text]"), "* SEARCH 3");
	assert_string_equal(line(f), "OK SEARCH Completed");
	assert_string_equal(cmd(f, "SEARCH SENDER=[second@]"),
	    "* SEARCH FOUND NO RESULTS");
	assert_string_equal(line(f), "OK SEARCH Completed");
	assert_string_equal(cmd(f, "SEARCH SINCE=[2018-1x-01]"),
	    "BAD Syntax error: a date is YYYY-MM-DD");
}

/* Dates: two- and three-digit years as RFC 5322 reads them; a Date
 * that cannot be read gives way to the delivery day. */
static void
test_header_dates(void **state)
{
	struct fixture	*f = *state;
	long		 size;

	put_in(f->md, "new/1000000003.c.test", "Date: Tue, 2 Jan 18\n\nx\n");
	put_in(f->md, "new/1000000004.d.test", "Date: 3 Feb 49\n\nx\n");
	put_in(f->md, "new/1000000005.e.test", "Date: 4 Mar 50\n\nx\n");
	put_in(f->md, "new/1000000006.f.test", "Date: 5 Apr 118\n\nx\n");
	put_in(f->md, "new/1000000007.g.test", "Date: 6 May 20180\n\nx\n");
	put_in(f->md, "new/1000000008.h.test", "Date: 7 anf 2018\n\nx\n");
	start(f);
	line(f);
	selected(f);
	assert_non_null(strstr(fetched(f, 3, &size),
	    "\r\nDate: 2018-01-02\r\n"));
	assert_non_null(strstr(fetched(f, 4, &size),
	    "\r\nDate: 2049-02-03\r\n"));
	assert_non_null(strstr(fetched(f, 5, &size),
	    "\r\nDate: 1950-03-04\r\n"));
	assert_non_null(strstr(fetched(f, 6, &size),
	    "\r\nDate: 2018-04-05\r\n"));
	assert_non_null(strstr(fetched(f, 7, &size),
	    "\r\nDate: 2001-09-09\r\n"));
	assert_non_null(strstr(fetched(f, 8, &size),
	    "\r\nDate: 2001-09-09\r\n"));
}

/* A message removed by another agent since SELECT: left out of FETCH
 * and SEARCH, and CHANGE finds no such message. */
static void
test_removed_message(void **state)
{
	struct fixture	*f = *state;
	struct fx_dir	 log;
	char		 path[PATH_MAX + 128], l[64];
	unsigned long	 id;
	long		 size;

	capture(&log);
	start(f);
	line(f);
	selected(f);
	assert_int_equal(frame(cmd(f, "FETCH 2"), &id, &size), 0);
	octets(f, path, (size_t)size);
	line(f);
	snprintf(path, sizeof(path), "%s/cur/1000000002.b.test:2,S", f->md);
	assert_int_equal(unlink(path), 0);
	assert_string_equal(cmd(f, "FETCH 2"), "OK FETCH Completed");
	assert_string_equal(cmd(f, "SEARCH BODY=[hello]"),
	    "* SEARCH FOUND NO RESULTS");
	assert_string_equal(line(f), "OK SEARCH Completed");
	snprintf(l, sizeof(l), "CHANGE %lu SEEN", id);
	assert_string_equal(cmd(f, l), "BAD Message ID is not valid!");
	assert_string_equal(cmd(f, "NOOP"), "OK NOOP Completed");
	assert_string_equal(cmd(f, "LOGOUT"), "OK LOGOUT Completed");
	stop(f);
	/* The logout line counts the message sent, not the one left out. */
	assert_true(captured(&log, " fetch=1 search=1 change=0 "));
}

/* A message rewritten since SELECT: the frame keeps its SIZE, the text
 * cut when longer, padded with spaces when shorter. */
static void
test_fetch_size_kept(void **state)
{
	struct fixture	*f = *state;
	static const char sum[] = "UID: 2\r\nSender: \r\nRecipient: \r\n"
	    "Subject: plain\r\nDate: 2001-09-09\r\n";
	char		 want[256];
	const char	*data;
	long		 size;

	start(f);
	line(f);
	selected(f);
	put_in(f->md, "cur/1000000002.b.test:2,S",
	    "Subject: plain\n\nhello, and much more\n");
	data = fetched(f, 2, &size);
	snprintf(want, sizeof(want), "%sSubject: plain\r\n\r\nhello, ", sum);
	assert_int_equal(size, strlen(want));
	assert_memory_equal(data, want, strlen(want));
	put_in(f->md, "cur/1000000002.b.test:2,S", "Subject: plain\n\nhi\n");
	data = fetched(f, 2, &size);
	snprintf(want, sizeof(want), "%sSubject: plain\r\n\r\nhi\r\n   ", sum);
	assert_int_equal(size, strlen(want));
	assert_memory_equal(data, want, strlen(want));
	assert_string_equal(cmd(f, "NOOP"), "OK NOOP Completed");
}

/* A Maildir whose 26 keyword letters are all taken: SENT cannot be set,
 * and the message keeps its flag. */
static void
test_sent_keywords_full(void **state)
{
	struct fixture	*f = *state;
	char		 kw[512], l[64];
	unsigned long	 id, id2;
	long		 size;
	size_t		 n = 0;
	int		 i;

	for (i = 0; i < 26; i++)
		n += (size_t)snprintf(kw + n, sizeof(kw) - n, "%d kw%d\n", i,
		    i);
	put_in(f->md, "postern-keywords", kw);
	start(f);
	line(f);
	selected(f);
	assert_int_equal(frame(cmd(f, "FETCH 2"), &id, &size), 0);
	octets(f, kw, (size_t)size);
	line(f);
	snprintf(l, sizeof(l), "CHANGE %lu SENT", id);
	assert_string_equal(cmd(f, l), "BAD Cannot flag the message SENT");
	assert_int_equal(frame(cmd(f, "FETCH 2 SEEN"), &id2, &size), 0);
	assert_int_equal(id2, id);
}

/* A message whose name carries flags in an unknown form (":1,"): CHANGE
 * leaves it as it is and says why, not "try again later". */
static void
test_change_unknown_info(void **state)
{
	struct fixture	*f = *state;
	char		 l[64], path[PATH_MAX + 192], data[8192];
	unsigned long	 id;
	long		 size;

	put_in(f->md, "cur/1000000003.c.test:1,odd", PLAIN);
	start(f);
	line(f);
	selected(f);
	assert_int_equal(frame(cmd(f, "FETCH 3"), &id, &size), 0);
	assert_true(size > 0 && size < (long)sizeof(data));
	octets(f, data, (size_t)size);
	assert_string_equal(line(f), "OK FETCH Completed");
	snprintf(l, sizeof(l), "CHANGE %lu SEEN", id);
	assert_string_equal(cmd(f, l), "BAD Cannot change the flag: the "
	    "message's file name has flags of an unknown form");
	assert_int_equal(count(f->md, "cur"), 2);
	snprintf(path, sizeof(path), "%s/cur/1000000003.c.test:1,odd",
	    f->md);
	assert_int_equal(access(path, F_OK), 0);
}

/* token_file: writes text as alice's token file with mode; its path. */
static const char *
token_file(struct fixture *f, const char *text, mode_t mode)
{
	static char	 path[PATH_MAX + 128];

	snprintf(path, sizeof(path), "%s/%s", f->md, TOKEN_FILE);
	(void)unlink(path);
	put_in(f->md, TOKEN_FILE, text);
	assert_int_equal(chmod(path, mode), 0);
	return path;
}

/* A token file that is damaged, unsafe or no file: the token is refused
 * as a temporary failure, with the reason, never taken. */
static void
test_token_file_faults(void **state)
{
	struct fixture	*f = *state;
	char		 tok[TOKEN_LEN + 1], good[256];
	const char	*why, *path;
	FILE		*fp;

	assert_int_equal(token_issue(f->md, tok), 0);
	path = token_file(f, "", 0600);
	assert_int_equal(token_check(f->md, -1, tok, &why), AUTH_TEMPFAIL);
	assert_string_equal(why, "token file malformed");
	assert_int_equal(token_issue(f->md, tok), 0);
	assert_non_null(fp = fopen(path, "r"));
	assert_non_null(fgets(good, sizeof(good), fp));
	fclose(fp);
	good[0] = 'S';		/* "Sha256:" */
	token_file(f, good, 0600);
	assert_int_equal(token_check(f->md, -1, tok, &why), AUTH_TEMPFAIL);
	assert_string_equal(why, "token file malformed");
	good[0] = 's';
	token_file(f, good, 0622);
	assert_int_equal(token_check(f->md, -1, tok, &why), AUTH_TEMPFAIL);
	assert_string_equal(why, "token file unsafe");
	token_file(f, good, 0600);
	assert_int_equal(token_check(f->md, -1, tok, &why), AUTH_OK);
	assert_int_equal(unlink(path), 0);
	assert_int_equal(symlink("/etc/passwd", path), 0);
	assert_int_equal(token_check(f->md, -1, tok, &why), AUTH_TEMPFAIL);
	assert_string_equal(why, "token file unreadable");
	assert_int_equal(unlink(path), 0);
	assert_int_equal(token_check(f->md, -1, tok, &why), AUTH_FAILED);
	assert_string_equal(why, "no token issued");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_states, setup,
		    fx_teardown),
		cmocka_unit_test_setup_teardown(test_tokens, setup,
		    fx_teardown),
		cmocka_unit_test_setup_teardown(test_token_file_faults, setup,
		    fx_teardown),
		cmocka_unit_test_setup_teardown(test_fetch_framing, setup,
		    fx_teardown),
		cmocka_unit_test_setup_teardown(test_change_expunge, setup,
		    fx_teardown),
		cmocka_unit_test_setup_teardown(test_create, setup,
		    fx_teardown),
		cmocka_unit_test_setup_teardown(test_create_home_exists, setup,
		    fx_teardown),
		cmocka_unit_test_setup_teardown(test_auth_failures_close, setup,
		    fx_teardown),
		cmocka_unit_test_setup_teardown(test_auth_unavailable, setup,
		    fx_teardown),
		cmocka_unit_test_setup_teardown(test_credentials_visible, setup,
		    fx_teardown),
		cmocka_unit_test_setup_teardown(test_plaintext_token_create,
		    setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_autologout, setup,
		    fx_teardown),
		cmocka_unit_test_setup_teardown(test_token_not_stored, setup,
		    fx_teardown),
		cmocka_unit_test_setup_teardown(test_select_unopenable, setup,
		    fx_teardown),
		cmocka_unit_test_setup_teardown(test_summary_fields, setup,
		    fx_teardown),
		cmocka_unit_test_setup_teardown(test_search_fields, setup,
		    fx_teardown),
		cmocka_unit_test_setup_teardown(test_header_dates, setup,
		    fx_teardown),
		cmocka_unit_test_setup_teardown(test_removed_message, setup,
		    fx_teardown),
		cmocka_unit_test_setup_teardown(test_fetch_size_kept, setup,
		    fx_teardown),
		cmocka_unit_test_setup_teardown(test_change_unknown_info, setup,
		    fx_teardown),
		cmocka_unit_test_setup_teardown(test_sent_keywords_full, setup,
		    fx_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
