/*
 * common.c: the helpers of common.h for the fuzz harnesses: temporary
 * directories, file writes and the invariant check.  It must never touch
 * anything outside the directories it created.
 */
#include <sys/types.h>
#include <sys/stat.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fuzz/common.h"
#include "server/log.h"

/* Temporary directories to remove at exit. */
#define TEMPDIRS_MAX	4

static char	 tempdirs[TEMPDIRS_MAX][PATH_MAX];
static int	 ntempdirs;
static pid_t	 owner;		/* only the creating process removes them */

/* fuzz_fail: reports a broken invariant and aborts. */
void
fuzz_fail(const char *file, int line, const char *what)
{
	fprintf(stderr, "%s:%d: invariant broken: %s\n", file, line, what);
	abort();
}

/* fuzz_init: logging to stderr without debug lines; SIGPIPE ignored, as
 * the worker does, so that a closed peer is an EPIPE and not a death. */
void
fuzz_init(const char *ident)
{
	log_init(ident, 1);
	log_verbose(0);
	signal(SIGPIPE, SIG_IGN);
}

/* fuzz_path: "a/b" into out, or abort. */
void
fuzz_path(char *out, size_t outlen, const char *a, const char *b)
{
	int	 n = snprintf(out, outlen, "%s/%s", a, b);

	FUZZ_CHECK(n > 0 && (size_t)n < outlen);
}

static int	rm_at(int, const char *);

/* empty_fd: removes what is inside the open directory fd, and closes
 * it.  0, or -1 if something stayed. */
static int
empty_fd(int fd)
{
	struct dirent	*d;
	DIR		*dp;
	int		 rv = 0;

	if ((dp = fdopendir(fd)) == NULL) {
		close(fd);
		return -1;
	}
	while ((d = readdir(dp)) != NULL) {
		if (strcmp(d->d_name, ".") == 0 || strcmp(d->d_name, "..") == 0)
			continue;
		if (rm_at(fd, d->d_name) == -1)
			rv = -1;
	}
	closedir(dp);
	return rv;
}

/* rm_at: removes name in dirfd, a directory's contents first. */
static int
rm_at(int dirfd, const char *name)
{
	struct stat	 st;
	int		 fd, rv;

	if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) == -1)
		return errno == ENOENT ? 0 : -1;
	if (!S_ISDIR(st.st_mode))
		return unlinkat(dirfd, name, 0);
	fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
	    O_CLOEXEC);
	rv = fd == -1 ? -1 : empty_fd(fd);
	if (unlinkat(dirfd, name, AT_REMOVEDIR) == -1)
		rv = -1;
	return rv;
}

/* fuzz_empty_dir: removes what is inside path. */
int
fuzz_empty_dir(const char *path)
{
	int	 fd;

	fd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	return fd == -1 ? -1 : empty_fd(fd);
}

/* cleanup: the atexit hook removing the temporary directories. */
static void
cleanup(void)
{
	int	 i;

	if (getpid() != owner)
		return;
	for (i = 0; i < ntempdirs; i++)
		(void)rm_at(AT_FDCWD, tempdirs[i]);
	ntempdirs = 0;
}

/* fuzz_tempdir: a new private directory, removed at exit. */
const char *
fuzz_tempdir(const char *tag)
{
	const char	*tmp = getenv("TMPDIR");
	char		*p;
	int		 n;

	FUZZ_CHECK(ntempdirs < TEMPDIRS_MAX);
	/* Memory-backed where there is one: the index's fsync()s would
	 * otherwise slow the Maildir harnesses a hundredfold. */
	if (tmp == NULL || tmp[0] != '/')
		tmp = access("/dev/shm", W_OK | X_OK) == 0 ? "/dev/shm" :
		    "/tmp";
	p = tempdirs[ntempdirs];
	n = snprintf(p, sizeof(tempdirs[0]), "%s/postern-fuzz-%s-XXXXXX",
	    tmp, tag);
	FUZZ_CHECK(n > 0 && (size_t)n < sizeof(tempdirs[0]));
	FUZZ_CHECK(mkdtemp(p) != NULL);
	if (ntempdirs++ == 0) {
		owner = getpid();
		atexit(cleanup);
	}
	return p;
}

/* fuzz_lowest_fd: what dup() gets now. */
int
fuzz_lowest_fd(void)
{
	int	 fd = dup(2);

	FUZZ_CHECK(fd != -1);
	close(fd);
	return fd;
}

/* fuzz_write_file: the whole of data into path. */
void
fuzz_write_file(const char *path, const void *data, size_t len)
{
	const char	*p = data;
	ssize_t		 n;
	int		 fd;

	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC,
	    0600);
	FUZZ_CHECK(fd != -1);
	while (len > 0) {
		n = write(fd, p, len);
		if (n == -1 && errno == EINTR)
			continue;
		FUZZ_CHECK(n > 0);
		p += n;
		len -= (size_t)n;
	}
	FUZZ_CHECK(close(fd) == 0);
}
