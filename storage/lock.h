/*
 * lock.h: the maildrop lock, an fcntl write lock on a file inside the
 * Maildir.  fcntl locks belong to the process: they die with it (no stale
 * lock survives a crash), a forked child does not inherit them, and
 * closing any descriptor of the file releases them, so the file is opened
 * exactly once per holder.
 */
#ifndef POSTERN_LOCK_H
#define POSTERN_LOCK_H

#define LOCK_FILE	"postern.lock"

/*
 * Takes the lock on name inside dirfd without waiting, creating the file
 * (mode 0600, never following a symlink).  Returns the lock's fd, or -1
 * with errno EAGAIN when another process holds it, other errno otherwise.
 */
int	lock_take(int dirfd, const char *name);
/* Releases the lock and closes fd. */
void	lock_release(int fd);

#endif
