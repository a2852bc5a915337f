/*
 * test_mda.c: local delivery (server/mda.c): the recipient lookup (the
 * whole address, then its local part; uid 0, a bad maildir template, no
 * identity), whose address a sender is, the header lines, and the two
 * phases of a copy: begun, it is in tmp/ only; given up, nothing is left
 * in tmp/ or new/; committed, it is in new/ under the name and size
 * mda_end() reports.  As root, also copies written by a delivery child
 * as their recipient's uid, and a child that loses its parent.
 */
#include <sys/types.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "tests/unit/unit.h"

#include "server/log.h"
#include "server/mda.h"
#include "storage/maildir.h"
#include "tests/unit/fixture.h"

/* The message the tests deliver, and what it is stored as. */
static const char BODY[] = "Subject: hi\r\n\r\n.dot\r\nlast line\r\n";
static const char STORED[] = "Return-Path: <s@x>\nDelivered-To: <nob@x>\n"
	"Subject: hi\n\n.dot\nlast line\n";

/* only: the path of the one file in sub of u's Maildir (static). */
static const char *
only(struct fixture *f, const char *u, const char *sub)
{
	static char	 path[1024];
	DIR		*d;
	struct dirent	*e;

	assert_int_equal(count(maildir_of(f, u), sub), 1);
	snprintf(path, sizeof(path), "%s/%s", maildir_of(f, u), sub);
	assert_non_null(d = opendir(path));
	while ((e = readdir(d)) != NULL)
		if (e->d_name[0] != '.')
			snprintf(path, sizeof(path), "%s/%s/%s",
			    maildir_of(f, u), sub, e->d_name);
	closedir(d);
	return path;
}

/* slurp: a file's text (static buffer). */
static const char *
slurp(const char *path)
{
	static char	 text[4096];
	ssize_t		 n;
	int		 fd;

	assert_true((fd = open(path, O_RDONLY)) != -1);
	n = read(fd, text, sizeof(text) - 1);
	assert_true(n >= 0);
	text[n] = '\0';
	close(fd);
	return text;
}

/* also: a passwd-file line for name (ids "uid:gid", ":" for none) with
 * the home of user. */
static void
also(struct fixture *f, const char *name, const char *ids, const char *user)
{
	char	 entry[2 * PATH_MAX];

	assert_true((size_t)snprintf(entry, sizeof(entry),
	    "%s:{PLAIN}x:%s::%s/%s::", name, ids, f->home, user) <
	    sizeof(entry));
	passwd_add(f, entry);
}

/* setup: the delivery accounts (fixture.h), carol@example.org and toor
 * (uid 0) at alice's home, mailer (no uid) at nob's, and the spool. */
static int
setup(void **state)
{
	struct fixture	*f = fx_new("mda");

	delivery_accounts(f);
	also(f, "carol@example.org", ":", "alice");
	also(f, "mailer", ":", "nob");
	also(f, "toor", "0:0", "alice");
	f->conf.mail_user = "";
	f->conf.papm_helo_domains = "bar.com, Hotmail.com";
	/* The message, its offset left at the end as a spool writer's. */
	fx_spool(f, BODY);
	*state = f;
	return 0;
}

/* The whole address first, then its local part; what is refused. */
static void
test_lookup(void **state)
{
	struct fixture	*f = *state;
	struct auth_user u;

	assert_int_equal(mda_lookup(&f->conf, "alice", &u), MDA_FOUND);
	assert_string_equal(u.name, "alice");
	assert_string_equal(u.maildir, maildir_of(f, "alice"));
	assert_int_equal(u.uid, -1);	/* none named: this process's */
	assert_int_equal(u.gid, -1);
	assert_int_equal(mda_lookup(&f->conf, "alice@anywhere.org", &u),
	    MDA_FOUND);
	assert_string_equal(u.name, "alice");
	assert_int_equal(mda_lookup(&f->conf, "carol@example.org", &u),
	    MDA_FOUND);
	assert_string_equal(u.name, "carol@example.org");
	assert_int_equal(mda_lookup(&f->conf, "carol", &u), MDA_UNKNOWN);
	assert_int_equal(mda_lookup(&f->conf, "carol@other.org", &u),
	    MDA_UNKNOWN);
	assert_int_equal(mda_lookup(&f->conf, "@alice", &u), MDA_UNKNOWN);
	assert_int_equal(mda_lookup(&f->conf, "a/b@x", &u), MDA_UNKNOWN);
	assert_int_equal(mda_lookup(&f->conf, "ghost", &u), MDA_UNKNOWN);
	assert_string_equal(u.name, "");
	assert_int_equal(mda_lookup(&f->conf, "toor", &u), MDA_ROOT);
	assert_int_equal(mda_lookup(&f->conf, "toor@test.example", &u),
	    MDA_ROOT);
	assert_string_equal(u.name, "");
	assert_int_equal(u.uid, 0);
	/* Another uid: only root can deliver as it. */
	assert_int_equal(mda_lookup(&f->conf, "nob", &u),
	    geteuid() == 0 ? MDA_FOUND : MDA_NOIDENT);
	if (geteuid() == 0) {
		assert_int_equal(u.uid, 65534);
		assert_int_equal(u.gid, 65534);
	}
	f->conf.maildir = "relative/%u";
	assert_int_equal(mda_lookup(&f->conf, "alice", &u), MDA_BADPATH);
	f->conf.maildir = "%h/Maildir";
	f->conf.passwd_file = "/nonexistent/passwd";
	assert_int_equal(mda_lookup(&f->conf, "alice", &u), MDA_UNREADABLE);
}

/* begin: the message for u's Maildir into jobs[i], here or in a child. */
static int
begin(struct fixture *f, const char *user, struct mda_job *jobs, size_t i)
{
	struct mda_msg	 m = { f->spool, "s@x" };
	struct auth_user u;

	assert_int_equal(mda_lookup(&f->conf, user, &u), MDA_FOUND);
	return mda_begin(&f->conf, &m, &u, "nob@x", jobs, i);
}

/* As root with privilege separation, an account naming no uid is
 * delivered as mail_user, and without mail_user not at all. */
static void
test_lookup_privsep(void **state)
{
	struct fixture	*f = *state;
	struct auth_user u;
	struct mda_job	 j;
	struct stat	 st;

	if (geteuid() != 0)
		skip();
	f->conf.privsep = true;
	assert_int_equal(mda_lookup(&f->conf, "mailer", &u), MDA_NOIDENT);
	f->conf.mail_user = "nobody";
	f->conf.mail_uid = 65534;
	f->conf.mail_gid = 65534;
	assert_int_equal(mda_lookup(&f->conf, "nob", &u), MDA_FOUND);
	assert_int_equal(begin(f, "mailer", &j, 0), 0);
	assert_true(j.pid > 0);		/* a child: root is not mail_user */
	assert_int_equal(stat(only(f, "nob", "tmp"), &st), 0);
	assert_int_equal(st.st_uid, 65534);
	assert_int_equal(mda_end(&j, false), 0);
	assert_int_equal(count(maildir_of(f, "nob"), "tmp"), 0);
}

/* Accounts by name, as logins find them. */
static void
test_account(void **state)
{
	struct fixture	*f = *state;
	struct auth_user u;

	assert_int_equal(mda_account(&f->conf, "alice", &u), MDA_FOUND);
	assert_string_equal(u.maildir, maildir_of(f, "alice"));
	assert_int_equal(u.uid, -1);
	assert_int_equal(mda_account(&f->conf, "nob", &u),
	    geteuid() == 0 ? MDA_FOUND : MDA_NOIDENT);
	assert_int_equal(mda_account(&f->conf, "alice@test.example", &u),
	    MDA_UNKNOWN);
	assert_int_equal(mda_account(&f->conf, "toor", &u), MDA_UNKNOWN);
	assert_int_equal(mda_account(&f->conf, "ghost", &u), MDA_UNKNOWN);
	f->conf.passwd_file = "/nonexistent/passwd";
	assert_int_equal(mda_account(&f->conf, "alice", &u),
	    MDA_UNREADABLE);
}

/* Whose address a sender is. */
static void
test_own_address(void **state)
{
	struct fixture	*f = *state;
	const struct conf *c = &f->conf;

	assert_true(mda_listed("bar.com, Hotmail.com", "hotmail.COM"));
	assert_true(mda_listed(" a\tb,,c ", "c"));
	assert_false(mda_listed("bar.com", "bar"));
	assert_false(mda_listed("bar.com", "bar.com.evil"));
	assert_false(mda_listed(NULL, "bar.com"));
	assert_true(mda_local_domain(c, "TEST.example"));
	assert_true(mda_local_domain(c, "bar.com"));
	assert_false(mda_local_domain(c, "example.org"));
	assert_true(mda_own_address(c, "alice", "alice"));
	assert_true(mda_own_address(c, "alice", "alice@test.example"));
	assert_true(mda_own_address(c, "alice", "alice@hotmail.com"));
	assert_false(mda_own_address(c, "alice", "alice@example.org"));
	assert_false(mda_own_address(c, "alice", "bob@test.example"));
	assert_false(mda_own_address(c, "alice", "alic@test.example"));
	assert_false(mda_own_address(c, "alice", "Alice"));
	assert_true(mda_own_address(c, "alice@example.org",
	    "alice@EXAMPLE.org"));
	assert_false(mda_own_address(c, "alice@example.org",
	    "alice@test.example"));
	assert_false(mda_own_address(c, "alice@example.org", "alice"));
}

/* The header lines, each left out when NULL. */
static void
test_headers(void **state)
{
	struct fixture	*f = *state;
	struct delivery	*d;
	char		 name[DELIVER_NAME_MAX], big[2000];

	assert_non_null(d = deliver_begin(maildir_of(f, "alice"), NULL));
	assert_int_equal(mda_headers(d, "s@x", "r@y"), 0);
	assert_int_equal(mda_headers(d, NULL, "r2@y"), 0);
	assert_int_equal(mda_headers(d, "", NULL), 0);
	assert_int_equal(mda_headers(d, NULL, NULL), 0);
	assert_int_equal(deliver_commit(&d, name, sizeof(name), NULL, NULL),
	    0);
	assert_string_equal(slurp(only(f, "alice", "new")), "Return-Path: "
	    "<s@x>\nDelivered-To: <r@y>\nDelivered-To: <r2@y>\n"
	    "Return-Path: <>\n");
	assert_non_null(d = deliver_begin(maildir_of(f, "alice"), NULL));
	memset(big, 'a', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	errno = 0;
	assert_int_equal(mda_headers(d, big, NULL), -1);
	assert_int_equal(errno, ENAMETOOLONG);
	deliver_abort(&d);
	assert_int_equal(count(maildir_of(f, "alice"), "tmp"), 0);
}

/* check_new: the one file in u's new/ is the message, owned by uid, with
 * the name and size j reports. */
static void
check_new(struct fixture *f, const char *u, const struct mda_job *j,
    uid_t uid)
{
	const char	*path = only(f, u, "new");
	struct stat	 st;
	off_t		 s, w;

	assert_string_equal(slurp(path), STORED);
	assert_string_equal(strrchr(path, '/') + 1, j->name);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_uid, uid);
	maildir_name_sizes(j->name, strlen(j->name), &s, &w);
	assert_int_equal(s, (off_t)strlen(STORED));
	assert_int_equal(w, j->size);
	assert_int_equal(j->size, (off_t)strlen(STORED) + 6);
	assert_int_equal(count(maildir_of(f, u), "tmp"), 0);
}

/* An account of this process's uid: written here; given up, nothing is
 * left; committed, the message is in new/. */
static void
test_here(void **state)
{
	struct fixture	*f = *state;
	struct mda_job	 j;

	assert_int_equal(begin(f, "alice", &j, 0), 0);
	assert_int_equal(j.pid, 0);
	assert_non_null(j.d);
	assert_int_equal(count(maildir_of(f, "alice"), "tmp"), 1);
	assert_int_equal(count(maildir_of(f, "alice"), "new"), 0);
	assert_int_equal(mda_end(&j, false), 0);
	assert_int_equal(count(maildir_of(f, "alice"), "tmp"), 0);
	assert_int_equal(count(maildir_of(f, "alice"), "new"), 0);
	assert_int_equal(mda_end(&j, true), 0);	/* nothing more */
	assert_int_equal(count(maildir_of(f, "alice"), "new"), 0);

	assert_int_equal(begin(f, "alice", &j, 0), 0);
	assert_int_equal(count(maildir_of(f, "alice"), "new"), 0);
	assert_int_equal(mda_end(&j, true), 0);
	assert_int_equal(j.err, 0);
	check_new(f, "alice", &j, geteuid());
	assert_int_equal(mda_end(&j, false), 0);	/* stays delivered */
	assert_int_equal(count(maildir_of(f, "alice"), "new"), 1);
}

/* A copy that cannot be begun leaves nothing; its job ends at once. */
static void
test_begin_fails(void **state)
{
	struct fixture	*f = *state;
	struct mda_job	 j;

	assert_int_equal(begin(f, "broken", &j, 0), -1);
	assert_int_equal(j.err, ENOENT);
	assert_int_equal(j.pid, 0);
	assert_null(j.d);
	assert_int_equal(mda_end(&j, true), -1);
	assert_int_equal(count(maildir_of(f, "broken"), "new"), 0);
}

/* reaped: whether pid was reaped (no such child any more). */
static bool
reaped(pid_t pid)
{
	return waitpid(pid, NULL, WNOHANG) == -1 && errno == ECHILD;
}

/* As root, an account of another uid is written by a child of that uid,
 * which ends with its job. */
static void
test_child(void **state)
{
	struct fixture	*f = *state;
	struct mda_job	 j;
	struct stat	 st;
	char		 tmp[512];
	pid_t		 pid;

	if (geteuid() != 0)
		skip();
	assert_int_equal(begin(f, "nob", &j, 0), 0);
	assert_true((pid = j.pid) > 0);
	assert_null(j.d);
	assert_int_equal(stat(only(f, "nob", "tmp"), &st), 0);
	assert_int_equal(st.st_uid, 65534);
	assert_int_equal(count(maildir_of(f, "nob"), "new"), 0);
	assert_int_equal(mda_end(&j, false), 0);
	assert_true(reaped(pid));
	assert_int_equal(count(maildir_of(f, "nob"), "tmp"), 0);
	assert_int_equal(count(maildir_of(f, "nob"), "new"), 0);

	assert_int_equal(begin(f, "nob", &j, 0), 0);
	pid = j.pid;
	assert_int_equal(mda_end(&j, true), 0);
	assert_true(reaped(pid));
	check_new(f, "nob", &j, 65534);

	/* tmp/ not writable by nobody: the child reports, nothing left. */
	assert_int_equal(unlink(only(f, "nob", "new")), 0);
	snprintf(tmp, sizeof(tmp), "%s/tmp", maildir_of(f, "nob"));
	assert_int_equal(chmod(tmp, 0500), 0);
	assert_int_equal(begin(f, "nob", &j, 0), -1);
	assert_int_equal(j.err, EACCES);
	assert_int_equal(j.pid, 0);
	assert_int_equal(count(maildir_of(f, "nob"), "tmp"), 0);
	assert_int_equal(count(maildir_of(f, "nob"), "new"), 0);
}

/* As root, two copies in children at once: the second child does not
 * hold the first one's socket, so that the first, losing its parent's
 * end, gives its copy up at once. */
static void
test_orphan(void **state)
{
	struct fixture	*f = *state;
	struct mda_job	 jobs[2];
	int		 i;

	if (geteuid() != 0)
		skip();
	assert_int_equal(begin(f, "nob", jobs, 0), 0);
	assert_int_equal(begin(f, "nob", jobs, 1), 0);
	assert_int_equal(count(maildir_of(f, "nob"), "tmp"), 2);
	close(jobs[0].sock);
	for (i = 0; i < 50 && !reaped(jobs[0].pid); i++) {
		if (waitpid(jobs[0].pid, NULL, WNOHANG) == jobs[0].pid)
			break;
		usleep(100000);
	}
	assert_true(i < 50);
	assert_int_equal(count(maildir_of(f, "nob"), "tmp"), 1);
	assert_int_equal(mda_end(&jobs[1], true), 0);
	assert_int_equal(count(maildir_of(f, "nob"), "tmp"), 0);
	assert_int_equal(count(maildir_of(f, "nob"), "new"), 1);
}

int
main(int argc, char *argv[])
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_lookup, setup,
		    fx_teardown),
		cmocka_unit_test_setup_teardown(test_lookup_privsep, setup,
		    fx_teardown),
		cmocka_unit_test_setup_teardown(test_account, setup,
		    fx_teardown),
		cmocka_unit_test_setup_teardown(test_own_address, setup,
		    fx_teardown),
		cmocka_unit_test_setup_teardown(test_headers, setup,
		    fx_teardown),
		cmocka_unit_test_setup_teardown(test_here, setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_begin_fails, setup,
		    fx_teardown),
		cmocka_unit_test_setup_teardown(test_child, setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_orphan, setup,
		    fx_teardown),
	};

	log_init("test_mda", 1);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
