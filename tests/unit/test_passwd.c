/*
 * test_passwd.c: the passwd-file parser and lookup, against lines and
 * temporary files.  Checks what is accepted, what is refused, that
 * refused lines are logged with their line number and skipped, and that
 * the in-memory copy lookups are served from is used while the file
 * stays as it was and read again as soon as it changes (what the
 * process read is told by /proc/self/io).
 */
#include "tests/unit/unit.h"

#include <sys/stat.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "server/passwd.h"

struct fixture {
	char	dir[PATH_MAX];
	char	path[PATH_MAX];
	char	log[PATH_MAX];
	char	other[PATH_MAX];	/* dir/passwd2 */
	char	renamed[PATH_MAX];	/* dir/passwd.new */
	char	big[PATH_MAX];		/* dir/passwd.big */
};

/* Makes a temporary directory for the test's files. */
static int
setup(void **state)
{
	struct fixture	*f;
	const char	*tmp;

	if ((f = calloc(1, sizeof(*f))) == NULL)
		return -1;
	passwd_keep();		/* as the auth process does */
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
	    sizeof(f->log) ||
	    (size_t)snprintf(f->other, sizeof(f->other), "%s/passwd2",
	    f->dir) >= sizeof(f->other) ||
	    (size_t)snprintf(f->renamed, sizeof(f->renamed), "%s/passwd.new",
	    f->dir) >= sizeof(f->renamed) ||
	    (size_t)snprintf(f->big, sizeof(f->big), "%s/passwd.big",
	    f->dir) >= sizeof(f->big)) {
		rmdir(f->dir);
		free(f);
		return -1;
	}
	*state = f;
	return 0;
}

/* Removes the temporary directory and what is in it, and the copy of
 * the file the lookups kept. */
static int
teardown(void **state)
{
	struct fixture	*f = *state;

	passwd_forget();
	unlink(f->path);
	unlink(f->log);
	unlink(f->other);
	unlink(f->renamed);
	unlink(f->big);
	rmdir(f->dir);
	free(f);
	return 0;
}

/* Writes len octets of text as the file at path (truncated in place
 * when it exists). */
static void
write_path(const char *path, const char *text, size_t len)
{
	FILE	*fp;

	assert_non_null(fp = fopen(path, "w"));
	assert_int_equal(fwrite(text, 1, len, fp), len);
	assert_int_equal(fclose(fp), 0);
}

/* Writes len octets of text as the passwd-file. */
static void
write_file(const struct fixture *f, const char *text, size_t len)
{
	write_path(f->path, text, len);
}

/* Octets this process has read(2) so far (/proc/self/io's rchar), or -1
 * when the system does not say. */
static long long
rchar(void)
{
	char	 buf[1024], *p;
	ssize_t	 n;
	int	 fd;

	if ((fd = open("/proc/self/io", O_RDONLY | O_CLOEXEC)) == -1)
		return -1;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return -1;
	buf[n] = '\0';
	if ((p = strstr(buf, "rchar: ")) == NULL)
		return -1;
	return strtoll(p + 7, NULL, 10);
}

/* Runs passwd_lookup; *read_r is how many octets it read (with the few
 * hundred of /proc/self/io itself). */
static int
lookup_read(const char *path, const char *user, struct passwd_entry *e,
    long long *read_r)
{
	long long	 before;
	int		 r;

	before = rchar();
	r = passwd_lookup(path, user, e);
	*read_r = rchar() - before;
	return r;
}

/* Asserts that a lookup of user in path finds the hash want and was
 * served from the copy (1) or read the file of size octets (0). */
static void
assert_served(const char *path, const char *user, const char *want,
    int cached, off_t size)
{
	struct passwd_entry	 e;
	long long		 n;

	assert_int_equal(lookup_read(path, user, &e, &n), 1);
	assert_string_equal(e.hash, want);
	if (cached && n >= 4096)
		fail_msg("%s: %lld octets read for a cached lookup", user, n);
	if (!cached && n < (long long)size)
		fail_msg("%s: %lld octets read, not the file's %lld", user,
		    n, (long long)size);
}

/* Writes at path a passwd-file larger than PASSWD_COPY_MAX, mostly a
 * hole: "first" on the first line, "last" on the last, and between them
 * a line of NULs that is no user's. */
static void
write_large(const char *path)
{
	static const char head[] = "first:{PLAIN}f\n";
	static const char tail[] = "\nlast:{PLAIN}l\n";
	int		 fd;

	assert_true((fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600)) !=
	    -1);
	assert_int_equal(write(fd, head, sizeof(head) - 1),
	    (ssize_t)sizeof(head) - 1);
	assert_int_equal(pwrite(fd, tail, sizeof(tail) - 1, PASSWD_COPY_MAX),
	    (ssize_t)sizeof(tail) - 1);
	assert_int_equal(close(fd), 0);
}

/* The user on line i (from 0) of a file of n users: a permutation, so
 * that the file is not in the order of the names. */
static int
user_on_line(int i, int n)
{
	return (i * 7 + 3) % n;
}

/* A passwd-file of n users uNNNN, hash {PLAIN}hNNNN-c, uid and gid
 * 10000 + NNNN, in the order user_on_line says; malloc'd, its length in
 * *len_r. */
static char *
many_users(int n, char c, size_t *len_r)
{
	char	*text;
	size_t	 len = 0, cap = (size_t)n * 64 + 1;
	int	 i, j;

	assert_non_null(text = malloc(cap));
	for (i = 0; i < n; i++) {
		j = user_on_line(i, n);
		len += (size_t)snprintf(text + len, cap - len,
		    "u%04d:{PLAIN}h%04d-%c:%d:%d::/home/u%04d::\n", j, j, c,
		    10000 + j, 10000 + j, j);
		assert_true(len < cap);
	}
	*len_r = len;
	return text;
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

/* The longest passwd-file line, without its ending (passwd.c). */
#define LINE_MAX_OCTETS	4096

/* pad_line: writes at p "NAME:{PLAIN}p:1:2:" and gecos x's up to len
 * octets with ":/home" and CRLF; returns the octets written. */
static size_t
pad_line(char *p, const char *name, size_t len)
{
	size_t	 n;

	n = (size_t)sprintf(p, "%s:{PLAIN}p:1:2:", name);
	memset(p + n, 'x', len - n - 6);
	memcpy(p + len - 6, ":/home\r\n", 8);
	return len + 2;
}

/* passwd_check (postern check) reads the file line by line: CRLF ends
 * are stripped, a line of LINE_MAX_OCTETS passes and a longer one is
 * reported with its number, as a line with a NUL or a malformed entry
 * is. */
static void
test_check_odd_lines(void **state)
{
	struct fixture		*f = *state;
	struct passwd_entry	 e;
	char			*text;
	size_t			 n;
	static const char head[] =
	    "ann:{PLAIN}a:1:2::/home/ann\r\n"	/* good, with CRLF */
	    "ben:{PLAIN}b\0junk\r\n"		/* 2: NUL */
	    "cat:{PLAIN}c:x\r\n";		/* 3: bad uid */

	assert_non_null(text = malloc(3 * LINE_MAX_OCTETS));
	memcpy(text, head, sizeof(head) - 1);
	n = sizeof(head) - 1;
	n += pad_line(text + n, "dan", LINE_MAX_OCTETS);	/* 4: good */
	n += pad_line(text + n, "eve", LINE_MAX_OCTETS + 1);	/* 5 */
	write_file(f, text, n);
	free(text);

	assert_int_equal(lookup_logged(f, NULL, &e), 3);
	assert_logged(f, 2, "NUL in line");
	assert_logged(f, 3, "invalid uid");
	assert_logged(f, 5, "line too long");
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

static void
test_lookup_many(void **state)
{
	struct fixture		*f = *state;
	struct passwd_entry	 e;
	const int		 lines[] = { 0, 1, 999, 1000, 1998, 1999 };
	char			*text, user[16], hash[32];
	size_t			 len, i;
	int			 j;

	text = many_users(2000, 'a', &len);
	write_file(f, text, len);
	free(text);
	/* The first, middle and last lines of the file, and the first,
	 * middle and last names in order. */
	for (i = 0; i < sizeof(lines) / sizeof(lines[0]); i++) {
		j = user_on_line(lines[i], 2000);
		snprintf(user, sizeof(user), "u%04d", j);
		snprintf(hash, sizeof(hash), "{PLAIN}h%04d-a", j);
		assert_int_equal(lookup_logged(f, user, &e), 1);
		assert_string_equal(e.user, user);
		assert_string_equal(e.hash, hash);
		assert_int_equal(e.uid, 10000 + j);
		assert_int_equal(e.gid, 10000 + j);
		snprintf(user, sizeof(user), "u%04d", lines[i]);
		snprintf(hash, sizeof(hash), "{PLAIN}h%04d-a", lines[i]);
		assert_int_equal(passwd_lookup(f->path, user, &e), 1);
		assert_string_equal(e.hash, hash);
		assert_int_equal(e.uid, 10000 + lines[i]);
	}
	assert_quiet(f);
	/* Every one of them. */
	for (j = 0; j < 2000; j++) {
		snprintf(user, sizeof(user), "u%04d", j);
		assert_int_equal(passwd_lookup(f->path, user, &e), 1);
		assert_int_equal(e.uid, 10000 + j);
	}
	/* Names before the first, after the last, and between. */
	assert_int_equal(passwd_lookup(f->path, "a", &e), 0);
	assert_int_equal(passwd_lookup(f->path, "u", &e), 0);
	assert_int_equal(passwd_lookup(f->path, "u2000", &e), 0);
	assert_int_equal(passwd_lookup(f->path, "u00000", &e), 0);
	assert_int_equal(passwd_lookup(f->path, "u0999x", &e), 0);
	assert_int_equal(passwd_lookup(f->path, "zz", &e), 0);
	assert_int_equal(passwd_lookup(f->path, "no:such:user", &e), 0);
}

static void
test_lookup_first_valid(void **state)
{
	struct fixture		*f = *state;
	struct passwd_entry	 e;
	static const char text[] =
	    "zed:{PLAIN}z\n"
	    "dup:{PLAIN}d1:x\n"			/* line 2: bad uid */
	    "amy:{PLAIN}a\n"
	    "dup\n"				/* line 4: no password */
	    "dup:{PLAIN}d2:7:7\n"		/* line 5: the first valid */
	    "bob:{PLAIN}b\n"
	    "dup:{PLAIN}d3:8:8\n"
	    "amy:{PLAIN}a2\n"
	    "dup:{PLAIN}d4:9:9\n";
	int			 i;

	write_file(f, text, sizeof(text) - 1);
	/* At every lookup, not just the one that read the file. */
	for (i = 0; i < 3; i++) {
		assert_int_equal(lookup_logged(f, "dup", &e), 1);
		assert_string_equal(e.hash, "{PLAIN}d2");
		assert_int_equal(e.uid, 7);
		assert_logged(f, 2, "invalid uid");
		assert_logged(f, 4, "no password field");
	}
	assert_int_equal(lookup_logged(f, "amy", &e), 1);
	assert_string_equal(e.hash, "{PLAIN}a");
	assert_quiet(f);
	assert_int_equal(lookup_logged(f, "zed", &e), 1);
	assert_string_equal(e.hash, "{PLAIN}z");
	assert_int_equal(lookup_logged(f, "bob", &e), 1);
	assert_string_equal(e.hash, "{PLAIN}b");
	assert_int_equal(lookup_logged(f, "dupe", &e), 0);
	assert_quiet(f);
}

static void
test_lookup_many_duplicates(void **state)
{
	struct fixture		*f = *state;
	struct passwd_entry	 e;
	char			*text;
	size_t			 len = 0, cap = 64 * 1024;
	int			 i;

	/* 300 lines of "same", the first 60 of them malformed, among
	 * others: qsort need not keep order, the index must. */
	assert_non_null(text = malloc(cap));
	for (i = 0; i < 300; i++) {
		len += (size_t)snprintf(text + len, cap - len,
		    "other%d:{PLAIN}o\n", i);
		len += (size_t)snprintf(text + len, cap - len,
		    i < 60 ? "same:{PLAIN}s%d:bad\n" : "same:{PLAIN}s%d\n", i);
	}
	assert_true(len < cap);
	write_file(f, text, len);
	free(text);
	assert_int_equal(lookup_logged(f, "same", &e), 1);
	assert_string_equal(e.hash, "{PLAIN}s60");
	assert_logged(f, 2, "invalid uid");
	assert_logged(f, 60, "invalid uid");
	assert_logged(f, 120, "invalid uid");
	assert_int_equal(lookup_logged(f, "other299", &e), 1);
	assert_quiet(f);
}

static void
test_lookup_prefix(void **state)
{
	struct fixture		*f = *state;
	struct passwd_entry	 e;
	static const char text[] =
	    "bobby:{PLAIN}bobby\n"
	    "bob-x:{PLAIN}dash\n"
	    "bob0:{PLAIN}zero\n"
	    "bob:{PLAIN}bob\n"
	    "bo:{PLAIN}bo\n"
	    "bob.y:{PLAIN}dot\n";

	write_file(f, text, sizeof(text) - 1);
	assert_int_equal(passwd_lookup(f->path, "bob", &e), 1);
	assert_string_equal(e.hash, "{PLAIN}bob");
	assert_int_equal(passwd_lookup(f->path, "bobby", &e), 1);
	assert_string_equal(e.hash, "{PLAIN}bobby");
	assert_int_equal(passwd_lookup(f->path, "bo", &e), 1);
	assert_string_equal(e.hash, "{PLAIN}bo");
	assert_int_equal(passwd_lookup(f->path, "bob-x", &e), 1);
	assert_string_equal(e.hash, "{PLAIN}dash");
	assert_int_equal(passwd_lookup(f->path, "bob.y", &e), 1);
	assert_string_equal(e.hash, "{PLAIN}dot");
	assert_int_equal(passwd_lookup(f->path, "bob0", &e), 1);
	assert_string_equal(e.hash, "{PLAIN}zero");
	assert_int_equal(passwd_lookup(f->path, "b", &e), 0);
	assert_int_equal(passwd_lookup(f->path, "bobb", &e), 0);
	assert_int_equal(passwd_lookup(f->path, "bobbyy", &e), 0);
	assert_int_equal(passwd_lookup(f->path, "bob:{PLAIN}bob", &e), 0);
}

static void
test_lookup_comments(void **state)
{
	struct fixture		*f = *state;
	struct passwd_entry	 e;
	static const char text[] =
	    "# users\n"				/* 1 */
	    "#carol:{PLAIN}commented\n"		/* 2 */
	    "\n"				/* 3 */
	    "   \t \n"				/* 4 */
	    "  # dave:{PLAIN}d\n"		/* 5 */
	    "carol:{PLAIN}c:z\n"		/* 6: bad uid */
	    "\t\n"				/* 7 */
	    "carol:{PLAIN}c\n"			/* 8 */
	    "#\n";				/* 9 */

	write_file(f, text, sizeof(text) - 1);
	/* The line numbers count comments and blank lines. */
	assert_int_equal(lookup_logged(f, "carol", &e), 1);
	assert_string_equal(e.hash, "{PLAIN}c");
	assert_logged(f, 6, "invalid uid");
	assert_int_equal(lookup_logged(f, "dave", &e), 0);
	assert_int_equal(lookup_logged(f, "#carol", &e), 0);
	assert_quiet(f);
	assert_int_equal(lookup_logged(f, NULL, &e), 1);
	assert_logged(f, 6, "invalid uid");
}

static void
test_lookup_crlf(void **state)
{
	struct fixture		*f = *state;
	struct passwd_entry	 e;
	static const char text[] =
	    "# crlf\r\n"
	    "\r\n"
	    "ann:{PLAIN}a:1:2::/home/ann\r\n"
	    "ben:{PLAIN}b:x\r\n"		/* line 4: bad uid */
	    "ben:{PLAIN}b\r\r\n"		/* one CR stripped, not two */
	    "cat:{PLAIN}c\r";			/* no final LF */

	write_file(f, text, sizeof(text) - 1);
	assert_int_equal(lookup_logged(f, "ann", &e), 1);
	assert_string_equal(e.hash, "{PLAIN}a");
	assert_int_equal(e.uid, 1);
	assert_int_equal(e.gid, 2);
	assert_string_equal(e.home, "/home/ann");
	assert_quiet(f);
	assert_int_equal(lookup_logged(f, "ben", &e), 1);
	assert_string_equal(e.hash, "{PLAIN}b\r");
	assert_logged(f, 4, "invalid uid");
	assert_int_equal(lookup_logged(f, "cat", &e), 1);
	assert_string_equal(e.hash, "{PLAIN}c");
}

static void
test_lookup_changes(void **state)
{
	struct fixture		*f = *state;
	struct passwd_entry	 e;
	struct stat		 st;
	static const char a[] = "alice:{PLAIN}aaaa\nbob:{PLAIN}bbbb\n";
	static const char b[] = "alice:{PLAIN}AAAA\nbob:{PLAIN}BBBB\n";
	static const char c[] = "carol:{PLAIN}c\n";
	struct timespec		 t[2];
	ino_t			 ino;

	write_file(f, a, sizeof(a) - 1);
	assert_int_equal(passwd_lookup(f->path, "alice", &e), 1);
	assert_string_equal(e.hash, "{PLAIN}aaaa");
	assert_int_equal(stat(f->path, &st), 0);
	ino = st.st_ino;

	/* Edited in place, same size, the old mtime put back. */
	write_file(f, b, sizeof(b) - 1);
	t[0].tv_nsec = UTIME_OMIT;
	t[1] = st.st_mtim;
	assert_int_equal(utimensat(AT_FDCWD, f->path, t, 0), 0);
	assert_int_equal(stat(f->path, &st), 0);
	assert_int_equal(st.st_ino, ino);
	assert_int_equal(passwd_lookup(f->path, "alice", &e), 1);
	assert_string_equal(e.hash, "{PLAIN}AAAA");
	assert_int_equal(passwd_lookup(f->path, "bob", &e), 1);
	assert_string_equal(e.hash, "{PLAIN}BBBB");

	/* Replaced by rename. */
	write_path(f->renamed, c, sizeof(c) - 1);
	assert_int_equal(rename(f->renamed, f->path), 0);
	assert_int_equal(passwd_lookup(f->path, "alice", &e), 0);
	assert_int_equal(passwd_lookup(f->path, "carol", &e), 1);
	assert_string_equal(e.hash, "{PLAIN}c");

	/* Another path. */
	write_path(f->other, a, sizeof(a) - 1);
	assert_int_equal(passwd_lookup(f->other, "alice", &e), 1);
	assert_string_equal(e.hash, "{PLAIN}aaaa");
	assert_int_equal(passwd_lookup(f->path, "carol", &e), 1);
	assert_int_equal(passwd_lookup(f->other, "carol", &e), 0);

	/* Removed: unreadable, and nothing of it is served. */
	assert_int_equal(unlink(f->path), 0);
	errno = 0;
	assert_int_equal(lookup_logged(f, "carol", &e), -1);
	assert_int_equal(errno, ENOENT);
	assert_int_equal(lookup_logged(f, "carol", &e), -1);
	write_file(f, c, sizeof(c) - 1);
	assert_int_equal(passwd_lookup(f->path, "carol", &e), 1);

	/* Replaced by a directory. */
	assert_int_equal(unlink(f->path), 0);
	assert_int_equal(mkdir(f->path, 0700), 0);
	assert_int_equal(lookup_logged(f, "carol", &e), -1);
	assert_int_equal(rmdir(f->path), 0);
}

/* Whether the child's first lookup in path reads the file of size
 * octets (its copy inherited from the parent reads as zeros): the
 * child's exit status, 0 when it does. */
static int
child_reads(const char *path, off_t size)
{
	struct passwd_entry	 e;
	long long		 n;
	pid_t			 pid;
	int			 status;

	assert_true((pid = fork()) != -1);
	if (pid == 0)
		_exit(lookup_read(path, "u0001", &e, &n) == 1 &&
		    n >= (long long)size ? 0 : 1);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	return WEXITSTATUS(status);
}

static void
test_lookup_cache(void **state)
{
	struct fixture		*f = *state;
	struct passwd_entry	 e;
	struct timespec		 t[2], pause = { PASSWD_RACY_SEC, 200000000 };
	struct stat		 st;
	char			*text, *at;
	size_t			 len;
	off_t			 size;
	long long		 n;
	int			 fd;

	if (rchar() == -1)
		skip();
	/* Three files of 2000 users, changed no more once the copies of
	 * them are to be trusted. */
	text = many_users(2000, 'a', &len);
	write_path(f->path, text, len);
	write_path(f->other, text, len);
	free(text);
	text = many_users(2000, 'r', &len);
	write_path(f->renamed, text, len);
	free(text);
	size = (off_t)len;
	write_large(f->big);

	/* Read within PASSWD_RACY_SEC of its last change, the copy is read
	 * again at every lookup. */
	assert_served(f->path, "u0000", "{PLAIN}h0000-a", 0, size);
	assert_served(f->path, "u0000", "{PLAIN}h0000-a", 0, size);
	nanosleep(&pause, NULL);

	/* Then once, and served from it. */
	assert_served(f->path, "u0000", "{PLAIN}h0000-a", 0, size);
	assert_served(f->path, "u1999", "{PLAIN}h1999-a", 1, size);
	assert_served(f->path, "u1000", "{PLAIN}h1000-a", 1, size);
	assert_int_equal(lookup_read(f->path, "nobody", &e, &n), 0);
	assert_true(n < 4096);

	/* A child forked since does not have it. */
	assert_int_equal(child_reads(f->path, size), 0);
	assert_served(f->path, "u0001", "{PLAIN}h0001-a", 1, size);

	/* Forgotten: no copy is kept any more, every lookup reads the file
	 * (as in any process that never called passwd_keep()); kept
	 * again, read once and then served. */
	passwd_forget();
	assert_int_equal(lookup_read(f->path, "nobody", &e, &n), 0);
	assert_true(n >= (long long)size);
	assert_int_equal(lookup_read(f->path, "nobody", &e, &n), 0);
	assert_true(n >= (long long)size);
	passwd_keep();
	assert_served(f->path, "u0001", "{PLAIN}h0001-a", 0, size);
	assert_served(f->path, "u0001", "{PLAIN}h0001-a", 1, size);

	/* Edited in place, same size, the mtime put back: only the status
	 * change time tells. */
	assert_int_equal(stat(f->path, &st), 0);
	assert_non_null(text = malloc(len + 1));
	assert_true((fd = open(f->path, O_RDWR)) != -1);
	assert_int_equal(read(fd, text, len), (ssize_t)len);
	text[len] = '\0';
	assert_non_null(at = strstr(text, "u0500:{PLAIN}h0500-a"));
	assert_int_equal(pwrite(fd, "b", 1, at - text + 19), 1);
	close(fd);
	free(text);
	t[0].tv_nsec = UTIME_OMIT;
	t[1] = st.st_mtim;
	assert_int_equal(utimensat(AT_FDCWD, f->path, t, 0), 0);
	assert_served(f->path, "u0500", "{PLAIN}h0500-b", 0, size);
	/* (now too recent a change to be trusted) */
	assert_served(f->path, "u0500", "{PLAIN}h0500-b", 0, size);

	/* Another path: read; then replaced by rename. */
	assert_served(f->other, "u0500", "{PLAIN}h0500-a", 0, size);
	assert_served(f->other, "u0499", "{PLAIN}h0499-a", 1, size);
	assert_int_equal(rename(f->renamed, f->other), 0);
	assert_served(f->other, "u0499", "{PLAIN}h0499-r", 0, size);

	/* Larger than PASSWD_COPY_MAX: read through at every lookup. */
	assert_served(f->big, "last", "{PLAIN}l", 0, PASSWD_COPY_MAX);
	assert_served(f->big, "last", "{PLAIN}l", 0, PASSWD_COPY_MAX);

	/* Removed. */
	assert_served(f->path, "u0002", "{PLAIN}h0002-a", 0, size);
	assert_int_equal(unlink(f->path), 0);
	errno = 0;
	assert_int_equal(lookup_logged(f, "u0002", &e), -1);
	assert_int_equal(errno, ENOENT);
}

static void
test_lookup_large(void **state)
{
	struct fixture		*f = *state;
	struct passwd_entry	 e;

	/* Read through by passwd_scan: the same results.  (That it is read
	 * at every lookup, test_lookup_cache checks.) */
	write_large(f->path);
	assert_int_equal(lookup_logged(f, "first", &e), 1);
	assert_string_equal(e.hash, "{PLAIN}f");
	assert_int_equal(lookup_logged(f, "last", &e), 1);
	assert_string_equal(e.hash, "{PLAIN}l");
	assert_int_equal(lookup_logged(f, "nobody", &e), 0);
	assert_quiet(f);
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
		cmocka_unit_test_setup_teardown(test_check_odd_lines, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_lookup_unreadable, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_lookup_many, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_lookup_first_valid, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_lookup_many_duplicates,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_lookup_prefix, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_lookup_comments, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_lookup_crlf, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_lookup_changes, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_lookup_cache, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_lookup_large, setup,
		    teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
