/*
 * msgid.h: the global message ID, a 32-bit number that no two messages
 * on the server share, handed out in strictly ascending order.  One
 * counter file, MSGID_FILE in the state directory, holds the next free
 * ID; every allocation takes an fcntl lock on it, so that processes of
 * any user allocating at once never get the same ID, and makes the new
 * value durable before returning.  IDs given out and never used are
 * lost, never handed out again.  Format: postern-storage(7).
 */
#ifndef POSTERN_MSGID_H
#define POSTERN_MSGID_H

#include <sys/types.h>
#include <stdint.h>

#define MSGID_FILE	"msgid"
#define MSGID_NONE	0		/* no ID assigned (yet) */
#define MSGID_MAX	UINT32_MAX	/* the last ID there is */
#define MSGID_LOCK_WAIT	10000		/* ms to wait for the counter */

struct msgid;

/*
 * Opens (creating, mode 0600) the counter in state_dir.  A caller may
 * open it before giving up privileges and keep it for the session, and
 * its children may share it: the lock of an allocation is the
 * allocating process's.
 * Returns the counter, or NULL with errno set (reason logged).
 */
struct msgid *msgid_open(const char *state_dir);
/*
 * Allocates n consecutive IDs and sets *first_r to the first: the IDs
 * are *first_r to *first_r + n - 1, all larger than any handed out
 * before.  n == 0 allocates nothing (*first_r = MSGID_NONE).  Returns 0,
 * or -1 with errno (reason logged): EAGAIN when the lock could not be
 * had in MSGID_LOCK_WAIT ms, EINVAL when the file is corrupt, ERANGE
 * when fewer than n IDs are left.
 */
int	 msgid_alloc(struct msgid *m, uint32_t n, uint32_t *first_r);
/* Closes the counter, frees *mp and sets it to NULL. */
void	 msgid_close(struct msgid **mp);
/*
 * For the daemon at start, as root: creates state_dir (mode 0755) if it
 * is missing, and the counter in it if missing, owned by uid and gid
 * with the given mode; an existing counter is given them (logged when
 * they change).  Session processes that run as other users open the
 * counter before they give up root.  Returns 0, or -1 with errno
 * (logged; EINVAL: the counter is not a regular file).
 */
int	 msgid_prepare(const char *state_dir, uid_t uid, gid_t gid,
	    mode_t mode);

#endif
