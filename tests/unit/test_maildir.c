/*
 * test_maildir.c: the Maildir snapshot: listing order, network sizes,
 * stale tmp/ files, the lock, deferred deletes and the seen flag.  Every
 * test works in its own temporary Maildir and removes it afterwards.
 */
#include "tests/unit/unit.h"

#include <sys/types.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "server/limits.h"
#include "storage/lock.h"
#include "storage/maildir.h"
#include "tests/unit/fixture.h"

#define HOURS(h)	((time_t)(h) * 60 * 60)

/* Child exit codes. */
#define CHILD_OPENED	10
#define CHILD_LOCKED	11
#define CHILD_ERROR	12

/* True if rel exists in the Maildir (links not followed). */
static bool
exists(struct fx_dir *fx, const char *rel)
{
	struct stat	 st;

	return fstatat(fx->mdfd, rel, &st, AT_SYMLINK_NOFOLLOW) == 0;
}

/* Opens the fixture's Maildir, which must succeed. */
static struct maildrop *
md_open(struct fx_dir *fx)
{
	struct maildrop	*md = NULL;

	assert_int_equal(maildrop_open(fx->md, NULL, &md), 0);
	assert_non_null(md);
	return md;
}

/* Asserts the names listed in md, in order. */
static void
assert_names(const struct maildrop *md, const char *const *names, size_t n)
{
	size_t	 i;

	assert_int_equal(md->count, n);
	for (i = 0; i < n; i++)
		assert_string_equal(md->mail[i].name, names[i]);
}

/* The network size of data as the definition says, byte by byte. */
static off_t
naive_size(const char *data, size_t len)
{
	off_t	 size = 0;
	size_t	 i;

	for (i = 0; i < len; i++) {
		if (data[i] == '\n' && (i == 0 || data[i - 1] != '\r'))
			size++;
		size++;
	}
	if (len > 0 && data[len - 1] != '\n')
		size += 2;
	return size;
}

/* maildir_count_size() on a file holding data. */
static off_t
count_of(struct fx_dir *fx, const char *data, size_t len)
{
	off_t	 size = -1;
	int	 fd;

	writeat(fx->mdfd, "tmp/count", data, len);
	fd = openat(fx->mdfd, "tmp/count", O_RDONLY | O_CLOEXEC);
	assert_true(fd >= 0);
	assert_int_equal(maildir_count_size(fd, &size), 0);
	assert_int_equal(close(fd), 0);
	assert_int_equal(unlinkat(fx->mdfd, "tmp/count", 0), 0);
	return size;
}

static time_t	tmp_atime(struct fx_dir *);

/* Sets the atime and mtime of rel. */
static void
set_times(struct fx_dir *fx, const char *rel, time_t atime, time_t mtime)
{
	struct timespec	 ts[2];

	memset(ts, 0, sizeof(ts));
	ts[0].tv_sec = atime;
	ts[1].tv_sec = mtime;
	assert_int_equal(utimensat(fx->mdfd, rel, ts, AT_SYMLINK_NOFOLLOW),
	    0);
}

/* Reads all of fd into buf (NUL-terminated); returns the length. */
static size_t
slurp(int fd, char *buf, size_t bufsz)
{
	size_t	 len = 0;
	ssize_t	 n;

	while ((n = read(fd, buf + len, bufsz - 1 - len)) > 0)
		len += n;
	assert_true(n == 0);
	buf[len] = '\0';
	return len;
}

/* Delivery order is numeric on the leading number, then strcmp; both
 * new/ and cur/ are listed, dot files and tmp/ never. */
static void
test_scan_order(void **state)
{
	struct fx_dir	*fx = *state;
	struct maildrop	*md;
	static const char *const want[] = {
		"new/abc", "cur/0998.c:2,", "new/999.b", "cur/1000.A:2,S",
		"new/1000.a", "new/1000.a,S=1", "cur/10000.z:2,RS",
	};

	put(fx->mdfd, "new/1000.a", "x\n");
	put(fx->mdfd, "new/999.b", "x\n");
	put(fx->mdfd, "new/1000.a,S=1", "x\n");
	put(fx->mdfd, "cur/1000.A:2,S", "x\n");
	put(fx->mdfd, "cur/0998.c:2,", "x\n");
	put(fx->mdfd, "cur/10000.z:2,RS", "x\n");
	put(fx->mdfd, "new/abc", "x\n");
	put(fx->mdfd, "new/.hidden", "x\n");
	put(fx->mdfd, "cur/.1.hidden:2,S", "x\n");
	put(fx->mdfd, "tmp/1.intmp", "x\n");

	md = md_open(fx);
	assert_names(md, want, sizeof(want) / sizeof(want[0]));
	assert_int_equal(md->mail[1].baselen, strlen("0998.c"));
	assert_int_equal(md->mail[6].baselen, strlen("10000.z"));
	assert_int_equal(mail_base(&md->mail[6])[md->mail[6].baselen], ':');
	assert_int_equal(strncmp(mail_base(&md->mail[6]), "10000.z", 7), 0);
	assert_int_equal(md->size, 7 * 3);
	assert_true(exists(fx, "tmp/1.intmp"));
	maildrop_close(&md);
	assert_null(md);
	maildrop_close(&md);	/* safe twice */
	maildrop_close(NULL);
}

/* Directories, symlinks and FIFOs are not messages. */
static void
test_scan_not_regular(void **state)
{
	struct fx_dir	*fx = *state;
	struct maildrop	*md;
	static const char *const want[] = { "new/102.real" };

	put(fx->mdfd, "new/102.real", "hello\n");
	assert_int_equal(mkdirat(fx->mdfd, "cur/100.dir:2,", 0700), 0);
	assert_int_equal(symlinkat("102.real", fx->mdfd, "new/101.link"), 0);
	assert_int_equal(symlinkat("102.real", fx->mdfd, "new/103.l,W=7"),
	    0);
	assert_int_equal(mkfifoat(fx->mdfd, "new/104.fifo", 0600), 0);

	md = md_open(fx);
	assert_names(md, want, 1);
	assert_int_equal(md->mail[0].size, 7);
	maildrop_close(&md);
}

/* A name with a control character is no Maildir name: a line feed in it
 * must not reach the index's lines. */
static void
test_scan_control_name(void **state)
{
	struct fx_dir	*fx = *state;
	struct maildrop	*md;
	static const char *const want[] = { "new/102.real" };
	int		 i;

	put(fx->mdfd, "new/102.real", "hello\n");
	put(fx->mdfd, "new/101.evil\n1 1 1 1 cur:x", "forged\n");
	put(fx->mdfd, "new/103.bell\a", "ding\n");
	for (i = 0; i < 2; i++) {	/* the second reads the index */
		md = md_open(fx);
		assert_names(md, want, 1);
		maildrop_close(&md);
	}
}

/* A Maildir without new/, cur/ or tmp/ is an error and is not created. */
static void
test_scan_missing_subdir(void **state)
{
	struct fx_dir	*fx = *state;
	struct maildrop	*md = NULL;
	char		 path[PATH_MAX + 16];

	assert_int_equal(unlinkat(fx->mdfd, "tmp", AT_REMOVEDIR), 0);
	errno = 0;
	assert_int_equal(maildrop_open(fx->md, NULL, &md), -1);
	assert_int_equal(errno, ENOENT);
	assert_null(md);
	assert_false(exists(fx, "tmp"));
	assert_false(exists(fx, LOCK_FILE));

	/* cur/ as a file */
	assert_int_equal(mkdirat(fx->mdfd, "tmp", 0700), 0);
	assert_int_equal(unlinkat(fx->mdfd, "cur", AT_REMOVEDIR), 0);
	put(fx->mdfd, "cur", "");
	assert_int_equal(maildrop_open(fx->md, NULL, &md), -1);
	assert_int_equal(errno, ENOTDIR);
	assert_null(md);

	/* new/ as a symlink to a directory */
	assert_int_equal(unlinkat(fx->mdfd, "cur", 0), 0);
	assert_int_equal(mkdirat(fx->mdfd, "cur", 0700), 0);
	assert_int_equal(unlinkat(fx->mdfd, "new", AT_REMOVEDIR), 0);
	assert_int_equal(symlinkat("cur", fx->mdfd, "new"), 0);
	assert_int_equal(maildrop_open(fx->md, NULL, &md), -1);
	assert_null(md);

	/* no Maildir at all */
	assert_true(snprintf(path, sizeof(path), "%s/none", fx->md) <
	    (int)sizeof(path));
	assert_int_equal(maildrop_open(path, NULL, &md), -1);
	assert_int_equal(errno, ENOENT);
	assert_null(md);

	/* and a complete one opens */
	assert_int_equal(unlinkat(fx->mdfd, "new", 0), 0);
	assert_int_equal(mkdirat(fx->mdfd, "new", 0700), 0);
	md = md_open(fx);
	assert_int_equal(md->count, 0);
	assert_int_equal(md->size, 0);
	maildrop_close(&md);
}

/* The Maildir path itself may be a symlink (an admin's choice). */
static void
test_scan_path_symlink(void **state)
{
	struct fx_dir	*fx = *state;
	struct maildrop	*md = NULL;
	char		 link[PATH_MAX + 16];

	put(fx->mdfd, "new/1.a", "a\n");
	assert_true(snprintf(link, sizeof(link), "%s.lnk", fx->md) <
	    (int)sizeof(link));
	assert_int_equal(symlink(fx->md, link), 0);
	assert_int_equal(maildrop_open(link, NULL, &md), 0);
	assert_int_equal(unlink(link), 0);
	assert_int_equal(md->count, 1);
	maildrop_close(&md);
}

/* ,W= is trusted without reading; ,S= is not the network size. */
static void
test_sizes_from_names(void **state)
{
	struct fx_dir	*fx = *state;
	struct maildrop	*md;

	/* W deliberately wrong: only trusting the name gives 12345 */
	put(fx->mdfd, "new/1.w,S=4,W=12345", "abc\n");
	/* S alone: counted (4 bytes on disk, 5 on the wire) */
	put(fx->mdfd, "new/2.s,S=4", "abc\n");
	put(fx->mdfd, "cur/3.none:2,S", "a\r\nb\n");
	/* a malformed W is ignored and the file counted */
	put(fx->mdfd, "cur/4.badw,W=12x:2,", "abc");

	md = md_open(fx);
	assert_int_equal(md->count, 4);
	assert_int_equal(md->mail[0].size, 12345);
	assert_int_equal(md->mail[1].size, 5);
	assert_int_equal(md->mail[2].size, 6);
	assert_int_equal(md->mail[3].size, 5);
	assert_int_equal(md->size, 12345 + 5 + 6 + 5);
	maildrop_close(&md);
}

/* Parsing of ,S= and ,W=. */
static void
test_name_sizes(void **state)
{
	off_t	 s, w;

#define SIZES(str)	maildir_name_sizes((str), strlen(str), &s, &w)
	SIZES("1700000000.M1P2.host,S=1000,W=1030");
	assert_int_equal(s, 1000);
	assert_int_equal(w, 1030);
	SIZES("1700000000.M1P2.host,W=7,S=3");
	assert_int_equal(s, 3);
	assert_int_equal(w, 7);
	SIZES("1700000000.M1P2.host");
	assert_int_equal(s, -1);
	assert_int_equal(w, -1);
	SIZES("1.h,S=,W=0");
	assert_int_equal(s, -1);
	assert_int_equal(w, 0);
	SIZES("1.h,S=12a,W=-3");
	assert_int_equal(s, -1);
	assert_int_equal(w, -1);
	SIZES("1.h,S=99999999999999999999999999,W=5");
	assert_int_equal(s, -1);
	assert_int_equal(w, 5);
	/* a field without '=' is no size, and the next still counts */
	SIZES("1.h,S,Wx,W=5,x");
	assert_int_equal(s, -1);
	assert_int_equal(w, 5);
	/* the first field is the unique name, not a size */
	SIZES("S=5,W=6");
	assert_int_equal(s, -1);
	assert_int_equal(w, 6);
	/* the info after ':' is not part of the base */
	SIZES("1.h,S=10:2,W=5");
	assert_int_equal(s, 10);
	assert_int_equal(w, -1);
	/* len bounds the base */
	maildir_name_sizes("1.h,S=10,W=20", 8, &s, &w);
	assert_int_equal(s, 10);
	assert_int_equal(w, -1);
	maildir_name_sizes("1.h,S=10,W=20", 7, &s, &w);
	assert_int_equal(s, 1);
	assert_int_equal(w, -1);
#undef SIZES
}

/* Network sizes of small contents. */
static void
test_count_size_small(void **state)
{
	struct fx_dir	*fx = *state;

#define COUNT(str)	count_of(fx, (str), sizeof(str) - 1)
	assert_int_equal(COUNT(""), 0);
	assert_int_equal(COUNT("\n"), 2);
	assert_int_equal(COUNT("\r\n"), 2);
	assert_int_equal(COUNT("a\n"), 3);
	assert_int_equal(COUNT("a\r\n"), 3);
	assert_int_equal(COUNT("a\nb\n"), 6);
	assert_int_equal(COUNT("a\r\nb\r\n"), 6);
	assert_int_equal(COUNT("a\nb\r\nc\n"), 9);
	assert_int_equal(COUNT("abc"), 5);
	assert_int_equal(COUNT("a\nbc"), 7);
	assert_int_equal(COUNT("abc\r"), 6);
	assert_int_equal(COUNT("\n\n\r\n"), 6);
	assert_int_equal(COUNT("a\r\r\n"), 4);
#undef COUNT
}

/* A CR ending one 64 KiB chunk and its LF starting the next. */
static void
test_count_size_chunk_boundary(void **state)
{
	struct fx_dir	*fx = *state;
	char		*buf;
	size_t		 len = IO_FILEBUF + 2;

	assert_non_null(buf = malloc(len));
	memset(buf, 'x', len);
	buf[IO_FILEBUF - 1] = '\r';
	buf[IO_FILEBUF] = '\n';
	buf[len - 1] = '\n';
	/* one bare LF at the end; the one at the boundary is a CRLF */
	assert_int_equal(count_of(fx, buf, len), (off_t)len + 1);
	assert_int_equal(naive_size(buf, len), (off_t)len + 1);

	/* no CR before the boundary: both LFs are bare */
	buf[IO_FILEBUF - 1] = 'x';
	assert_int_equal(count_of(fx, buf, len), (off_t)len + 2);

	/* an LF as the last byte of the first chunk, after a CR */
	buf[IO_FILEBUF - 2] = '\r';
	buf[IO_FILEBUF - 1] = '\n';
	buf[IO_FILEBUF] = 'x';
	assert_int_equal(count_of(fx, buf, len), (off_t)len + 1);

	/* exactly one chunk, ending in a CR: not an end of line */
	buf[IO_FILEBUF - 1] = '\r';
	assert_int_equal(count_of(fx, buf, IO_FILEBUF),
	    naive_size(buf, IO_FILEBUF));
	assert_int_equal(count_of(fx, buf, IO_FILEBUF),
	    (off_t)IO_FILEBUF + 2);
	free(buf);
}

/* A 5 MiB message of mixed line ends, against the definition. */
static void
test_count_size_large(void **state)
{
	struct fx_dir	*fx = *state;
	static const char alphabet[] = "abc \r\n\n";
	struct maildrop	*md;
	uint32_t	 x = 12345;
	size_t		 len = 5 * 1024 * 1024, i;
	char		*buf;
	off_t		 want;

	assert_non_null(buf = malloc(len));
	for (i = 0; i < len; i++) {
		x = x * 1103515245 + 12345;
		buf[i] = alphabet[(x >> 16) % (sizeof(alphabet) - 1)];
	}
	buf[len - 1] = 'z';
	want = naive_size(buf, len);
	assert_true(want > (off_t)len + 2);
	assert_int_equal(count_of(fx, buf, len), want);

	/* and through the listing, as a message without ,W= */
	writeat(fx->mdfd, "new/1.big,S=5242880", buf, len);
	md = md_open(fx);
	assert_int_equal(md->count, 1);
	assert_int_equal(md->mail[0].size, want);
	maildrop_close(&md);
	free(buf);
}

/* tmp/ files are removed once atime, mtime and ctime are all 36 hours
 * old; the clock is moved through maildir_clean_tmp() since no test can
 * set a ctime. */
static void
test_stale_tmp(void **state)
{
	struct fx_dir	*fx = *state;
	time_t		 now = time(NULL), later = now + HOURS(37);

	put(fx->mdfd, "tmp/stale", "x");
	set_times(fx, "tmp/stale", now - HOURS(37), now - HOURS(37));
	put(fx->mdfd, "tmp/fresh", "x");
	set_times(fx, "tmp/fresh", later, later);
	put(fx->mdfd, "tmp/half", "x");
	set_times(fx, "tmp/half", now - HOURS(37), later - HOURS(35));
	assert_int_equal(mkdirat(fx->mdfd, "tmp/olddir", 0700), 0);
	set_times(fx, "tmp/olddir", now - HOURS(37), now - HOURS(37));

	assert_int_equal(maildir_clean_tmp(fx->mdfd, fx->md, later), 1);
	assert_false(exists(fx, "tmp/stale"));
	assert_true(exists(fx, "tmp/fresh"));
	assert_true(exists(fx, "tmp/half"));
	assert_true(exists(fx, "tmp/olddir"));
}

/* At open: old atime/mtime but a fresh ctime (a writer just set them
 * before its rename) keep a tmp/ file, and nothing in tmp/ is listed. */
static void
test_stale_tmp_at_open(void **state)
{
	struct fx_dir	*fx = *state;
	struct maildrop	*md;
	time_t		 now = time(NULL);

	put(fx->mdfd, "tmp/old", "x");
	set_times(fx, "tmp/old", now - HOURS(37), now - HOURS(37));
	put(fx->mdfd, "tmp/fresh", "x");
	set_times(fx, "tmp", now - HOURS(9), now - HOURS(9));	/* due */
	md = md_open(fx);
	assert_true(tmp_atime(fx) >= now);	/* it was scanned */
	assert_int_equal(md->count, 0);
	maildrop_close(&md);
	assert_true(exists(fx, "tmp/old"));
	assert_true(exists(fx, "tmp/fresh"));

	/* a Maildir that cannot be read is an error */
	assert_int_equal(maildir_clean_tmp(-1, "none", now), -1);
}

/* tmp_atime: the access time of tmp/. */
static time_t
tmp_atime(struct fx_dir *fx)
{
	struct stat	 st;

	assert_int_equal(fstatat(fx->mdfd, "tmp", &st, AT_SYMLINK_NOFOLLOW),
	    0);
	return st.st_atime;
}

/* tmp/ is scanned at an open only when its access time, which a scan
 * stamps, is 8 hours old or in the future. */
static void
test_tmp_scan_due(void **state)
{
	struct fx_dir	*fx = *state;
	struct maildrop	*md;
	struct stat	 st;
	time_t		 now = time(NULL);

	memset(&st, 0, sizeof(st));
	st.st_atime = now - HOURS(8);
	assert_true(maildir_tmp_due(&st, now));
	st.st_atime = now - HOURS(8) + 1;
	assert_false(maildir_tmp_due(&st, now));
	st.st_atime = now;
	assert_false(maildir_tmp_due(&st, now));
	st.st_atime = now + 60;
	assert_true(maildir_tmp_due(&st, now));

	/* Scanned an hour ago: the open leaves tmp/ alone. */
	set_times(fx, "tmp", now - HOURS(1), now - HOURS(1));
	md = md_open(fx);
	maildrop_close(&md);
	assert_int_equal(tmp_atime(fx), now - HOURS(1));

	/* Nine hours ago: the open scans it and stamps the time (an mtime
	 * older than the atime: no relatime update from the scan itself). */
	set_times(fx, "tmp", now - HOURS(9), now - HOURS(10));
	md = md_open(fx);
	maildrop_close(&md);
	assert_true(tmp_atime(fx) >= now);
}

/* In a child: maildrop_open once, reported through the exit status. */
static int
child_open(const char *path)
{
	struct maildrop	*md;
	pid_t		 pid;
	int		 status, rc;

	if ((pid = fork()) == -1)
		return -1;
	if (pid == 0) {
		rc = maildrop_open(path, NULL, &md);
		if (rc == 0)
			_exit(CHILD_OPENED);
		_exit(rc == MAILDROP_LOCKED ? CHILD_LOCKED : CHILD_ERROR);
	}
	if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status))
		return -1;
	return WEXITSTATUS(status);
}

/* Only one session at a time holds the maildrop. */
static void
test_open_locked(void **state)
{
	struct fx_dir	*fx = *state;
	struct maildrop	*md = NULL;
	pid_t		 pid;
	int		 status;

	put(fx->mdfd, "new/1.a", "a\n");
	md = md_open(fx);
	assert_int_equal(child_open(fx->md), CHILD_LOCKED);
	maildrop_close(&md);
	assert_int_equal(child_open(fx->md), CHILD_OPENED);

	/* another process holds it; then it dies */
	pid = lock_holder(fx->mdfd, -1);
	assert_int_equal(maildrop_open(fx->md, NULL, &md),
	    MAILDROP_LOCKED);
	assert_null(md);
	assert_int_equal(kill(pid, SIGKILL), 0);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	md = md_open(fx);
	assert_int_equal(md->count, 1);
	maildrop_close(&md);
}

/* Marks, RSET and commit: only what is marked at commit goes. */
static void
test_delete_reset(void **state)
{
	struct fx_dir	*fx = *state;
	struct maildrop	*md;
	size_t		 failed = 99;
	off_t		 size;

	put(fx->mdfd, "new/1.a", "a\n");
	put(fx->mdfd, "new/2.b", "bb\n");
	put(fx->mdfd, "cur/3.c:2,S", "ccc\n");
	md = md_open(fx);
	assert_int_equal(md->count, 3);
	assert_int_equal(maildrop_live(md, &size), 3);
	assert_int_equal(size, 3 + 4 + 5);
	md->mail[0].flags |= MAIL_DELETED;
	md->mail[2].flags |= MAIL_DELETED | MAIL_SEEN;
	assert_int_equal(maildrop_live(md, &size), 1);
	assert_int_equal(size, 4);
	maildrop_reset(md);
	assert_int_equal(md->mail[2].flags, MAIL_SEEN);
	assert_int_equal(maildrop_live(md, NULL), 3);
	md->mail[2].flags = 0;
	assert_int_equal(maildrop_commit(md, &failed), 0);
	assert_int_equal(failed, 0);
	maildrop_close(&md);
	assert_true(exists(fx, "new/1.a"));
	assert_true(exists(fx, "new/2.b"));
	assert_true(exists(fx, "cur/3.c:2,S"));
}

/* Commit removes exactly the marked messages. */
static void
test_delete_commit(void **state)
{
	struct fx_dir	*fx = *state;
	struct maildrop	*md;
	size_t		 failed = 99;

	put(fx->mdfd, "new/1.a", "a\n");
	put(fx->mdfd, "new/2.b", "b\n");
	put(fx->mdfd, "cur/3.c:2,S", "c\n");
	put(fx->mdfd, "cur/4.d:2,", "d\n");
	put(fx->mdfd, "new/.dot", "d\n");
	md = md_open(fx);
	assert_int_equal(md->count, 4);
	md->mail[1].flags |= MAIL_DELETED;
	md->mail[2].flags |= MAIL_DELETED;
	/* delivered after the snapshot: never listed, never touched */
	put(fx->mdfd, "new/0.late", "late\n");
	assert_int_equal(maildrop_commit(md, &failed), 0);
	assert_int_equal(failed, 0);
	maildrop_close(&md);
	assert_true(exists(fx, "new/1.a"));
	assert_false(exists(fx, "new/2.b"));
	assert_false(exists(fx, "cur/3.c:2,S"));
	assert_true(exists(fx, "cur/4.d:2,"));
	assert_true(exists(fx, "new/0.late"));
	assert_true(exists(fx, "new/.dot"));
	assert_int_equal(count(fx->md, "new"), 2);
	assert_int_equal(count(fx->md, "cur"), 1);
}

/* A maildrop closed without a commit changes nothing. */
static void
test_delete_no_commit(void **state)
{
	struct fx_dir	*fx = *state;
	struct maildrop	*md;
	size_t		 i;

	put(fx->mdfd, "new/1.a", "a\n");
	put(fx->mdfd, "cur/2.b:2,", "b\n");
	md = md_open(fx);
	for (i = 0; i < md->count; i++)
		md->mail[i].flags |= MAIL_DELETED | MAIL_SEEN;
	maildrop_close(&md);
	assert_true(exists(fx, "new/1.a"));
	assert_true(exists(fx, "cur/2.b:2,"));
	assert_int_equal(count(fx->md, "new"), 1);
	assert_int_equal(count(fx->md, "cur"), 1);
}

/* Seen messages go to cur/ with S, keeping the flags in ASCII order. */
static void
test_seen(void **state)
{
	struct fx_dir	*fx = *state;
	struct maildrop	*md;
	size_t		 failed = 99, i;

	put(fx->mdfd, "new/1.a", "a\n");
	put(fx->mdfd, "cur/2.b:2,F", "b\n");
	put(fx->mdfd, "cur/3.c:2,T", "c\n");
	put(fx->mdfd, "cur/4.d:2,RS", "d\n");
	put(fx->mdfd, "cur/5.e", "e\n");
	put(fx->mdfd, "cur/6.f:2,Fa", "f\n");
	put(fx->mdfd, "cur/7.g:2,DFPRT", "g\n");
	put(fx->mdfd, "new/8.h", "h\n");		/* not seen: stays */
	md = md_open(fx);
	assert_int_equal(md->count, 8);
	for (i = 0; i < 7; i++)
		md->mail[i].flags |= MAIL_SEEN;
	assert_int_equal(maildrop_commit(md, &failed), 0);
	assert_int_equal(failed, 0);
	assert_string_equal(md->mail[0].name, "cur/1.a:2,S");
	assert_string_equal(md->mail[1].name, "cur/2.b:2,FS");
	maildrop_close(&md);
	assert_true(exists(fx, "cur/1.a:2,S"));
	assert_true(exists(fx, "cur/2.b:2,FS"));
	assert_true(exists(fx, "cur/3.c:2,ST"));
	assert_true(exists(fx, "cur/4.d:2,RS"));
	assert_true(exists(fx, "cur/5.e:2,S"));
	assert_true(exists(fx, "cur/6.f:2,FSa"));
	assert_true(exists(fx, "cur/7.g:2,DFPRST"));
	assert_true(exists(fx, "new/8.h"));
	assert_int_equal(count(fx->md, "new"), 1);
	assert_int_equal(count(fx->md, "cur"), 7);
}

/* Another agent removes a message: ENOENT. */
static void
test_open_mail_removed(void **state)
{
	struct fx_dir	*fx = *state;
	struct maildrop	*md;
	char		 buf[64];
	off_t		 size = -1;
	int		 fd;

	put(fx->mdfd, "new/1.a", "first\n");
	put(fx->mdfd, "new/2.b", "second\n");
	md = md_open(fx);
	fd = maildrop_open_mail(md, 1, &size);
	assert_true(fd >= 0);
	assert_int_equal(size, 7);
	assert_int_equal(slurp(fd, buf, sizeof(buf)), 7);
	assert_string_equal(buf, "second\n");
	assert_int_equal(close(fd), 0);

	assert_int_equal(unlinkat(fx->mdfd, "new/1.a", 0), 0);
	errno = 0;
	assert_int_equal(maildrop_open_mail(md, 0, NULL), -1);
	assert_int_equal(errno, ENOENT);
	errno = 0;
	assert_int_equal(maildrop_open_mail(md, 2, NULL), -1);
	assert_int_equal(errno, EINVAL);
	maildrop_close(&md);
}

/* Another agent moves a message (new/ to cur/, then a flag change). */
static void
test_open_mail_moved(void **state)
{
	struct fx_dir	*fx = *state;
	struct maildrop	*md;
	char		 buf[64];
	int		 fd;

	put(fx->mdfd, "new/1.a", "moved\n");
	put(fx->mdfd, "new/1.ab", "other\n");	/* a longer base: not it */
	md = md_open(fx);
	assert_string_equal(md->mail[0].name, "new/1.a");
	assert_int_equal(renameat(fx->mdfd, "new/1.a", fx->mdfd,
	    "cur/1.a:2,S"), 0);
	fd = maildrop_open_mail(md, 0, NULL);
	assert_true(fd >= 0);
	slurp(fd, buf, sizeof(buf));
	assert_string_equal(buf, "moved\n");
	assert_int_equal(close(fd), 0);
	assert_string_equal(md->mail[0].name, "cur/1.a:2,S");

	assert_int_equal(renameat(fx->mdfd, "cur/1.a:2,S", fx->mdfd,
	    "cur/1.a:2,RS"), 0);
	fd = maildrop_open_mail(md, 0, NULL);
	assert_true(fd >= 0);
	assert_int_equal(close(fd), 0);
	assert_string_equal(md->mail[0].name, "cur/1.a:2,RS");

	/* and a message replaced by a directory is refused */
	assert_int_equal(unlinkat(fx->mdfd, "new/1.ab", 0), 0);
	assert_int_equal(mkdirat(fx->mdfd, "new/1.ab", 0700), 0);
	errno = 0;
	assert_int_equal(maildrop_open_mail(md, 1, NULL), -1);
	assert_int_equal(errno, EINVAL);
	maildrop_close(&md);
}

/* True if fd is an open descriptor. */
static bool
fd_open(int fd)
{
	return fcntl(fd, F_GETFD) != -1;
}

/* How many descriptors below 1024 are open. */
static int
open_fds(void)
{
	int	 fd, n = 0;

	for (fd = 0; fd < 1024; fd++)
		n += fd_open(fd);
	return n;
}

/*
 * Read-ahead: the message opened ahead is the one maildrop_open_mail()
 * returns, even after another agent removed its file; opening another
 * message, reading ahead again and closing the maildrop each close the
 * descriptor held; nothing is held for a message out of range or a name
 * that is no longer a regular file.
 */
static void
test_readahead(void **state)
{
	struct fx_dir	*fx = *state;
	struct maildrop	*md;
	char		 buf[64];
	off_t		 size = -1;
	int		 fd, held, nfd;

	put(fx->mdfd, "new/1.a", "first\n");
	put(fx->mdfd, "new/2.b", "second\n");
	put(fx->mdfd, "new/3.c", "third!!\n");
	md = md_open(fx);
	assert_int_equal(md->ahead_fd, -1);

	maildrop_readahead(md, 1);
	assert_true((held = md->ahead_fd) >= 0);
	assert_int_equal(unlinkat(fx->mdfd, "new/2.b", 0), 0);
	fd = maildrop_open_mail(md, 1, &size);
	assert_int_equal(fd, held);
	assert_int_equal(md->ahead_fd, -1);
	assert_int_equal(size, 7);
	assert_int_equal(slurp(fd, buf, sizeof(buf)), 7);
	assert_string_equal(buf, "second\n");
	assert_int_equal(close(fd), 0);
	/* taken once: the next open looks for the file, which is gone */
	errno = 0;
	assert_int_equal(maildrop_open_mail(md, 1, NULL), -1);
	assert_int_equal(errno, ENOENT);

	/* another message opened: the one held is closed */
	maildrop_readahead(md, 2);
	assert_true((held = md->ahead_fd) >= 0);
	fd = maildrop_open_mail(md, 0, &size);
	assert_true(fd >= 0);
	assert_int_equal(md->ahead_fd, -1);
	assert_int_equal(size, 6);
	slurp(fd, buf, sizeof(buf));
	assert_string_equal(buf, "first\n");
	assert_int_equal(close(fd), 0);
	assert_false(fd_open(held));

	/* reading ahead again replaces the one held: one descriptor */
	nfd = open_fds();
	maildrop_readahead(md, 2);
	assert_int_equal(open_fds(), nfd + 1);
	maildrop_readahead(md, 0);
	assert_int_equal(open_fds(), nfd + 1);
	assert_int_equal(md->ahead_i, 0);

	/* out of range, or no longer a regular file: nothing held */
	maildrop_readahead(md, 3);
	assert_int_equal(md->ahead_fd, -1);
	assert_int_equal(unlinkat(fx->mdfd, "new/3.c", 0), 0);
	assert_int_equal(mkdirat(fx->mdfd, "new/3.c", 0700), 0);
	maildrop_readahead(md, 2);
	assert_int_equal(md->ahead_fd, -1);

	/* closing the maildrop closes the one held */
	maildrop_readahead(md, 0);
	assert_true((held = md->ahead_fd) >= 0);
	maildrop_close(&md);
	assert_false(fd_open(held));
}

/* Reading ahead the next message skips those marked for deletion and
 * holds nothing after the last. */
static void
test_readahead_next(void **state)
{
	struct fx_dir	*fx = *state;
	struct maildrop	*md;

	put(fx->mdfd, "new/1.a", "first\n");
	put(fx->mdfd, "new/2.b", "second\n");
	put(fx->mdfd, "new/3.c", "third\n");
	put(fx->mdfd, "new/4.d", "fourth\n");
	md = md_open(fx);
	maildrop_readahead_next(md, 0);
	assert_true(md->ahead_fd >= 0);
	assert_int_equal(md->ahead_i, 1);
	md->mail[1].flags |= MAIL_DELETED;
	md->mail[2].flags |= MAIL_DELETED;
	maildrop_readahead_next(md, 0);
	assert_true(md->ahead_fd >= 0);
	assert_int_equal(md->ahead_i, 3);
	maildrop_readahead_next(md, 3);
	assert_int_equal(md->ahead_fd, -1);
	md->mail[3].flags |= MAIL_DELETED;
	maildrop_readahead_next(md, 0);
	assert_int_equal(md->ahead_fd, -1);
	maildrop_close(&md);
}

/* Commit with marked messages gone or moved by another agent. */
static void
test_commit_moved_or_gone(void **state)
{
	struct fx_dir	*fx = *state;
	struct maildrop	*md;
	size_t		 failed = 99;

	put(fx->mdfd, "new/1.gone", "a\n");
	put(fx->mdfd, "new/2.moved", "b\n");
	put(fx->mdfd, "new/3.seen", "c\n");
	put(fx->mdfd, "new/4.keep", "d\n");
	md = md_open(fx);
	assert_int_equal(md->count, 4);
	md->mail[0].flags |= MAIL_DELETED;
	md->mail[1].flags |= MAIL_DELETED;
	md->mail[2].flags |= MAIL_SEEN;
	assert_int_equal(unlinkat(fx->mdfd, "new/1.gone", 0), 0);
	assert_int_equal(renameat(fx->mdfd, "new/2.moved", fx->mdfd,
	    "cur/2.moved:2,F"), 0);
	assert_int_equal(renameat(fx->mdfd, "new/3.seen", fx->mdfd,
	    "cur/3.seen:2,R"), 0);
	assert_int_equal(maildrop_commit(md, &failed), 0);
	assert_int_equal(failed, 0);
	maildrop_close(&md);
	assert_false(exists(fx, "cur/2.moved:2,F"));
	assert_true(exists(fx, "cur/3.seen:2,RS"));
	assert_true(exists(fx, "new/4.keep"));
	assert_int_equal(count(fx->md, "new"), 1);
	assert_int_equal(count(fx->md, "cur"), 1);
}

/* A deletion that cannot be done is counted and the rest still done. */
static void
test_commit_failure(void **state)
{
	struct fx_dir	*fx = *state;
	struct maildrop	*md;
	size_t		 failed = 0;

	put(fx->mdfd, "new/1.a", "a\n");
	put(fx->mdfd, "new/2.b", "b\n");
	md = md_open(fx);
	md->mail[0].flags |= MAIL_DELETED;
	md->mail[1].flags |= MAIL_DELETED;
	/* a directory where the message was: unlink fails, not ENOENT */
	assert_int_equal(unlinkat(fx->mdfd, "new/1.a", 0), 0);
	assert_int_equal(mkdirat(fx->mdfd, "new/1.a", 0700), 0);
	assert_int_equal(maildrop_commit(md, &failed), -1);
	assert_int_equal(failed, 1);
	maildrop_close(&md);
	assert_true(exists(fx, "new/1.a"));
	assert_false(exists(fx, "new/2.b"));
}

/* A message seen in both new/ and cur/ (moved while listing) is one. */
static void
test_scan_duplicate(void **state)
{
	struct fx_dir	*fx = *state;
	struct maildrop	*md;
	static const char *const want[] = { "cur/5.x:2,S", "new/6.y" };

	put(fx->mdfd, "new/5.x", "x\n");
	put(fx->mdfd, "cur/5.x:2,S", "x\n");
	put(fx->mdfd, "new/6.y", "y\n");
	md = md_open(fx);
	assert_names(md, want, 2);
	assert_int_equal(md->size, 6);
	maildrop_close(&md);
}

/* A mail named name for maildir_mail_cmp(): the base is all of it. */
static struct mail
cmp_mail(char *name)
{
	struct mail	 m;

	memset(&m, 0, sizeof(m));
	m.name = name;
	m.baselen = strlen(name) - 4;
	return m;
}

/* Leading numbers compare by value, leading zeros aside; bases with the
 * same number octet by octet, a prefix first; only equal bases are
 * equal. */
static void
test_cmp_same_number(void **state)
{
	char		 a[] = "new/100.a", b[] = "cur/100.b";
	char		 ab[] = "new/100.ab";
	char		 z[] = "new/0100.a", a2[] = "cur/100.a";
	char		 two[] = "new/0200.a";
	struct mail	 ma = cmp_mail(a), mb = cmp_mail(b), mab = cmp_mail(ab);
	struct mail	 mz = cmp_mail(z), ma2 = cmp_mail(a2);
	struct mail	 m2 = cmp_mail(two);

	assert_true(maildir_mail_cmp(&ma, &mb) < 0);
	assert_true(maildir_mail_cmp(&mb, &ma) > 0);
	assert_true(maildir_mail_cmp(&ma, &mab) < 0);
	assert_true(maildir_mail_cmp(&mab, &ma) > 0);
	assert_true(maildir_mail_cmp(&mz, &ma) < 0);	/* '0' < '1' */
	assert_true(maildir_mail_cmp(&mz, &mb) < 0);
	assert_true(maildir_mail_cmp(&m2, &mb) > 0);	/* 200 > 100 */
	assert_int_equal(maildir_mail_cmp(&ma, &ma2), 0);
}

/* A name that is all information part (":2,S") has no base name: it
 * is skipped, the others listed. */
static void
test_scan_no_base(void **state)
{
	struct fx_dir	*fx = *state;
	struct maildrop	*md;
	static const char *const want[] = { "new/1.a" };

	put(fx->mdfd, "new/1.a", "a\n");
	put(fx->mdfd, "cur/:2,S", "x\n");
	put(fx->mdfd, "new/:", "x\n");
	md = md_open(fx);
	assert_names(md, want, 1);
	maildrop_close(&md);
	assert_true(exists(fx, "cur/:2,S"));
}

/* A name with ,W= but no time in front: the size from the name, the
 * time from the file's mtime. */
static void
test_time_from_file(void **state)
{
	struct fx_dir	*fx = *state;
	struct maildrop	*md;

	put(fx->mdfd, "new/hello,W=12", "a\n");
	set_times(fx, "new/hello,W=12", 1234567, 1234567);
	md = md_open(fx);
	assert_int_equal(md->count, 1);
	assert_int_equal(md->mail[0].size, 12);
	assert_int_equal(md->mail[0].time, 1234567);
	maildrop_close(&md);
}

/* maildir_mail_stat() refuses what is no longer a regular file or is
 * gone, whether the size is read (a FIFO: not hung) or only a stat is
 * needed (a directory with ,W= and no time in its name). */
static void
test_mail_stat_not_regular(void **state)
{
	struct fx_dir	*fx = *state;
	char		 fifo[] = "new/1.fifo", dir[] = "new/x,W=5";
	char		 gone[] = "new/2.gone", reg[] = "new/3.reg";
	struct mail	 m;

	assert_int_equal(mkfifoat(fx->mdfd, fifo, 0600), 0);
	assert_int_equal(mkdirat(fx->mdfd, dir, 0700), 0);
	put(fx->mdfd, reg, "abc\n");
	m = cmp_mail(fifo);
	m.time = -1;
	assert_int_equal(maildir_mail_stat(fx->mdfd, fx->md, &m, false), -1);
	m = cmp_mail(dir);
	m.time = -1;
	assert_int_equal(maildir_mail_stat(fx->mdfd, fx->md, &m, false), -1);
	m = cmp_mail(gone);
	m.time = -1;
	assert_int_equal(maildir_mail_stat(fx->mdfd, fx->md, &m, false), -1);
	m = cmp_mail(gone);
	m.time = -1;
	m.flags = MAIL_UNCHECKED;
	assert_int_equal(maildir_mail_stat(fx->mdfd, fx->md, &m, true), -1);
	m = cmp_mail(reg);
	m.time = -1;
	assert_int_equal(maildir_mail_stat(fx->mdfd, fx->md, &m, false), 0);
	assert_int_equal(m.size, 5);
	assert_int_equal(m.time, 3);
}

/* A directory in the place of the lock file is an error, not "locked
 * by another session", and no maildrop is opened. */
static void
test_lock_not_regular(void **state)
{
	struct fx_dir	*fx = *state;
	struct maildrop	*md = NULL;

	put(fx->mdfd, "new/1.a", "a\n");
	assert_int_equal(mkdirat(fx->mdfd, LOCK_FILE, 0700), 0);
	assert_int_equal(maildrop_open(fx->md, NULL, &md), -1);
	assert_null(md);
	assert_true(exists(fx, "new/1.a"));
}

/* A message replaced by a symlink is not followed: -1 with EINVAL, as
 * for any name that is no longer a regular file. */
static void
test_open_mail_symlink(void **state)
{
	struct fx_dir	*fx = *state;
	struct maildrop	*md;

	put(fx->mdfd, "new/1.a", "a\n");
	put(fx->mdfd, "secret", "not mail\n");
	md = md_open(fx);
	assert_int_equal(unlinkat(fx->mdfd, "new/1.a", 0), 0);
	assert_int_equal(symlinkat("../secret", fx->mdfd, "new/1.a"), 0);
	errno = 0;
	assert_int_equal(maildrop_open_mail(md, 0, NULL), -1);
	assert_int_equal(errno, EINVAL);
	maildrop_close(&md);
}

/* A message whose information part is not ":2," and letters is read
 * but never renamed to mark it seen: its flags are unknown. */
static void
test_seen_bad_info(void **state)
{
	struct fx_dir	*fx = *state;
	struct maildrop	*md;
	size_t		 failed = 99;

	put(fx->mdfd, "cur/1.a:1,odd", "a\n");
	md = md_open(fx);
	assert_int_equal(md->count, 1);
	md->mail[0].flags |= MAIL_SEEN;
	assert_int_equal(maildrop_commit(md, &failed), 0);
	assert_int_equal(failed, 0);
	assert_string_equal(md->mail[0].name, "cur/1.a:1,odd");
	maildrop_close(&md);
	assert_true(exists(fx, "cur/1.a:1,odd"));
	assert_int_equal(count(fx->md, "cur"), 1);
}

int
main(void)
{
#define T(f)	cmocka_unit_test_setup_teardown(f, fx_maildir_setup, \
		    fx_dir_teardown)
	const struct CMUnitTest tests[] = {
		T(test_scan_order),
		T(test_scan_not_regular),
		T(test_scan_control_name),
		T(test_scan_missing_subdir),
		T(test_scan_path_symlink),
		T(test_scan_duplicate),
		T(test_sizes_from_names),
		cmocka_unit_test(test_name_sizes),
		T(test_count_size_small),
		T(test_count_size_chunk_boundary),
		T(test_count_size_large),
		T(test_stale_tmp),
		T(test_stale_tmp_at_open),
		T(test_tmp_scan_due),
		T(test_open_locked),
		T(test_delete_reset),
		T(test_delete_commit),
		T(test_delete_no_commit),
		T(test_seen),
		T(test_open_mail_removed),
		T(test_open_mail_moved),
		T(test_readahead),
		T(test_readahead_next),
		T(test_commit_moved_or_gone),
		T(test_commit_failure),
		cmocka_unit_test(test_cmp_same_number),
		T(test_scan_no_base),
		T(test_time_from_file),
		T(test_mail_stat_not_regular),
		T(test_lock_not_regular),
		T(test_open_mail_symlink),
		T(test_seen_bad_info),
	};
#undef T

	return cmocka_run_group_tests(tests, NULL, NULL);
}
