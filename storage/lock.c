/*
 * lock.c: the maildrop lock, an fcntl write lock on one file inside the
 * Maildir.  It owns only that file's descriptor; it must never wait for
 * the lock, follow a symlink, or open the lock file a second time.
 */
#include <sys/types.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <string.h>
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

/* Takes the write lock on name inside dirfd without waiting. */
int
lock_take(int dirfd, const char *name)
{
	struct flock	 fl;
	struct stat	 st;
	int		 fd, flags;

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
	if ((flags = fcntl(fd, F_GETFL)) == -1 ||
	    fcntl(fd, F_SETFL, flags & ~O_NONBLOCK) == -1) {
		close_keep_errno(fd);
		return -1;
	}

	memset(&fl, 0, sizeof(fl));
	fl.l_type = F_WRLCK;
	fl.l_whence = SEEK_SET;
	fl.l_start = 0;
	fl.l_len = 0;		/* the whole file, however long */
	if (fcntl(fd, F_SETLK, &fl) == -1) {
		/* POSIX allows either errno for "held by another process". */
		if (errno == EACCES || errno == EWOULDBLOCK)
			errno = EAGAIN;
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
