/*
 * msgid.c: the global message ID counter, one small file in the state
 * directory rewritten in place under an fcntl lock.  It must never hand
 * out an ID twice: the new value is on disk before any ID is used, a
 * corrupt file stops allocation rather than guessing, and the file is
 * never reached through a symlink.
 */
#include <sys/types.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "server/log.h"
#include "storage/lock.h"
#include "storage/msgid.h"

/* The file is one line of fixed width, rewritten in place by a single
 * write: "postern-msgid 1 " and the next free ID in ten digits. */
#define MSGID_MAGIC	"postern-msgid 1 "
#define MSGID_DIGITS	10
#define MSGID_LINE	(sizeof(MSGID_MAGIC) - 1 + MSGID_DIGITS + 1)

struct msgid {
	char	*path;
	int	 fd;
};

/* Opens the counter file in state_dir. */
struct msgid *
msgid_open(const char *state_dir)
{
	struct msgid	*m;
	struct stat	 st;
	size_t		 len;
	int		 flags, saved, n;

	if ((m = calloc(1, sizeof(*m))) == NULL) {
		log_warn("%s", state_dir);
		return NULL;
	}
	m->fd = -1;
	len = strlen(state_dir) + 1 + sizeof(MSGID_FILE);
	if ((m->path = malloc(len)) == NULL) {
		log_warn("%s", state_dir);
		goto fail;
	}
	n = snprintf(m->path, len, "%s/%s", state_dir, MSGID_FILE);
	if (n < 0 || (size_t)n >= len) {
		errno = ENAMETOOLONG;
		log_warn("%s", state_dir);
		goto fail;
	}
	m->fd = open(m->path, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC |
	    O_NONBLOCK, 0600);
	if (m->fd == -1) {
		log_warn("%s", m->path);
		goto fail;
	}
	if (fstat(m->fd, &st) == -1) {
		log_warn("%s", m->path);
		goto fail;
	}
	if (!S_ISREG(st.st_mode)) {
		errno = EINVAL;
		log_warnx("%s: not a regular file", m->path);
		goto fail;
	}
	if ((flags = fcntl(m->fd, F_GETFL)) == -1 ||
	    fcntl(m->fd, F_SETFL, flags & ~O_NONBLOCK) == -1) {
		log_warn("%s", m->path);
		goto fail;
	}
	return m;
fail:
	saved = errno;
	msgid_close(&m);
	errno = saved;
	return NULL;
}

/* Releases the counter's lock, keeping the file open. */
static void
unlock(struct msgid *m)
{
	struct flock	 fl;

	memset(&fl, 0, sizeof(fl));
	fl.l_type = F_UNLCK;
	fl.l_whence = SEEK_SET;
	if (fcntl(m->fd, F_SETLK, &fl) == -1)
		log_warn("%s: unlock", m->path);
}

/* Reads the next free ID: 1 for an empty (new) file.  -1 (errno EINVAL
 * when the contents are not a counter line). */
static int
read_next(struct msgid *m, uint32_t *next_r)
{
	char		 buf[MSGID_LINE + 1];
	unsigned long	 v;
	ssize_t		 n;
	size_t		 i;
	const char	*digits = buf + sizeof(MSGID_MAGIC) - 1;

	do
		n = pread(m->fd, buf, sizeof(buf), 0);
	while (n == -1 && errno == EINTR);
	if (n == -1)
		return -1;
	if (n == 0) {
		*next_r = 1;
		return 0;
	}
	if ((size_t)n != MSGID_LINE || buf[MSGID_LINE - 1] != '\n' ||
	    memcmp(buf, MSGID_MAGIC, sizeof(MSGID_MAGIC) - 1) != 0) {
		errno = EINVAL;
		return -1;
	}
	for (i = 0; i < MSGID_DIGITS; i++)
		if (digits[i] < '0' || digits[i] > '9') {
			errno = EINVAL;
			return -1;
		}
	v = strtoul(digits, NULL, 10);
	if (v == 0 || v > (unsigned long)MSGID_MAX + 1) {
		errno = EINVAL;
		return -1;
	}
	/* MSGID_MAX + 1 is stored as "exhausted"; it does not fit 32 bits. */
	*next_r = v > MSGID_MAX ? 0 : (uint32_t)v;
	return 0;
}

/* Writes next (as an unsigned long: MSGID_MAX + 1 means exhausted) and
 * makes it durable. */
static int
write_next(struct msgid *m, unsigned long long next)
{
	char	 buf[MSGID_LINE + 1];
	ssize_t	 n;
	int	 len;

	len = snprintf(buf, sizeof(buf), "%s%0*llu\n", MSGID_MAGIC,
	    MSGID_DIGITS, next);
	if (len < 0 || (size_t)len != MSGID_LINE) {
		errno = EOVERFLOW;
		return -1;
	}
	do
		n = pwrite(m->fd, buf, MSGID_LINE, 0);
	while (n == -1 && errno == EINTR);
	if (n == -1)
		return -1;
	if ((size_t)n != MSGID_LINE) {
		errno = EIO;
		return -1;
	}
	return fsync(m->fd);
}

/* Allocates n consecutive IDs. */
int
msgid_alloc(struct msgid *m, uint32_t n, uint32_t *first_r)
{
	uint32_t	 next;
	int		 saved;

	*first_r = MSGID_NONE;
	if (n == 0)
		return 0;
	if (lock_fd(m->fd, MSGID_LOCK_WAIT) == -1) {
		log_warn("%s: lock", m->path);
		return -1;
	}
	if (read_next(m, &next) == -1) {
		if (errno == EINVAL)
			log_warnx("%s: corrupt: no global message IDs until "
			    "it is repaired (see postern-storage(7))",
			    m->path);
		else
			log_warn("%s: read", m->path);
		goto fail;
	}
	if (next == 0 || (uint64_t)next + n - 1 > MSGID_MAX) {
		errno = ERANGE;
		log_warnx("%s: global message IDs exhausted", m->path);
		goto fail;
	}
	if (write_next(m, (unsigned long long)next + n) == -1) {
		log_warn("%s: write", m->path);
		goto fail;
	}
	unlock(m);
	*first_r = next;
	return 0;
fail:
	saved = errno;
	unlock(m);
	errno = saved;
	return -1;
}

/* Closes the counter. */
void
msgid_close(struct msgid **mp)
{
	struct msgid	*m;

	if (mp == NULL || (m = *mp) == NULL)
		return;
	if (m->fd != -1)
		(void)close(m->fd);
	free(m->path);
	free(m);
	*mp = NULL;
}

/* Creates the state directory and the counter for the sessions' users. */
/* give: fd, the caller's, gets mode, then the owner uid and gid. */
static int
give(int fd, uid_t uid, gid_t gid, mode_t mode)
{
	return fchmod(fd, mode) == -1 || fchown(fd, uid, gid) == -1 ? -1 : 0;
}

/* prepare_existing: the counter is there already: a regular file, given
 * uid, gid and mode (an older version made it 0666, or mail_user's).
 * A file of another owner is taken by name first: root without
 * CAP_DAC_OVERRIDE (contrib/posternd.service) could not open it, and
 * without CAP_FOWNER not change its mode.  Closes dirfd. */
static int
prepare_existing(int dirfd, const char *state_dir, uid_t uid, gid_t gid,
    mode_t mode)
{
	struct stat	 st;
	int		 fd = -1, rc = -1;

	if (fstatat(dirfd, MSGID_FILE, &st, AT_SYMLINK_NOFOLLOW) == -1 ||
	    !S_ISREG(st.st_mode)) {
		(void)close(dirfd);
		errno = EINVAL;
		log_warnx("%s/%s: not a regular file", state_dir, MSGID_FILE);
		return -1;
	}
	if (st.st_uid == uid && st.st_gid == gid &&
	    (st.st_mode & 07777) == mode) {
		(void)close(dirfd);
		return 0;
	}
	if ((st.st_uid == geteuid() || fchownat(dirfd, MSGID_FILE, geteuid(),
	    getegid(), AT_SYMLINK_NOFOLLOW) == 0) &&
	    (fd = openat(dirfd, MSGID_FILE, O_RDONLY | O_NOFOLLOW | O_CLOEXEC |
	    O_NONBLOCK)) != -1 && fstat(fd, &st) == 0 && S_ISREG(st.st_mode) &&
	    give(fd, uid, gid, mode) == 0)
		rc = 0;
	if (rc == 0)
		log_info("%s/%s: owner and mode set to %lu:%lu %04o",
		    state_dir, MSGID_FILE, (unsigned long)uid,
		    (unsigned long)gid, (unsigned)mode);
	else
		log_warn("%s/%s", state_dir, MSGID_FILE);
	if (fd != -1)
		(void)close(fd);
	(void)close(dirfd);
	return rc;
}

int
msgid_prepare(const char *state_dir, uid_t uid, gid_t gid, mode_t mode)
{
	int		 dirfd, fd, saved;

	if (mkdir(state_dir, 0755) == -1 && errno != EEXIST) {
		log_warn("%s", state_dir);
		return -1;
	}
	dirfd = open(state_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dirfd == -1) {
		log_warn("%s", state_dir);
		return -1;
	}
	fd = openat(dirfd, MSGID_FILE, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW |
	    O_CLOEXEC, mode);
	if (fd == -1 && errno == EEXIST)
		return prepare_existing(dirfd, state_dir, uid, gid, mode);
	if (fd == -1 || give(fd, uid, gid, mode) == -1) {
		saved = errno;
		log_warn("%s/%s", state_dir, MSGID_FILE);
		if (fd != -1)
			(void)close(fd);
		(void)close(dirfd);
		errno = saved;
		return -1;
	}
	(void)close(fd);
	(void)close(dirfd);
	return 0;
}
