/*
 * lock.c: the maildrop lock, an fcntl write lock on one file inside the
 * Maildir, and the short waited-for locks of the index and the message
 * ID counter.  It owns only the lock files' descriptors; it must never
 * wait without a bound, follow a symlink, or open a held lock file twice.
 */
#include <sys/types.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "storage/lock.h"

/* Closes fd without disturbing errno. */
static void
close_keep_errno(int fd)
{
	int	 saved = errno;

	(void)close(fd);
	errno = saved;
}

/* Opens (creating) the lock file name in dirfd: a regular file, never
 * reached through a symlink.  Returns the fd or -1 (errno). */
static int
open_lockfile(int dirfd, const char *name)
{
	struct stat	 st;
	int		 fd;

	/* O_NONBLOCK: a FIFO planted under the name must not hang us. */
	fd = openat(dirfd, name,
	    O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK, 0600);
	if (fd == -1)
		return -1;
	if (fstat(fd, &st) == -1) {
		close_keep_errno(fd);
		return -1;
	}
	if (!S_ISREG(st.st_mode)) {
		(void)close(fd);
		errno = EINVAL;
		return -1;
	}
	/* O_NONBLOCK stays: the descriptor only carries the lock, which
	 * F_SETLK never waits for anyway. */
	return fd;
}

/* One attempt at the write lock on the whole of fd.  0, or -1 with errno
 * EAGAIN when another process holds it. */
static int
try_lock(int fd)
{
	struct flock	 fl;

	memset(&fl, 0, sizeof(fl));
	fl.l_type = F_WRLCK;
	fl.l_whence = SEEK_SET;
	fl.l_start = 0;
	fl.l_len = 0;		/* the whole file, however long */
	if (fcntl(fd, F_SETLK, &fl) == 0)
		return 0;
	/* POSIX allows either errno for "held by another process". */
	if (errno == EACCES || errno == EWOULDBLOCK)
		errno = EAGAIN;
	return -1;
}

/* Takes the write lock on name inside dirfd without waiting. */
int
lock_take(int dirfd, const char *name)
{
	int	 fd;

	if ((fd = open_lockfile(dirfd, name)) == -1)
		return -1;
	if (try_lock(fd) == -1) {
		close_keep_errno(fd);
		return -1;
	}
	return fd;
}

/* Releases the lock: closing the only descriptor drops it. */
void
lock_release(int fd)
{
	if (fd >= 0)
		(void)close(fd);
}

/* Milliseconds of the monotonic clock. */
static long long
now_ms(void)
{
	struct timespec	 ts;

	(void)clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Takes the write lock on fd, polling for up to timeout_ms. */
int
lock_fd(int fd, int timeout_ms)
{
	struct timespec	 ts;
	long long	 deadline = now_ms() + timeout_ms;
	long		 pause_ms = 1;

	for (;;) {
		if (try_lock(fd) == 0)
			return 0;
		if (errno == EINTR)
			continue;
		if (errno != EAGAIN)
			return -1;
		if (now_ms() >= deadline) {
			errno = EAGAIN;
			return -1;
		}
		ts.tv_sec = 0;
		ts.tv_nsec = pause_ms * 1000000L;
		(void)nanosleep(&ts, NULL);
		if (pause_ms < 32)
			pause_ms *= 2;
	}
}

/* Takes the lock on name inside dirfd, waiting up to timeout_ms. */
int
lock_wait(int dirfd, const char *name, int timeout_ms)
{
	int	 fd;

	if ((fd = open_lockfile(dirfd, name)) == -1)
		return -1;
	if (lock_fd(fd, timeout_ms) == -1) {
		close_keep_errno(fd);
		return -1;
	}
	return fd;
}
