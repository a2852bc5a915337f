/*
 * test_papm.c: the PAPM module's replies, pull and push, command by
 * command with their error cases.  A forked child runs
 * papm_protocol.serve() on one end of a socketpair with a temporary
 * passwd-file and Maildirs for alice and bob; the test speaks PAPM on the
 * other end and checks every reply and what lands in the Maildirs.
 */
#include <sys/stat.h>

#include <dirent.h>
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
#include "tests/unit/fixture.h"

static const char MSG1[] = "Subject: one\n\nfirst body\n";	/* 28 */
static const char MSG2[] = "Subject: two\n\n.\n..x\nno newline";	/* 36 */
/* A domain label of the longest length, 63. */
#define MAXLABEL	"abcdefghijklmnopqrstuvwxyz" \
			"abcdefghijklmnopqrstuvwxyz0123456789a"

/* nothing_for: user's Maildir got nothing, not even a file left in
 * tmp/. */
static void
nothing_for(struct fixture *f, const char *user)
{
	assert_int_equal(count(maildir_of(f, user), "new"), 0);
	assert_int_equal(count(maildir_of(f, user), "tmp"), 0);
}

/* only_new: the text of the one file in md/new (static buffer). */
static const char *
only_new(const char *md)
{
	static char	 text[8192];
	char		 path[1024];
	DIR		*d;
	struct dirent	*e;
	ssize_t		 n;
	int		 fd, found = 0;

	snprintf(path, sizeof(path), "%s/new", md);
	assert_non_null(d = opendir(path));
	while ((e = readdir(d)) != NULL) {
		if (e->d_name[0] == '.')
			continue;
		found++;
		snprintf(path, sizeof(path), "%s/new/%s", md, e->d_name);
	}
	closedir(d);
	assert_int_equal(found, 1);
	assert_true((fd = open(path, O_RDONLY)) >= 0);
	n = read(fd, text, sizeof(text) - 1);
	close(fd);
	assert_true(n >= 0);
	text[n] = '\0';
	return text;
}

/* setup: alice, with two messages in new/, and bob. */
static int
setup(void **state)
{
	struct fixture	*f = fx_new("papm");

	account(f, "alice", "secret", NULL);
	account(f, "bob", "builder", NULL);
	put_in(f->md, "new/1000000001.a.test", MSG1);
	put_in(f->md, "new/1000000002.b.test", MSG2);
	f->conf.lmtp_temp_dir = f->dir;
	f->conf.papm_max_message_size = 1024;
	f->conf.papm_helo_domains = "bar.com,hotmail.com";
	f->conf.papm_relay_command = "";
	*state = f;
	return 0;
}

/* login: USER and PASS for alice. */
static void
login(struct fixture *f)
{
	assert_string_equal(cmd(f, "USER alice"), "+OK mail drop name valid");
	assert_string_equal(cmd(f, "PASS secret"), "+OK mail drop ready");
}

static void
test_login(void **state)
{
	struct fixture	*f = *state;

	start(f);
	assert_string_equal(line(f), "+OK Postern PAPM server ready");
	assert_string_equal(cmd(f, "STAT"),
	    "-ERR STAT is not valid before login");
	assert_string_equal(cmd(f, "PASS x"), "-ERR send USER first");
	assert_string_equal(cmd(f, "USER"), "-ERR mail drop name invalid");
	assert_string_equal(cmd(f, "USER a b"), "-ERR mail drop name invalid");
	assert_string_equal(cmd(f, "USER god"), "+OK mail drop name valid");
	assert_string_equal(cmd(f, "PASS god"), "-ERR invalid username/"
	    "password combination");
	assert_string_equal(cmd(f, "USER alice"), "+OK mail drop name valid");
	assert_string_equal(cmd(f, "PASS wrong"), "-ERR invalid username/"
	    "password combination");
	login(f);
	assert_string_equal(cmd(f, "PASS secret"),
	    "-ERR PASS is not valid after login");
	assert_string_equal(cmd(f, "WHAT"), "-ERR unknown command");
	assert_string_equal(cmd(f, "QUIT"), "+OK server signing off");
	assert_string_equal(line(f), "");
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
	assert_string_equal(cmd(f, "USER alice"), "+OK mail drop name valid");
	assert_string_equal(cmd(f, "PASS x"), "-ERR invalid username/"
	    "password combination");
	assert_string_equal(cmd(f, "USER alice"), "+OK mail drop name valid");
	assert_string_equal(cmd(f, "PASS y"), "-ERR invalid username/"
	    "password combination");
	assert_string_equal(line(f), "-ERR too many failures, closing");
	assert_string_equal(line(f), "");
	stop(f);
	assert_int_equal(unlink(f->passwd), 0);
	start(f);
	line(f);
	assert_string_equal(cmd(f, "USER alice"), "+OK mail drop name valid");
	assert_string_equal(cmd(f, "PASS secret"),
	    "-ERR authentication is unavailable, try again later");
	assert_string_equal(cmd(f, "NOOP"), "+OK");
}

/*
 * A message file removed by another agent after the READ before it: the
 * next message not marked deleted (here 3, as 2 is) was opened ahead and
 * is sent although its file is gone; the next READ of it finds it gone.
 */
static void
test_read_ahead(void **state)
{
	struct fixture	*f = *state;
	char		 path[sizeof(f->md) + 64];
	static const char MSG3[] = "Subject: three\n\nthird\n";	/* 25 */

	put_in(f->md, "new/1000000003.c.test", MSG3);
	start(f);
	line(f);
	login(f);
	assert_string_equal(cmd(f, "DELE 2"), "+OK message deleted");
	assert_string_equal(cmd(f, "READ 1"), "+OK 1 28");
	assert_string_equal(body(f), MSG1);
	/* NOOP's reply: the server is done with READ 1, read-ahead too */
	assert_string_equal(cmd(f, "NOOP"), "+OK");
	snprintf(path, sizeof(path), "%s/new/1000000003.c.test", f->md);
	assert_int_equal(unlink(path), 0);
	assert_string_equal(cmd(f, "READ 3"), "+OK 3 25");
	assert_string_equal(body(f), MSG3);
	assert_string_equal(cmd(f, "READ 3"), "-ERR no such message");
	assert_string_equal(cmd(f, "QUIT"), "+OK server signing off");
	stop(f);
}

static void
test_pull(void **state)
{
	struct fixture	*f = *state;

	start(f);
	line(f);
	login(f);
	assert_string_equal(cmd(f, "STAT"), "+OK 2 64");
	assert_string_equal(cmd(f, "LIST"), "+OK 1 28");
	assert_string_equal(body(f), "+OK 2 36\n");
	assert_string_equal(cmd(f, "LIST 2"), "+OK 2 36");
	assert_string_equal(cmd(f, "LIST 3"), "-ERR no such message");
	assert_string_equal(cmd(f, "LIST 0"), "-ERR no such message");
	assert_string_equal(cmd(f, "LIST 1 2"), "-ERR LIST takes at most one "
	    "argument");
	assert_string_equal(cmd(f, "READ 2"), "+OK 2 36");
	assert_string_equal(body(f), "Subject: two\n\n..\n...x\nno newline\n");
	assert_string_equal(cmd(f, "READ"), "-ERR message number required");
	assert_string_equal(cmd(f, "DELE 1"), "+OK message deleted");
	assert_string_equal(cmd(f, "DELE 1"), "-ERR no such message");
	assert_string_equal(cmd(f, "READ 1"), "-ERR no such message");
	assert_string_equal(cmd(f, "STAT"), "+OK 1 36");
	assert_string_equal(cmd(f, "RSET"), "+OK");
	assert_string_equal(cmd(f, "STAT"), "+OK 2 64");
	assert_string_equal(cmd(f, "DELE 1"), "+OK message deleted");
	assert_string_equal(cmd(f, "DELE 2"), "+OK message deleted");
	assert_string_equal(cmd(f, "LIST"), "+OK");
	assert_string_equal(line(f), ".");
	assert_string_equal(cmd(f, "NOOP"), "+OK");
	assert_int_equal(count(f->md, "new"), 2);
	assert_string_equal(cmd(f, "QUIT"), "+OK server signing off");
	stop(f);
	assert_int_equal(count(f->md, "new") + count(f->md, "cur"), 0);
}

static void
test_drop_and_quti(void **state)
{
	struct fixture	*f = *state;

	start(f);
	line(f);
	login(f);
	assert_string_equal(cmd(f, "DELE 1"), "+OK message deleted");
	stop(f);
	assert_int_equal(count(f->md, "new") + count(f->md, "cur"), 2);
	start(f);
	line(f);
	login(f);
	assert_string_equal(cmd(f, "DELE 2"), "+OK message deleted");
	assert_string_equal(cmd(f, "QUTI"), "+OK");
	assert_string_equal(line(f), "");
	stop(f);
	assert_int_equal(count(f->md, "new") + count(f->md, "cur"), 1);
}

static void
test_push_before_login(void **state)
{
	struct fixture	*f = *state;

	start(f);
	line(f);
	assert_string_equal(cmd(f, "HELO bar.com"),
	    "-ERR HELO is not valid before login");
	assert_string_equal(cmd(f, "MAIL FROM: alice@bar.com"),
	    "-ERR user account not registered");
	assert_string_equal(cmd(f, "RCPT TO: bob@bar.com"),
	    "-ERR send MAIL FROM: first");
	assert_string_equal(cmd(f, "DATA"), "-ERR send MAIL FROM: first");
	assert_string_equal(cmd(f, "RSTE"), "+OK");
	assert_string_equal(cmd(f, "NOPO"), "+OK");
	assert_string_equal(cmd(f, "QUTI"), "+OK");
	stop(f);
	assert_int_equal(count(maildir_of(f, "bob"), "new"), 0);
}

static void
test_push_two_users(void **state)
{
	struct fixture	*f = *state;
	char		 want[256];

	start(f);
	line(f);
	login(f);
	assert_string_equal(cmd(f, "MAIL FROM: alice@bar.com"),
	    "-ERR send HELO first");
	assert_string_equal(cmd(f, "HELO bal.com"), "-ERR");
	assert_string_equal(cmd(f, "HELO -x.com"), "-ERR HELO needs a domain "
	    "name");
	assert_string_equal(cmd(f, "HELO bar.com"), "+OK");
	assert_string_equal(cmd(f, "MAIL FROM: bob@bar.com"),
	    "-ERR user account not registered");
	assert_string_equal(cmd(f, "MAIL FROM: alice@elsewhere.org"),
	    "-ERR user account not registered");
	assert_string_equal(cmd(f, "MAIL FROM: alice@test.example"), "+OK");
	assert_string_equal(cmd(f, "MAIL FROM: alice@bar.com"),
	    "-ERR sender already given: send RSTE to start again");
	assert_string_equal(cmd(f, "DATA"), "-ERR send RCPT TO: first");
	assert_string_equal(cmd(f, "RCPT TO: nobody@bar.com"),
	    "-ERR user account invalid");
	assert_string_equal(cmd(f, "RCPT TO: friend@far.away"),
	    "-ERR relaying to other domains is not available");
	assert_string_equal(cmd(f, "RCPT TO: <bob@hotmail.com>"), "+OK");
	assert_string_equal(cmd(f, "RCPT TO: alice"), "+OK");
	assert_string_equal(cmd(f, "DATA x"), "-ERR DATA takes no argument");
	assert_string_equal(cmd(f, "DATA"), "+OK");
	send_text(f, "Subject: hi\r\n\r\n..\r\n..From\r\nbare lf\nend\r\n");
	assert_string_equal(cmd(f, "."), "+OK");
	snprintf(want, sizeof(want), "Subject: hi\n\n.\n.From\nbare lf\n"
	    "end\n");
	assert_string_equal(only_new(maildir_of(f, "bob")), want);
	assert_int_equal(count(f->md, "new"), 3);
	/* The transaction ended: the next message needs MAIL again. */
	assert_string_equal(cmd(f, "RCPT TO: bob"), "-ERR send MAIL FROM: "
	    "first");
	assert_string_equal(cmd(f, "QUTI"), "+OK");
	stop(f);
	assert_int_equal(count(f->md, "new"), 3);
}

/*
 * A session process (privilege separation) whose channel to the auth
 * process is gone: RCPT asks nobody else, not even the passwd-file it
 * could read here: the recipient cannot be looked up for now.
 */
static void
test_push_channel_gone(void **state)
{
	struct fixture	*f = *state;

	f->resumed = "alice";
	start(f);
	assert_string_equal(line(f), "+OK mail drop ready");
	assert_string_equal(cmd(f, "HELO bar.com"), "+OK");
	assert_string_equal(cmd(f, "MAIL FROM: alice@test.example"), "+OK");
	assert_string_equal(cmd(f, "RCPT TO: bob"),
	    "-ERR cannot look the user up, try again later");
	assert_string_equal(cmd(f, "RCPT TO: alice"),
	    "-ERR cannot look the user up, try again later");
	assert_string_equal(cmd(f, "QUTI"), "+OK");
	stop(f);
	assert_int_equal(count(maildir_of(f, "bob"), "new"), 0);
}

static void
test_push_refused_data(void **state)
{
	struct fixture	*f = *state;
	int		 i;

	start(f);
	line(f);
	login(f);
	assert_string_equal(cmd(f, "HELO hotmail.com"), "+OK");
	assert_string_equal(cmd(f, "MAIL FROM: alice"), "+OK");
	assert_string_equal(cmd(f, "RCPT TO: bob@bar.com"), "+OK");
	assert_string_equal(cmd(f, "DATA"), "+OK");
	for (i = 0; i < 20; i++)
		send_text(f, "0123456789012345678901234567890123456789012345"
		    "678901234567890123456789\r\n");
	assert_string_equal(cmd(f, "."), "-ERR message too large: the limit "
	    "is 1024 octets, nothing delivered");
	nothing_for(f, "bob");
	assert_string_equal(cmd(f, "MAIL FROM: alice"), "+OK");
	assert_string_equal(cmd(f, "RCPT TO: bob@bar.com"), "+OK");
	assert_string_equal(cmd(f, "RSTE"), "+OK");
	assert_string_equal(cmd(f, "DATA"), "-ERR send MAIL FROM: first");
	assert_string_equal(cmd(f, "NOPO"), "+OK");
	assert_string_equal(cmd(f, "MAIL FROM: alice"), "+OK");
	assert_string_equal(cmd(f, "RCPT TO: bob@bar.com"), "+OK");
	assert_string_equal(cmd(f, "DATA"), "+OK");
	send_text(f, "Subject: half\r\n\r\nno end");
	stop(f);
	nothing_for(f, "bob");
}

/* READ and DELE take one argument; spaces before it are skipped. */
static void
test_pull_arguments(void **state)
{
	struct fixture	*f = *state;

	start(f);
	line(f);
	login(f);
	assert_string_equal(cmd(f, "READ 1 2"), "-ERR READ takes one argument");
	assert_string_equal(cmd(f, "DELE 1 2"), "-ERR DELE takes one argument");
	assert_string_equal(cmd(f, "DELE   2"), "+OK message deleted");
	assert_string_equal(cmd(f, "STAT"), "+OK 1 28");
}

/* A maildrop another session holds: the login is answered -ERR and may
 * be tried again. */
static void
test_maildrop_locked(void **state)
{
	struct fixture	*f = *state;
	struct maildrop	*md;

	assert_int_equal(maildrop_open(f->md, NULL, &md), 0);
	start(f);
	line(f);
	assert_string_equal(cmd(f, "USER alice"), "+OK mail drop name valid");
	assert_string_equal(cmd(f, "PASS secret"),
	    "-ERR mail drop locked by another session");
	assert_string_equal(cmd(f, "STAT"),
	    "-ERR STAT is not valid before login");
	maildrop_close(&md);
	login(f);
	assert_string_equal(cmd(f, "STAT"), "+OK 2 64");
}

/* A Maildir that cannot be opened: the login is answered -ERR. */
static void
test_maildrop_unopenable(void **state)
{
	struct fixture	*f = *state;
	char		 path[sizeof(f->md) + 16];

	snprintf(path, sizeof(path), "%s/tmp", f->md);
	assert_int_equal(rmdir(path), 0);
	start(f);
	line(f);
	assert_string_equal(cmd(f, "USER alice"), "+OK mail drop name valid");
	assert_string_equal(cmd(f, "PASS secret"),
	    "-ERR cannot open the mail drop, try again later");
	assert_string_equal(cmd(f, "HELO bar.com"),
	    "-ERR HELO is not valid before login");
}

/* Addresses that are not one: unclosed '<', text after, a control
 * octet, no local part, no domain, a domain of 254 octets. */
static void
test_bad_addresses(void **state)
{
	struct fixture	*f = *state;
	char		 l[512];

	start(f);
	line(f);
	login(f);
	assert_string_equal(cmd(f, "HELO bar.com"), "+OK");
	assert_string_equal(cmd(f, "MAIL FROM: <alice"),
	    "-ERR syntax: MAIL FROM: address");
	assert_string_equal(cmd(f, "MAIL FROM: alice x"),
	    "-ERR syntax: MAIL FROM: address");
	assert_string_equal(cmd(f, "MAIL FROM: al\tice"),
	    "-ERR syntax: MAIL FROM: address");
	assert_string_equal(cmd(f, "MAIL FROM: @bar.com"),
	    "-ERR syntax: MAIL FROM: address");
	assert_string_equal(cmd(f, "MAIL FROM: alice@"),
	    "-ERR syntax: MAIL FROM: address");
	snprintf(l, sizeof(l), "MAIL FROM: a@%.63s.%.63s.%.63s.%.62s",
	    MAXLABEL, MAXLABEL, MAXLABEL, MAXLABEL);
	assert_string_equal(cmd(f, l), "-ERR syntax: MAIL FROM: address");
	assert_string_equal(cmd(f, "MAIL FROM: alice"), "+OK");
}

/* A local account of another uid, with no auth process to ask: the
 * session cannot write its copy, and says so. */
static void
test_rcpt_other_uid(void **state)
{
	struct fixture	*f = *state;

	account(f, "nob", "x", "65534:65534");
	start(f);
	line(f);
	login(f);
	assert_string_equal(cmd(f, "HELO bar.com"), "+OK");
	assert_string_equal(cmd(f, "MAIL FROM: alice"), "+OK");
	assert_string_equal(cmd(f, "RCPT TO: nob"), "-ERR user account cannot "
	    "take pushed mail from this session");
	assert_string_equal(cmd(f, "DATA"), "-ERR send RCPT TO: first");
}

/* 100 recipients at most in one message. */
static void
test_too_many_recipients(void **state)
{
	struct fixture	*f = *state;
	char		 l[64];
	int		 i;

	f->conf.papm_relay_command = "/bin/true";
	start(f);
	line(f);
	login(f);
	assert_string_equal(cmd(f, "HELO bar.com"), "+OK");
	assert_string_equal(cmd(f, "MAIL FROM: alice"), "+OK");
	for (i = 0; i < 100; i++) {
		snprintf(l, sizeof(l), "RCPT TO: r%d@far.away", i);
		assert_string_equal(cmd(f, l), "+OK");
	}
	assert_string_equal(cmd(f, "RCPT TO: bob"), "-ERR too many recipients");
	assert_string_equal(cmd(f, "RSTE"), "+OK");
}

/* relay_script: an executable file run as papm_relay_command. */
static void
relay_script(struct fixture *f, const char *text)
{
	static char	 path[sizeof(f->dir) + 16];

	snprintf(path, sizeof(path), "%s/relay.sh", f->dir);
	put_in(f->dir, "relay.sh", text);
	assert_int_equal(chmod(path, 0755), 0);
	f->conf.papm_relay_command = path;
}

/* push_remote: a message for bob and a remote recipient; DATA's reply. */
static const char *
push_remote(struct fixture *f)
{
	start(f);
	line(f);
	login(f);
	assert_string_equal(cmd(f, "HELO bar.com"), "+OK");
	assert_string_equal(cmd(f, "MAIL FROM: alice"), "+OK");
	assert_string_equal(cmd(f, "RCPT TO: bob"), "+OK");
	assert_string_equal(cmd(f, "RCPT TO: friend@far.away"), "+OK");
	assert_string_equal(cmd(f, "DATA"), "+OK");
	send_text(f, "Subject: out\r\n\r\nx\r\n");
	return cmd(f, ".");
}

/* A relay command killed by a signal delivers nothing, here either. */
static void
test_relay_killed(void **state)
{
	struct fixture	*f = *state;

	relay_script(f, "#!/bin/sh\nkill -9 $$\n");
	assert_string_equal(push_remote(f), "-ERR relay failed: killed by "
	    "signal 9, nothing delivered");
	nothing_for(f, "bob");
}

/* A relay command still running after idle_timeout is killed: nothing
 * delivered. */
static void
test_relay_timeout(void **state)
{
	struct fixture	*f = *state;

	f->conf.idle_timeout = 1;
	relay_script(f, "#!/bin/sh\nexec sleep 10\n");
	assert_string_equal(push_remote(f), "-ERR relay failed: timed out, "
	    "nothing delivered");
	nothing_for(f, "bob");
}

/* A local copy that cannot be begun: the reply names the recipient, and
 * no recipient gets the message. */
static void
test_copy_failed(void **state)
{
	struct fixture	*f = *state;
	char		 path[PATH_MAX + 64];

	account(f, "broken", "x", NULL);
	snprintf(path, sizeof(path), "%s/tmp", maildir_of(f, "broken"));
	assert_int_equal(rmdir(path), 0);
	start(f);
	line(f);
	login(f);
	assert_string_equal(cmd(f, "HELO bar.com"), "+OK");
	assert_string_equal(cmd(f, "MAIL FROM: alice"), "+OK");
	assert_string_equal(cmd(f, "RCPT TO: bob"), "+OK");
	assert_string_equal(cmd(f, "RCPT TO: broken"), "+OK");
	assert_string_equal(cmd(f, "DATA"), "+OK");
	send_text(f, "Subject: hi\r\n\r\nx\r\n");
	assert_string_equal(cmd(f, "."), "-ERR cannot deliver to broken: No "
	    "such file or directory, nothing delivered");
	nothing_for(f, "bob");
}

/* A message line over max_line_length (512 here) but within 65536
 * octets is delivered whole, as postern-papm(7) says. */
static void
test_long_message_line(void **state)
{
	struct fixture	*f = *state;
	char		 l[1001], want[1100];

	memset(l, 'w', 998);
	memcpy(l + 998, "\r\n", 3);
	start(f);
	line(f);
	login(f);
	assert_string_equal(cmd(f, "HELO bar.com"), "+OK");
	assert_string_equal(cmd(f, "MAIL FROM: alice"), "+OK");
	assert_string_equal(cmd(f, "RCPT TO: bob"), "+OK");
	assert_string_equal(cmd(f, "DATA"), "+OK");
	send_text(f, "Subject: long\r\n\r\n");
	send_text(f, l);
	assert_string_equal(cmd(f, "."), "+OK");
	snprintf(want, sizeof(want), "Subject: long\n\n%.998s\n", l);
	assert_string_equal(only_new(maildir_of(f, "bob")), want);
}

extern char **environ;

int
main(int argc, char *argv[])
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_login, setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_auth_failures, setup,
		    fx_teardown),
		cmocka_unit_test_setup_teardown(test_pull, setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_read_ahead, setup,
		    fx_teardown),
		cmocka_unit_test_setup_teardown(test_drop_and_quti,
		    setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_push_before_login,
		    setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_push_two_users,
		    setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_push_refused_data,
		    setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_push_channel_gone,
		    setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_pull_arguments,
		    setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_maildrop_locked,
		    setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_maildrop_unopenable,
		    setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_bad_addresses,
		    setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_rcpt_other_uid,
		    setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_too_many_recipients,
		    setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_relay_killed,
		    setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_relay_timeout,
		    setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_copy_failed,
		    setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_long_message_line,
		    setup, fx_teardown),
	};

#ifdef HAVE_LIBBSD
	setproctitle_init(argc, argv, environ);
#endif
	log_init("test_papm", 1);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
