/*
 * test_passwd.c: the passwd-file parser and lookup, against lines and
 * temporary files.  Checks what is accepted, what is refused, and that
 * refused lines are logged with their line number and skipped.
 */
#include "tests/unit/unit.h"

#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "server/passwd.h"

struct fixture {
	char	dir[PATH_MAX];
	char	path[PATH_MAX];
	char	log[PATH_MAX];
};

/* Makes a temporary directory for the test's files. */
static int
setup(void **state)
{
	struct fixture	*f;
	const char	*tmp;

	if ((f = calloc(1, sizeof(*f))) == NULL)
		return -1;
	if ((tmp = getenv("TMPDIR")) == NULL || *tmp == '\0')
		tmp = "/tmp";
	if ((size_t)snprintf(f->dir, sizeof(f->dir), "%s/test_passwd.XXXXXX",
	    tmp) >= sizeof(f->dir) - 16 || mkdtemp(f->dir) == NULL) {
		free(f);
		return -1;
	}
	if ((size_t)snprintf(f->path, sizeof(f->path), "%s/passwd", f->dir) >=
	    sizeof(f->path) ||
	    (size_t)snprintf(f->log, sizeof(f->log), "%s/log", f->dir) >=
	    sizeof(f->log)) {
		rmdir(f->dir);
		free(f);
		return -1;
	}
	*state = f;
	return 0;
}

/* Removes the temporary directory and what is in it. */
static int
teardown(void **state)
{
	struct fixture	*f = *state;

	unlink(f->path);
	unlink(f->log);
	rmdir(f->dir);
	free(f);
	return 0;
}

/* Writes len octets of text as the passwd-file. */
static void
write_file(const struct fixture *f, const char *text, size_t len)
{
	FILE	*fp;

	assert_non_null(fp = fopen(f->path, "w"));
	assert_int_equal(fwrite(text, 1, len, fp), len);
	assert_int_equal(fclose(fp), 0);
}

/* Runs passwd_lookup on path with stderr (the log) sent to f->log; with
 * a NULL user, passwd_check. */
static int
lookup_path_logged(const struct fixture *f, const char *path,
    const char *user, struct passwd_entry *e)
{
	int	 saved, fd, r, err;

	fflush(stderr);
	assert_true((saved = dup(STDERR_FILENO)) != -1);
	assert_true((fd = open(f->log, O_WRONLY | O_CREAT | O_TRUNC, 0600))
	    != -1);
	assert_true(dup2(fd, STDERR_FILENO) != -1);
	close(fd);
	r = user != NULL ? passwd_lookup(path, user, e) :
	    (int)passwd_check(path);
	err = errno;
	fflush(stderr);
	assert_true(dup2(saved, STDERR_FILENO) != -1);
	close(saved);
	errno = err;
	return r;
}

/* Runs passwd_lookup on the fixture's file, logging to f->log. */
static int
lookup_logged(const struct fixture *f, const char *user,
    struct passwd_entry *e)
{
	return lookup_path_logged(f, f->path, user, e);
}

/* Asserts that the log written by lookup_logged has "PATH:LINE: why". */
static void
assert_logged(const struct fixture *f, int lineno, const char *why)
{
	char	 buf[8192], msg[PATH_MAX + 128];
	FILE	*fp;
	size_t	 n;

	assert_true((size_t)snprintf(msg, sizeof(msg), "%s:%d: %s", f->path,
	    lineno, why) < sizeof(msg));
	assert_non_null(fp = fopen(f->log, "r"));
	n = fread(buf, 1, sizeof(buf) - 1, fp);
	buf[n] = '\0';
	fclose(fp);
	if (strstr(buf, msg) == NULL)
		fail_msg("\"%s\" not in the log: %s", msg, buf);
}

/* Asserts that the log written by lookup_logged names no line of the
 * fixture's file. */
static void
assert_quiet(const struct fixture *f)
{
	char	 buf[8192];
	FILE	*fp;
	size_t	 n;

	assert_non_null(fp = fopen(f->log, "r"));
	n = fread(buf, 1, sizeof(buf) - 1, fp);
	buf[n] = '\0';
	fclose(fp);
	if (strstr(buf, f->path) != NULL)
		fail_msg("the log names the file: %s", buf);
}

static void
test_parse_full(void **state)
{
	struct passwd_entry	 e;
	const char		*why;

	assert_int_equal(passwd_parse_line(
	    "alice:{PLAIN}secret:1001:1002:Alice A:/home/alice:/bin/sh:"
	    "userdb_quota=1G", &e, &why), 1);
	assert_string_equal(e.user, "alice");
	assert_string_equal(e.hash, "{PLAIN}secret");
	assert_int_equal(e.uid, 1001);
	assert_int_equal(e.gid, 1002);
	assert_string_equal(e.home, "/home/alice");
}

static void
test_parse_minimal(void **state)
{
	struct passwd_entry	 e;
	const char		*why;

	assert_int_equal(passwd_parse_line("bob:$6$x$y", &e, &why), 1);
	assert_string_equal(e.user, "bob");
	assert_string_equal(e.hash, "$6$x$y");
	assert_int_equal(e.uid, -1);
	assert_int_equal(e.gid, -1);
	assert_string_equal(e.home, "");

	assert_int_equal(passwd_parse_line("bob:h::::", &e, &why), 1);
	assert_int_equal(e.uid, -1);
	assert_int_equal(e.gid, -1);
	assert_string_equal(e.home, "");

	/* An empty password field is an entry that can never log in. */
	assert_int_equal(passwd_parse_line("carol:", &e, &why), 1);
	assert_string_equal(e.hash, "");

	assert_int_equal(passwd_parse_line("dave:h:0:0", &e, &why), 1);
	assert_int_equal(e.uid, 0);
	assert_int_equal(e.gid, 0);

	assert_int_equal(passwd_parse_line("erin:h:2147483647:5", &e, &why),
	    1);
	assert_int_equal(e.uid, 2147483647L);
	assert_int_equal(e.gid, 5);
}

static void
test_parse_skipped(void **state)
{
	struct passwd_entry	 e;
	const char		*why;

	assert_int_equal(passwd_parse_line("", &e, &why), 0);
	assert_int_equal(passwd_parse_line("   \t ", &e, &why), 0);
	assert_int_equal(passwd_parse_line("# comment", &e, &why), 0);
	assert_int_equal(passwd_parse_line("   #alice:x", &e, &why), 0);
	assert_int_equal(passwd_parse_line("#", &e, &why), 0);
}

static void
test_parse_malformed(void **state)
{
	static const char *const bad[] = {
		"alice",			/* no password field */
		":hash",			/* empty user */
		"alice:h:x",			/* non-numeric uid */
		"alice:h:-1",			/* negative uid */
		"alice:h:+1",
		"alice:h:1x",
		"alice:h:2147483648",		/* > 2^31 - 1 */
		"alice:h:99999999999999999999999",
		"alice:h:1:y",			/* non-numeric gid */
		"alice:h:1:-5",
		"alice:h:1:2147483648",
		"alice:h:1:1::home/alice",	/* relative home */
		"alice:h:1:1::~alice",
		"a/b:h",			/* '/' in the name */
		"..:h",
		".:h",
		"-alice:h",
		"al ice:h",
		"al\tice:h",
		"al\x7fice:h",
	};
	struct passwd_entry	 e;
	const char		*why;
	size_t			 i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		why = NULL;
		if (passwd_parse_line(bad[i], &e, &why) != -1)
			fail_msg("accepted: \"%s\"", bad[i]);
		assert_non_null(why);
	}
}

static void
test_parse_lengths(void **state)
{
	struct passwd_entry	 e;
	const char		*why;
	char			 line[2 * PATH_MAX];
	size_t			 n;

	/* A name of USER_MAX octets is fine, one more is not. */
	memset(line, 'u', USER_MAX);
	strcpy(line + USER_MAX, ":h");
	assert_int_equal(passwd_parse_line(line, &e, &why), 1);
	assert_int_equal(strlen(e.user), USER_MAX);
	memset(line, 'u', USER_MAX + 1);
	strcpy(line + USER_MAX + 1, ":h");
	assert_int_equal(passwd_parse_line(line, &e, &why), -1);
	assert_string_equal(why, "invalid user name");

	/* A hash that fills the buffer exactly (with its NUL) fits. */
	strcpy(line, "u:");
	n = strlen(line);
	memset(line + n, 'h', PASSWD_HASH_MAX - 1);
	line[n + PASSWD_HASH_MAX - 1] = '\0';
	assert_int_equal(passwd_parse_line(line, &e, &why), 1);
	assert_int_equal(strlen(e.hash), PASSWD_HASH_MAX - 1);
	memset(line + n, 'h', PASSWD_HASH_MAX);
	line[n + PASSWD_HASH_MAX] = '\0';
	assert_int_equal(passwd_parse_line(line, &e, &why), -1);
	assert_string_equal(why, "password hash too long");

	/* A home that does not fit PATH_MAX. */
	strcpy(line, "u:h:1:1::/");
	n = strlen(line);
	memset(line + n, 'd', PATH_MAX);
	line[n + PATH_MAX] = '\0';
	assert_int_equal(passwd_parse_line(line, &e, &why), -1);
	assert_string_equal(why, "home too long");
}

static void
test_lookup_found(void **state)
{
	struct fixture		*f = *state;
	struct passwd_entry	 e;
	static const char text[] =
	    "# users\n"
	    "\n"
	    "alice:{PLAIN}a:1001:1001::/home/alice::\n"
	    "Bob:{PLAIN}B\n"
	    "bob:{PLAIN}b:1002:1002::/home/bob\r\n"
	    "alice:{PLAIN}second:1:1\n"
	    "last:{PLAIN}l:7:8";		/* no final newline */

	write_file(f, text, sizeof(text) - 1);
	assert_int_equal(passwd_lookup(f->path, "alice", &e), 1);
	assert_string_equal(e.hash, "{PLAIN}a");	/* the first wins */
	assert_int_equal(e.uid, 1001);
	assert_string_equal(e.home, "/home/alice");

	/* Exact, case-sensitive, CRLF stripped. */
	assert_int_equal(passwd_lookup(f->path, "bob", &e), 1);
	assert_string_equal(e.hash, "{PLAIN}b");
	assert_string_equal(e.home, "/home/bob");
	assert_int_equal(passwd_lookup(f->path, "Bob", &e), 1);
	assert_string_equal(e.hash, "{PLAIN}B");
	assert_int_equal(e.uid, -1);

	assert_int_equal(passwd_lookup(f->path, "last", &e), 1);
	assert_string_equal(e.hash, "{PLAIN}l");
	assert_int_equal(e.gid, 8);
}

static void
test_lookup_not_found(void **state)
{
	struct fixture		*f = *state;
	struct passwd_entry	 e;
	static const char text[] = "alice:{PLAIN}a\n# bob:{PLAIN}b\n";

	write_file(f, text, sizeof(text) - 1);
	assert_int_equal(passwd_lookup(f->path, "bob", &e), 0);
	assert_int_equal(passwd_lookup(f->path, "ALICE", &e), 0);
	assert_int_equal(passwd_lookup(f->path, "alic", &e), 0);
	assert_int_equal(passwd_lookup(f->path, "alice2", &e), 0);
	assert_int_equal(passwd_lookup(f->path, "", &e), 0);
	write_file(f, "", 0);
	assert_int_equal(passwd_lookup(f->path, "alice", &e), 0);
}

static void
test_lookup_malformed_logged(void **state)
{
	struct fixture		*f = *state;
	struct passwd_entry	 e;
	static const char text[] =
	    "# header\n"
	    "alice:{PLAIN}a:x\n"		/* line 2: bad uid */
	    "nopassword\n"			/* line 3 */
	    "alice:{PLAIN}good:5:5\n"
	    "bob:{PLAIN}b:1:1::relative\n";	/* line 5 */
	static const char good[] = "alice:{PLAIN}a\n# c\n\nbob:{PLAIN}b:1:1\n";

	write_file(f, text, sizeof(text) - 1);
	assert_int_equal(lookup_logged(f, "alice", &e), 1);
	assert_string_equal(e.hash, "{PLAIN}good");
	assert_int_equal(e.uid, 5);
	assert_logged(f, 2, "invalid uid");

	/* A malformed entry is not found, even under its own name. */
	assert_int_equal(lookup_logged(f, "bob", &e), 0);
	assert_logged(f, 5, "home is not an absolute path");
	assert_int_equal(lookup_logged(f, "nopassword", &e), 0);
	assert_logged(f, 3, "no password field");

	/* Other users' bad lines are not parsed, nor logged at each login. */
	assert_int_equal(lookup_logged(f, "carol", &e), 0);
	assert_quiet(f);

	/* passwd_check parses and logs them all. */
	assert_int_equal(lookup_logged(f, NULL, &e), 3);
	assert_logged(f, 2, "invalid uid");
	assert_logged(f, 3, "no password field");
	assert_logged(f, 5, "home is not an absolute path");
	write_file(f, good, sizeof(good) - 1);
	assert_int_equal(lookup_logged(f, NULL, &e), 0);
	assert_quiet(f);
}

static void
test_lookup_long_line(void **state)
{
	struct fixture		*f = *state;
	struct passwd_entry	 e;
	char			*text;
	size_t			 n = 0, len = 6000;

	assert_non_null(text = malloc(len + 64));
	/* "long:" + 4995 'x' + "\n": a line too long for the reader. */
	n += sprintf(text, "long:");
	memset(text + n, 'x', len - n);
	n = len;
	n += sprintf(text + n, "\nshort:{PLAIN}s\n");
	write_file(f, text, n);
	free(text);

	assert_int_equal(lookup_logged(f, "long", &e), 0);
	assert_logged(f, 1, "line too long");
	assert_int_equal(lookup_logged(f, "short", &e), 1);
	assert_string_equal(e.hash, "{PLAIN}s");
}

static void
test_lookup_nul(void **state)
{
	struct fixture		*f = *state;
	struct passwd_entry	 e;
	static const char text[] = "alice:{PLAIN}a\0junk\nbob:{PLAIN}b\n";

	write_file(f, text, sizeof(text) - 1);
	assert_int_equal(lookup_logged(f, "alice", &e), 0);
	assert_int_equal(lookup_logged(f, "bob", &e), 1);
}

static void
test_lookup_unreadable(void **state)
{
	struct fixture		*f = *state;
	struct passwd_entry	 e;

	/* Missing file. */
	errno = 0;
	assert_int_equal(lookup_logged(f, "alice", &e), -1);
	assert_int_equal(errno, ENOENT);

	/* A directory is not a passwd-file. */
	assert_int_equal(lookup_path_logged(f, f->dir, "alice", &e), -1);

	/* No permission (meaningless as root, who reads anything). */
	write_file(f, "alice:{PLAIN}a\n", 15);
	if (geteuid() != 0) {
		assert_int_equal(chmod(f->path, 0), 0);
		errno = 0;
		assert_int_equal(lookup_logged(f, "alice", &e), -1);
		assert_int_equal(errno, EACCES);
		assert_int_equal(chmod(f->path, 0600), 0);
	}
	assert_int_equal(passwd_lookup(f->path, "alice", &e), 1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_full),
		cmocka_unit_test(test_parse_minimal),
		cmocka_unit_test(test_parse_skipped),
		cmocka_unit_test(test_parse_malformed),
		cmocka_unit_test(test_parse_lengths),
		cmocka_unit_test_setup_teardown(test_lookup_found, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_lookup_not_found, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_lookup_malformed_logged,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_lookup_long_line, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_lookup_nul, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_lookup_unreadable, setup,
		    teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
