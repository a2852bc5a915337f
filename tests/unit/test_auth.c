/*
 * test_auth.c: user name rules, Maildir template expansion, and every
 * outcome of auth_check against a temporary passwd-file.
 */
#include "tests/unit/unit.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "server/auth.h"
#include "server/conf.h"
#include "server/limits.h"
#include "server/password.h"

struct fixture {
	char		 dir[PATH_MAX];
	char		 path[PATH_MAX];
	char		 maildir[64];
	struct conf	 conf;
};

/* Writes the passwd-file the auth_check tests use, in a new directory. */
static int
setup(void **state)
{
	struct fixture	*f;
	const char	*tmp;
	char		 yes[512];
	FILE		*fp;

	if ((f = calloc(1, sizeof(*f))) == NULL)
		return -1;
	if ((tmp = getenv("TMPDIR")) == NULL || *tmp == '\0')
		tmp = "/tmp";
	if ((size_t)snprintf(f->dir, sizeof(f->dir), "%s/test_auth.XXXXXX",
	    tmp) >= sizeof(f->dir) - 16 || mkdtemp(f->dir) == NULL)
		goto fail;
	if ((size_t)snprintf(f->path, sizeof(f->path), "%s/passwd", f->dir) >=
	    sizeof(f->path))
		goto fail_dir;
	if (password_hash("yes pw", yes, sizeof(yes)) == -1)
		goto fail_dir;
	if ((fp = fopen(f->path, "w")) == NULL)
		goto fail_dir;
	fprintf(fp,
	    "# test users\n"
	    "alice:{PLAIN}apw:1001:1002::/home/alice\n"
	    "bob@example.org:{PLAIN}bpw:1003:1003::/home/bob\n"
	    "toor:{PLAIN}rpw:0:0::/root\n"
	    "nohome:{PLAIN}npw:1004:1004\n"
	    "anon:{PLAIN}xpw\n"
	    "locked:!{PLAIN}lpw:1005:1005::/home/locked\n"
	    "yes:%s:1006:1006::/home/yes\n"
	    "broken:{PLAIN}x:notanumber\n", yes);
	if (fclose(fp) != 0)
		goto fail_file;
	strlcpy(f->maildir, "/var/mail/%u", sizeof(f->maildir));
	f->conf.passwd_file = f->path;
	f->conf.maildir = f->maildir;
	*state = f;
	return 0;
fail_file:
	unlink(f->path);
fail_dir:
	rmdir(f->dir);
fail:
	free(f);
	return -1;
}

/* Removes the passwd-file and its directory. */
static int
teardown(void **state)
{
	struct fixture	*f = *state;

	unlink(f->path);
	rmdir(f->dir);
	free(f);
	return 0;
}

/* Runs auth_check and asserts its result and reason. */
static void
check(const struct fixture *f, const char *user, const char *password,
    enum auth_result want, const char *why_want, struct auth_user *u)
{
	const char	*why = NULL;
	enum auth_result res;

	res = auth_check(&f->conf, user, password, u, &why);
	if (res != want || why == NULL || strcmp(why, why_want) != 0)
		fail_msg("%s/%s: result %d (%s), want %d (%s)", user, password,
		    res, why ? why : "(null)", want, why_want);
	if (res != AUTH_OK)
		assert_string_equal(u->name, "");
}

static void
test_valid_user(void **state)
{
	static const char *const good[] = {
		"alice", "a", "bob@example.org", "j\xc3\xbcrgen", "...", ".a",
		"a..b", "a-b", "a.b", "a@b@c", "%u", "A_Z~",
	};
	static const char *const bad[] = {
		"", ".", "..", "-alice", "-", "a/b", "/", "a:b", "a b", " a",
		"a\tb", "a\nb", "a\rb", "\x01", "a\x1f", "a\x7f",
	};
	char	 name[USER_MAX + 2];
	size_t	 i;

	for (i = 0; i < sizeof(good) / sizeof(good[0]); i++)
		if (!auth_valid_user(good[i]))
			fail_msg("refused: \"%s\"", good[i]);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (auth_valid_user(bad[i]))
			fail_msg("accepted: \"%s\"", bad[i]);

	memset(name, 'u', USER_MAX);
	name[USER_MAX] = '\0';
	assert_true(auth_valid_user(name));
	name[USER_MAX] = 'u';
	name[USER_MAX + 1] = '\0';
	assert_false(auth_valid_user(name));
}

static void
test_maildir_expand(void **state)
{
	char	 out[PATH_MAX];

	assert_int_equal(auth_maildir_path("/var/mail/%u", "alice", "",
	    out, sizeof(out)), 0);
	assert_string_equal(out, "/var/mail/alice");
	assert_int_equal(auth_maildir_path("%h/Maildir", "alice",
	    "/home/alice", out, sizeof(out)), 0);
	assert_string_equal(out, "/home/alice/Maildir");
	assert_int_equal(auth_maildir_path("/srv/%d/%n/", "bob@example.org",
	    NULL, out, sizeof(out)), 0);
	assert_string_equal(out, "/srv/example.org/bob/");
	assert_int_equal(auth_maildir_path("/srv/%d/%n/%u", "a@b@c", NULL,
	    out, sizeof(out)), 0);
	assert_string_equal(out, "/srv/c/a@b/a@b@c");
	/* No '@': %n is the whole name. */
	assert_int_equal(auth_maildir_path("/m/%n", "alice", NULL, out,
	    sizeof(out)), 0);
	assert_string_equal(out, "/m/alice");
	assert_int_equal(auth_maildir_path("/m/100%%/%u%%", "x", NULL, out,
	    sizeof(out)), 0);
	assert_string_equal(out, "/m/100%/x%");
	/* No expansion of what was substituted. */
	assert_int_equal(auth_maildir_path("/m/%u", "%h", "/h", out,
	    sizeof(out)), 0);
	assert_string_equal(out, "/m/%h");
}

static void
test_maildir_errors(void **state)
{
	char	 out[PATH_MAX];

	/* %d without a domain, %h without a home. */
	assert_int_equal(auth_maildir_path("/m/%d/%n", "alice", "/h", out,
	    sizeof(out)), -1);
	assert_string_equal(out, "");
	assert_int_equal(auth_maildir_path("/m/%d/%n", "alice@", "/h", out,
	    sizeof(out)), -1);
	assert_int_equal(auth_maildir_path("/m/%d/%n", "@example.org", "/h",
	    out, sizeof(out)), -1);
	assert_int_equal(auth_maildir_path("%h/Maildir", "alice", "", out,
	    sizeof(out)), -1);
	assert_int_equal(auth_maildir_path("%h/Maildir", "alice", NULL, out,
	    sizeof(out)), -1);
	/* Unknown or unfinished escapes. */
	assert_int_equal(auth_maildir_path("/m/%x", "alice", "/h", out,
	    sizeof(out)), -1);
	assert_int_equal(auth_maildir_path("/m/%U", "alice", "/h", out,
	    sizeof(out)), -1);
	assert_int_equal(auth_maildir_path("/m/%", "alice", "/h", out,
	    sizeof(out)), -1);
	/* Not absolute. */
	assert_int_equal(auth_maildir_path("Maildir/%u", "alice", "/h", out,
	    sizeof(out)), -1);
	assert_int_equal(auth_maildir_path("%u", "alice", "/h", out,
	    sizeof(out)), -1);
	assert_int_equal(auth_maildir_path("", "alice", "/h", out,
	    sizeof(out)), -1);
	/* Dot components, whatever brought them in. */
	assert_int_equal(auth_maildir_path("/m/%d/%n", "a@..", NULL, out,
	    sizeof(out)), -1);
	assert_int_equal(auth_maildir_path("/m/%n", "..@x", NULL, out,
	    sizeof(out)), -1);
	assert_int_equal(auth_maildir_path("/m/%n/x", ".@x", NULL, out,
	    sizeof(out)), -1);
	assert_int_equal(auth_maildir_path("/m/../%u", "alice", NULL, out,
	    sizeof(out)), -1);
	assert_int_equal(auth_maildir_path("%h/Maildir", "alice", "/home/..",
	    out, sizeof(out)), -1);
	assert_int_equal(auth_maildir_path("/m/%u/.", "alice", NULL, out,
	    sizeof(out)), -1);
}

static void
test_maildir_length(void **state)
{
	char	 out[16];

	/* "/var/mail/alice" is 15 octets: fits 16 exactly, not 15. */
	assert_int_equal(auth_maildir_path("/var/mail/%u", "alice", NULL, out,
	    sizeof(out)), 0);
	assert_string_equal(out, "/var/mail/alice");
	assert_int_equal(auth_maildir_path("/var/mail/%u", "alice", NULL, out,
	    15), -1);
	assert_int_equal(auth_maildir_path("/var/mail/%u", "alice6", NULL,
	    out, sizeof(out)), -1);
	assert_int_equal(auth_maildir_path("/var/mail/alice", "x", NULL,
	    out, 15), -1);
	assert_int_equal(auth_maildir_path("/", "x", NULL, out, 0), -1);
}

static void
test_check_ok(void **state)
{
	struct fixture	*f = *state;
	struct auth_user u;

	check(f, "alice", "apw", AUTH_OK, "ok", &u);
	assert_string_equal(u.name, "alice");
	assert_string_equal(u.maildir, "/var/mail/alice");
	assert_int_equal(u.uid, 1001);
	assert_int_equal(u.gid, 1002);

	strlcpy(f->maildir, "/srv/%d/%n", sizeof(f->maildir));
	check(f, "bob@example.org", "bpw", AUTH_OK, "ok", &u);
	assert_string_equal(u.maildir, "/srv/example.org/bob");
	assert_int_equal(u.uid, 1003);

	/* Empty uid and gid: the server's own identity. */
	strlcpy(f->maildir, "/var/mail/%u", sizeof(f->maildir));
	check(f, "anon", "xpw", AUTH_OK, "ok", &u);
	assert_int_equal(u.uid, -1);
	assert_int_equal(u.gid, -1);

	strlcpy(f->maildir, "%h/Maildir", sizeof(f->maildir));
	check(f, "alice", "apw", AUTH_OK, "ok", &u);
	assert_string_equal(u.maildir, "/home/alice/Maildir");
}

static void
test_check_yescrypt(void **state)
{
	struct fixture	*f = *state;
	struct auth_user u;

	check(f, "yes", "yes pw", AUTH_OK, "ok", &u);
	assert_string_equal(u.name, "yes");
	assert_string_equal(u.maildir, "/var/mail/yes");
	assert_int_equal(u.uid, 1006);
	check(f, "yes", "yes pW", AUTH_FAILED, "wrong password", &u);
	check(f, "yes", "", AUTH_FAILED, "wrong password", &u);
}

static void
test_check_failed(void **state)
{
	struct fixture	*f = *state;
	struct auth_user u;
	char		 pw[PASSWORD_MAX + 2];

	check(f, "alice", "wrong", AUTH_FAILED, "wrong password", &u);
	check(f, "alice", "", AUTH_FAILED, "wrong password", &u);
	check(f, "alice", "APW", AUTH_FAILED, "wrong password", &u);
	check(f, "Alice", "apw", AUTH_FAILED, "unknown user", &u);
	check(f, "carol", "apw", AUTH_FAILED, "unknown user", &u);
	/* A malformed entry is no user. */
	check(f, "broken", "x", AUTH_FAILED, "unknown user", &u);
	check(f, "locked", "lpw", AUTH_FAILED, "wrong password", &u);
	check(f, "locked", "!{PLAIN}lpw", AUTH_FAILED, "wrong password", &u);
	check(f, "", "apw", AUTH_FAILED, "invalid user name", &u);
	check(f, "..", "apw", AUTH_FAILED, "invalid user name", &u);
	check(f, "a/b", "apw", AUTH_FAILED, "invalid user name", &u);
	check(f, "alice\n", "apw", AUTH_FAILED, "invalid user name", &u);
	check(f, "toor", "rpw", AUTH_FAILED, "uid 0 refused", &u);
	/* uid 0 with a wrong password is just a wrong password. */
	check(f, "toor", "x", AUTH_FAILED, "wrong password", &u);

	/* PASSWORD_MAX octets are checked, one more is refused. */
	memset(pw, 'p', PASSWORD_MAX);
	pw[PASSWORD_MAX] = '\0';
	check(f, "alice", pw, AUTH_FAILED, "wrong password", &u);
	pw[PASSWORD_MAX] = 'p';
	pw[PASSWORD_MAX + 1] = '\0';
	check(f, "alice", pw, AUTH_FAILED, "password too long", &u);
	check(f, "yes", pw, AUTH_FAILED, "password too long", &u);
	pw[PASSWORD_MAX] = '\0';
	check(f, "yes", pw, AUTH_FAILED, "wrong password", &u);
}

static void
test_check_tempfail(void **state)
{
	struct fixture	*f = *state;
	struct auth_user u;
	char		 missing[PATH_MAX + 16];

	/* %h of a user without a home. */
	strlcpy(f->maildir, "%h/Maildir", sizeof(f->maildir));
	check(f, "nohome", "npw", AUTH_TEMPFAIL, "bad maildir path", &u);
	/* ... but a wrong password is found first. */
	check(f, "nohome", "x", AUTH_FAILED, "wrong password", &u);
	/* %d of a user without a domain; a relative template. */
	strlcpy(f->maildir, "/srv/%d/%n", sizeof(f->maildir));
	check(f, "alice", "apw", AUTH_TEMPFAIL, "bad maildir path", &u);
	strlcpy(f->maildir, "mail/%u", sizeof(f->maildir));
	check(f, "alice", "apw", AUTH_TEMPFAIL, "bad maildir path", &u);
	strlcpy(f->maildir, "/var/mail/%u", sizeof(f->maildir));

	/* A passwd-file that cannot be read. */
	assert_true((size_t)snprintf(missing, sizeof(missing), "%s/missing",
	    f->dir) < sizeof(missing));
	f->conf.passwd_file = missing;
	check(f, "alice", "apw", AUTH_TEMPFAIL, "passwd-file unreadable", &u);
	f->conf.passwd_file = f->dir;
	check(f, "alice", "apw", AUTH_TEMPFAIL, "passwd-file unreadable", &u);
	/* An invalid name is refused before the file is read. */
	check(f, "a/b", "apw", AUTH_FAILED, "invalid user name", &u);
	f->conf.passwd_file = f->path;
}

/* Seconds one auth_check takes. */
static double
check_seconds(const struct fixture *f, const char *user, const char *pw)
{
	struct auth_user u;
	struct timespec	 a, b;
	const char	*why;

	clock_gettime(CLOCK_MONOTONIC, &a);
	(void)auth_check(&f->conf, user, pw, &u, &why);
	clock_gettime(CLOCK_MONOTONIC, &b);
	return (b.tv_sec - a.tv_sec) + (b.tv_nsec - a.tv_nsec) / 1e9;
}

static void
test_check_timing(void **state)
{
	struct fixture	*f = *state;
	double		 wrong, unknown, invalid;

	/* An unknown or invalid user costs about what a wrong password
	 * for a real hash costs (allowing for noise: a fifth of it). */
	wrong = check_seconds(f, "yes", "guess");
	unknown = check_seconds(f, "nobody", "guess");
	invalid = check_seconds(f, "no/body", "guess");
	if (unknown < wrong / 5 || invalid < wrong / 5)
		fail_msg("wrong %.6fs, unknown %.6fs, invalid %.6fs", wrong,
		    unknown, invalid);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_valid_user),
		cmocka_unit_test(test_maildir_expand),
		cmocka_unit_test(test_maildir_errors),
		cmocka_unit_test(test_maildir_length),
		cmocka_unit_test_setup_teardown(test_check_ok, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_check_yescrypt, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_check_failed, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_check_tempfail, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_check_timing, setup,
		    teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
