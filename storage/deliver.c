/*
 * deliver.c: writes one message into a Maildir's tmp/ and links it into
 * new/ (cr.yp.to/proto/maildir.html).  It owns the unique names and the
 * ,S= and ,W= sizes of what it delivers; it must never leave a partial
 * file in new/ or cur/, never follow a symlink inside the Maildir, never
 * hold a message in memory, and never create a Maildir.
 */
#include <sys/types.h>
#include <sys/stat.h>
#include <sys/time.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "server/limits.h"
#include "server/log.h"
#include "storage/deliver.h"
#include "storage/file.h"

/* Tries at a fresh unique name when one is taken already. */
#define UNIQUE_TRIES	5

/* The host name as it goes into unique names: 64 octets at most, and
 * 128 once escaped (an escape takes four), so that the unique name (at
 * most 62 more) and the sizes (44) fit DELIVER_NAME_MAX. */
#define HOST_MAX	64
#define HOST_BUF	(128 + 1)

/* Longest path kept for the log. */
#define LOGPATH_MAX	(PATH_MAX + DELIVER_FOLDER_MAX + 2)

struct delivery {
	int	 tmpfd;		/* tmp/ of the target */
	int	 newfd;		/* new/ of the target */
	int	 fd;		/* the tmp/ file; -1 once closed */
	int	 err;		/* errno of the first failure, 0 if none */
	bool	 created;	/* the tmp/ file exists and is ours */
	bool	 cr;		/* a CR held back: it may start a CRLF */
	char	 last;		/* the last octet stored */
	off_t	 size;		/* octets stored: ,S= */
	off_t	 netsize;	/* network size: ,W= */
	size_t	 len;		/* octets in buf */
	char	 folder[DELIVER_FOLDER_MAX + 1];	/* "" for INBOX */
	char	 unique[DELIVER_NAME_MAX];
	char	 path[LOGPATH_MAX];	/* the target, for the log */
	char	 buf[IO_FILEBUF];
};

/* Deliveries this process has started, for the Q part of unique names. */
static unsigned long deliver_count;

/* Closes fd without disturbing errno. */
static void
close_keep(int fd)
{
	int	 saved = errno;

	if (fd != -1)
		(void)close(fd);
	errno = saved;
}

bool
deliver_folder_valid(const char *name)
{
	size_t	 i, len;

	if (strncasecmp(name, "INBOX.", 6) == 0)
		name += 6;
	else if (strcasecmp(name, "INBOX") == 0)
		return true;
	len = strlen(name);
	if (len == 0 || len > DELIVER_FOLDER_MAX)
		return false;
	if (name[0] == '.' || name[len - 1] == '.' || strstr(name, "..") ||
	    strchr(name, '/'))
		return false;
	for (i = 0; i < len; i++)
		if ((unsigned char)name[i] < 0x20 ||
		    (unsigned char)name[i] > 0x7e)
			return false;
	return true;
}

bool
deliver_tempfail(int err)
{
	switch (err) {
	case EINVAL:
	case EFBIG:
	case ENAMETOOLONG:
	case ELOOP:
	case ENOTDIR:
		return false;
	default:
		return true;
	}
}

/* Writes the host name for unique names, escaping what a Maildir name
 * must not hold or a reader could misparse (Courier's "\057" for '/'). */
static void
host_name(char *out, size_t outlen)
{
	char		 host[HOST_MAX + 1];
	size_t		 i, pos = 0;
	unsigned char	 c;

	if (gethostname(host, sizeof(host)) != 0 || host[0] == '\0')
		strlcpy(host, "localhost", sizeof(host));
	host[HOST_MAX] = '\0';
	for (i = 0; host[i] != '\0' && pos + 5 <= outlen; i++) {
		c = (unsigned char)host[i];
		if (c < 0x21 || c > 0x7e || c == '/' || c == ':' || c == ',' ||
		    c == '\\') {
			snprintf(out + pos, outlen - pos, "\\%03o", c);
			pos += 4;
		} else
			out[pos++] = (char)c;
	}
	out[pos] = '\0';
}

/* Makes a fresh unique name "SECONDS.MusecPpidQn.HOST" in d->unique. */
static int
make_unique(struct delivery *d, const char *host)
{
	struct timeval	 tv;
	int		 n;

	if (gettimeofday(&tv, NULL) == -1)
		return -1;
	n = snprintf(d->unique, sizeof(d->unique), "%lld.M%06ldP%ldQ%lu.%s",
	    (long long)tv.tv_sec, (long)tv.tv_usec, (long)getpid(),
	    ++deliver_count, host);
	if (n < 0 || (size_t)n >= sizeof(d->unique)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	return 0;
}

/* Opens sub of dirfd as a directory, never through a symlink. */
static int
open_sub(int dirfd, const char *sub)
{
	return openat(dirfd, sub, O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
	    O_CLOEXEC);
}

/* Whether sub of dirfd is a directory (not a symlink to one). */
static bool
is_dir(int dirfd, const char *sub)
{
	struct stat	 st;

	return fstatat(dirfd, sub, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
	    S_ISDIR(st.st_mode);
}

/* Opens the folder's directory in dirfd if it is a whole Maildir;
 * -1 when it is not there (the caller then delivers to INBOX). */
static int
open_folder(int dirfd, const char *folder)
{
	char	 dir[DELIVER_FOLDER_MAX + 2];
	int	 fd, n;

	n = snprintf(dir, sizeof(dir), ".%s", folder);
	if (n < 0 || (size_t)n >= sizeof(dir))
		return -1;
	if ((fd = open_sub(dirfd, dir)) == -1)
		return -1;
	if (!is_dir(fd, "tmp") || !is_dir(fd, "new") || !is_dir(fd, "cur")) {
		close_keep(fd);
		return -1;
	}
	return fd;
}

/* Chooses the target: the folder when it exists, else the Maildir.
 * Returns the target's fd (dirfd itself or a new one). */
static int
choose_target(struct delivery *d, int dirfd, const char *path,
    const char *folder)
{
	int	 fd;

	if (strncasecmp(folder, "INBOX.", 6) == 0)
		folder += 6;
	else if (strcasecmp(folder, "INBOX") == 0)
		return dirfd;
	if ((fd = open_folder(dirfd, folder)) == -1) {
		log_info("%s: folder \"%s\" does not exist, delivering to "
		    "INBOX", path, folder);
		return dirfd;
	}
	strlcpy(d->folder, folder, sizeof(d->folder));
	(void)snprintf(d->path, sizeof(d->path), "%s/.%s", path, folder);
	return fd;
}

/* Creates the tmp/ file under a fresh unique name. */
static int
create_tmp(struct delivery *d)
{
	char	 host[HOST_BUF];
	int	 i;

	host_name(host, sizeof(host));
	for (i = 0; i < UNIQUE_TRIES; i++) {
		if (make_unique(d, host) == -1)
			return -1;
		d->fd = openat(d->tmpfd, d->unique, O_WRONLY | O_CREAT |
		    O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
		if (d->fd != -1) {
			d->created = true;
			return 0;
		}
		if (errno != EEXIST)
			return -1;
		log_warnx("%s/tmp/%s exists already; trying another name",
		    d->path, d->unique);
	}
	return -1;
}

/* Frees d and what it holds, removing the tmp/ file if it exists. */
static void
delivery_free(struct delivery *d)
{
	int	 saved = errno;

	if (d->fd != -1)
		(void)close(d->fd);
	if (d->created && unlinkat(d->tmpfd, d->unique, 0) == -1 &&
	    errno != ENOENT)
		log_warn("%s/tmp/%s: unlink", d->path, d->unique);
	if (d->tmpfd != -1)
		(void)close(d->tmpfd);
	if (d->newfd != -1)
		(void)close(d->newfd);
	free(d);
	errno = saved;
}

struct delivery *
deliver_begin_at(int dirfd, const char *path, const char *folder)
{
	struct delivery	*d;
	int		 target;

	if (folder != NULL && !deliver_folder_valid(folder)) {
		log_warnx("%s: invalid folder name", path);
		errno = EINVAL;
		return NULL;
	}
	if ((d = calloc(1, sizeof(*d))) == NULL) {
		log_warn("%s: deliver", path);
		return NULL;
	}
	d->tmpfd = d->newfd = d->fd = -1;
	strlcpy(d->path, path, sizeof(d->path));
	target = folder != NULL ? choose_target(d, dirfd, path, folder) :
	    dirfd;
	if ((d->tmpfd = open_sub(target, "tmp")) == -1 ||
	    (d->newfd = open_sub(target, "new")) == -1) {
		log_warn("%s/%s", d->path, d->tmpfd == -1 ? "tmp" : "new");
		goto fail;
	}
	errno = 0;
	if (!is_dir(target, "cur")) {
		if (errno == 0)
			errno = ENOTDIR;
		log_warn("%s/cur", d->path);
		goto fail;
	}
	if (create_tmp(d) == -1) {
		log_warn("%s/tmp/%s", d->path, d->unique);
		goto fail;
	}
	if (target != dirfd)
		close_keep(target);
	return d;
fail:
	if (target != dirfd)
		close_keep(target);
	delivery_free(d);
	return NULL;
}

struct delivery *
deliver_begin(const char *path, const char *folder)
{
	struct delivery	*d;
	int		 dirfd;

	/* No O_NOFOLLOW: the Maildir itself may be an admin's symlink. */
	if ((dirfd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1) {
		log_warn("%s", path);
		return NULL;
	}
	d = deliver_begin_at(dirfd, path, folder);
	close_keep(dirfd);
	return d;
}

const char *
deliver_folder(const struct delivery *d)
{
	return d->folder;
}

/* Records the first failure and its errno; returns -1. */
static int
failed(struct delivery *d, const char *what)
{
	if (d->err == 0) {
		d->err = errno != 0 ? errno : EIO;
		log_warn("%s/tmp/%s: %s", d->path, d->unique, what);
	}
	errno = d->err;
	return -1;
}

/* Writes the buffer out, checking every write. */
static int
flush(struct delivery *d)
{
	if (file_write_all(d->fd, d->buf, d->len, NULL) == -1)
		return failed(d, "write");
	d->len = 0;
	return 0;
}

/* Stores n octets as they are, counting ,S= and ,W= on the way: each LF
 * not after a CR counts twice in the network size. */
static int
store(struct delivery *d, const char *p, size_t n)
{
	const char	*nl, *end = p + n;
	size_t		 k;

	if (n == 0)
		return 0;
	for (nl = memchr(p, '\n', n); nl != NULL;
	    nl = memchr(nl + 1, '\n', (size_t)(end - nl - 1)))
		if ((nl == p ? d->last : nl[-1]) != '\r')
			d->netsize++;
	d->size += (off_t)n;
	d->netsize += (off_t)n;
	d->last = end[-1];
	while (n > 0) {
		if (d->len == sizeof(d->buf) && flush(d) == -1)
			return -1;
		k = sizeof(d->buf) - d->len;
		if (k > n)
			k = n;
		memcpy(d->buf + d->len, p, k);
		d->len += k;
		p += k;
		n -= k;
	}
	return 0;
}

int
deliver_write(struct delivery *d, const void *buf, size_t len)
{
	const char	*p = buf, *cr;
	size_t		 n;

	if (d->err != 0) {
		errno = d->err;
		return -1;
	}
	while (len > 0) {
		if (d->cr) {
			/* A CR held from the last call: dropped before LF. */
			d->cr = false;
			if (*p != '\n' && store(d, "\r", 1) == -1)
				return -1;
		}
		if ((cr = memchr(p, '\r', len)) == NULL)
			return store(d, p, len);
		n = (size_t)(cr - p);
		if (store(d, p, n) == -1)
			return -1;
		p = cr + 1;
		len -= n + 1;
		if (len == 0)
			d->cr = true;
		else if (*p != '\n' && store(d, "\r", 1) == -1)
			return -1;
	}
	return 0;
}

int
deliver_copy(struct delivery *d, int fd)
{
	char	*buf;
	ssize_t	 n;
	int	 rc = 0;

	if ((buf = malloc(IO_FILEBUF)) == NULL)
		return failed(d, "malloc");
	for (;;) {
		n = read(fd, buf, IO_FILEBUF);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1) {
			rc = failed(d, "reading the message");
			break;
		}
		if (n == 0 || (rc = deliver_write(d, buf, (size_t)n)) == -1)
			break;
	}
	free(buf);
	return rc;
}

/* Moves the synced tmp/ file into new/ under final. */
static int
move_new(struct delivery *d, const char *final)
{
	if (linkat(d->tmpfd, d->unique, d->newfd, final, 0) == 0) {
		if (unlinkat(d->tmpfd, d->unique, 0) == -1)
			log_warn("%s/tmp/%s: unlink after link", d->path,
			    d->unique);
		d->created = false;
		return 0;
	}
	/* File systems without hard links (some FUSE and network ones). */
	if (errno != EPERM && errno != ENOTSUP && errno != EOPNOTSUPP &&
	    errno != ENOSYS && errno != EMLINK)
		return failed(d, "link into new/");
	if (renameat(d->tmpfd, d->unique, d->newfd, final) == -1)
		return failed(d, "rename into new/");
	d->created = false;
	return 0;
}

/* Writes out, syncs and closes the tmp/ file. */
static int
finish_file(struct delivery *d)
{
	int	 fd;

	if (d->cr) {
		d->cr = false;
		if (store(d, "\r", 1) == -1)
			return -1;
	}
	if (d->len > 0 && flush(d) == -1)
		return -1;
	if (fsync(d->fd) == -1)
		return failed(d, "fsync");
	fd = d->fd;
	d->fd = -1;
	if (close(fd) == -1)
		return failed(d, "close");
	return 0;
}

int
deliver_commit(struct delivery **dp, char *name_r, size_t namelen,
    off_t *s_r, off_t *w_r)
{
	struct delivery	*d = *dp;
	char		 final[DELIVER_NAME_MAX];
	off_t		 w;
	int		 n;

	*dp = NULL;
	if (d->err != 0 || finish_file(d) == -1)
		goto fail;
	w = d->netsize;
	if (d->size > 0 && d->last != '\n')
		w += 2;
	n = snprintf(final, sizeof(final), "%s,S=%lld,W=%lld", d->unique,
	    (long long)d->size, (long long)w);
	if (n < 0 || (size_t)n >= sizeof(final) || (size_t)n >= namelen) {
		errno = ENAMETOOLONG;
		failed(d, "final name");
		goto fail;
	}
	if (move_new(d, final) == -1)
		goto fail;
	if (fsync(d->newfd) == -1) {
		/* Not known to be on disk: take it back, so that a retry
		 * does not deliver it twice. */
		failed(d, "fsync of new/");
		if (unlinkat(d->newfd, final, 0) == -1)
			log_warn("%s/new/%s: unlink", d->path, final);
		goto fail;
	}
	memcpy(name_r, final, (size_t)n + 1);
	if (s_r != NULL)
		*s_r = d->size;
	if (w_r != NULL)
		*w_r = w;
	delivery_free(d);
	return 0;
fail:
	errno = d->err != 0 ? d->err : errno;
	delivery_free(d);
	return -1;
}

void
deliver_abort(struct delivery **dp)
{
	if (dp == NULL || *dp == NULL)
		return;
	delivery_free(*dp);
	*dp = NULL;
}
