/*
 * lock.h: the maildrop lock, an fcntl write lock on a file inside the
 * Maildir, and the same kind of lock taken with a bounded wait for the
 * short critical sections of the index and the message ID counter.
 * fcntl locks belong to the process: they die with it (no stale lock
 * survives a crash), a forked child does not inherit them, and closing
 * any descriptor of the file releases them, so the file is opened
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

/*
 * Takes the write lock on the whole of the open file fd, waiting up to
 * timeout_ms milliseconds while another process holds it (polling, so
 * that a stopped holder cannot hang the caller).  Returns 0, or -1 with
 * errno EAGAIN when the time ran out, other errno otherwise.  The same
 * rules hold: closing any descriptor of the file releases the lock.
 */
int	lock_fd(int fd, int timeout_ms);
/*
 * As lock_take(), but waits up to timeout_ms milliseconds for the lock.
 * Returns the lock's fd, or -1 with errno (EAGAIN: timed out).
 */
int	lock_wait(int dirfd, const char *name, int timeout_ms);

#endif
