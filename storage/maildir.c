/*
 * maildir.c: Maildir messages (cr.yp.to/proto/maildir.html): names, network
 * sizes, listing new/ and cur/, following moved messages; and the POP3
 * maildrop, a locked snapshot with deferred deletes and the seen flag.  It
 * must never follow a symlink inside the Maildir, never list or touch tmp/
 * files other than stale ones, and never touch mail delivered after the
 * snapshot.
 */
#include <sys/types.h>
#include <sys/stat.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "server/limits.h"
#include "server/log.h"
#include "storage/flags.h"
#include "storage/lock.h"
#include "storage/maildir.h"
#include "storage/msgid.h"

/* The largest off_t (POSIX has no OFF_MAX). */
#define OFF_T_MAX \
	((off_t)(((uintmax_t)1 << (sizeof(off_t) * CHAR_BIT - 1)) - 1))

/* Both "new/" and "cur/" are this long: the base follows. */
#define SUBDIR_LEN	4

/* Tries at following a message that another agent keeps moving. */
#define RELOCATE_TRIES	3

/* Flags for opening a message: O_NONBLOCK so that a FIFO cannot hang us. */
#define MAIL_OPEN_FLAGS	(O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK)

/* Counting a size is not reading the message: where the system has it,
 * no access time is written (only the file's owner may ask; others get
 * EPERM and open it as usual).  Elsewhere a no-op. */
#ifdef O_NOATIME
#define COUNT_OPEN_FLAGS (MAIL_OPEN_FLAGS | O_NOATIME)
#else
#define COUNT_OPEN_FLAGS MAIL_OPEN_FLAGS
#endif

/* Systems without d_type: every entry is of unknown type. */
#ifndef DT_UNKNOWN
#define DT_UNKNOWN	0
#define DT_REG		8
#define HAVE_NO_D_TYPE	1
#endif

/* The d_type of an entry, DT_UNKNOWN where the system has none. */
static int
dirent_type(const struct dirent *d)
{
#ifndef HAVE_NO_D_TYPE
	return d->d_type;
#else
	(void)d;
	return 0;
#endif
}

/* Opens subdirectory sub of mdfd for reading, never through a symlink;
 * its descriptor goes to *fd_r for the *at() calls. */
DIR *
maildir_opendir(int mdfd, const char *sub, int *fd_r)
{
	DIR	*dp;
	int	 fd, saved;

	fd = openat(mdfd, sub, O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
	    O_CLOEXEC);
	if (fd == -1)
		return NULL;
	if ((dp = fdopendir(fd)) == NULL) {
		saved = errno;
		(void)close(fd);
		errno = saved;
		return NULL;
	}
	*fd_r = fd;
	return dp;
}

/* Returns "sub/name" followed by suffix, or NULL (errno ENOMEM). */
char *
maildir_name_join(const char *sub, const char *name, size_t namelen,
    const char *suffix)
{
	char	*s;
	size_t	 len;
	int	 n;

	if (namelen > INT_MAX) {
		errno = ENAMETOOLONG;
		return NULL;
	}
	len = strlen(sub) + 1 + namelen + strlen(suffix) + 1;
	if ((s = malloc(len)) == NULL)
		return NULL;
	n = snprintf(s, len, "%s/%.*s%s", sub, (int)namelen, name, suffix);
	if (n < 0 || (size_t)n >= len) {
		free(s);
		errno = ENAMETOOLONG;
		return NULL;
	}
	return s;
}

/* Parses a whole field of decimal digits; -1 if empty, not digits or huge. */
static off_t
parse_size(const char *s, size_t len)
{
	off_t	 v = 0;
	size_t	 i;

	if (len == 0)
		return -1;
	for (i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		if (v > (OFF_T_MAX - (s[i] - '0')) / 10)
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	return v > MAIL_SIZE_MAX ? -1 : v;
}

/* Reads the ,S= and ,W= fields of a base name. */
void
maildir_name_sizes(const char *base, size_t len, off_t *s_r, off_t *w_r)
{
	const char	*p, *end, *field, *comma;
	off_t		 s = -1, w = -1;
	bool		 have_s = false, have_w = false;

	/* A whole name may be passed: the fields end at the info. */
	if ((end = memchr(base, ':', len)) == NULL)
		end = base + len;
	/* The first field is the unique name itself, never a size. */
	p = memchr(base, ',', end - base);
	while (p != NULL) {
		field = p + 1;
		comma = memchr(field, ',', end - field);
		p = comma;
		if (comma == NULL)
			comma = end;
		if (comma - field < 2 || field[1] != '=')
			continue;
		if (field[0] == 'S' && !have_s) {
			have_s = true;
			s = parse_size(field + 2, comma - field - 2);
		} else if (field[0] == 'W' && !have_w) {
			have_w = true;
			w = parse_size(field + 2, comma - field - 2);
		}
	}
	if (s_r != NULL)
		*s_r = s;
	if (w_r != NULL)
		*w_r = w;
}

/* Computes the network size of the whole of fd, read from where it is. */
int
maildir_count_size(int fd, off_t *size_r)
{
	char		*buf, *p, *end;
	ssize_t		 n;
	off_t		 size = 0;
	char		 last = '\0';	/* last byte of the previous chunk */

	if ((buf = malloc(IO_FILEBUF)) == NULL)
		return -1;
	for (;;) {
		n = read(fd, buf, IO_FILEBUF);
		if (n == -1) {
			if (errno == EINTR)
				continue;
			free(buf);
			return -1;
		}
		if (n == 0)
			break;
		size += n;
		end = buf + n;
		for (p = buf; p < end && (p = memchr(p, '\n', end - p)) != NULL;
		    p++) {
			if ((p == buf ? last : p[-1]) != '\r')
				size++;
		}
		last = buf[n - 1];
	}
	free(buf);
	if (size > 0 && last != '\n')
		size += 2;
	*size_r = size;
	return 0;
}

bool
maildir_tmp_due(const struct stat *tmp, time_t now)
{
	return tmp->st_atime <= now - MAILDIR_TMP_SCAN || tmp->st_atime > now;
}

/* tmp_scanned: stamps tmp/'s access time with now, the time of a scan;
 * where this uid may not (another owner), tmp/ stays due. */
static void
tmp_scanned(int mdfd, const char *path, time_t now)
{
	struct timespec	 ts[2];

	ts[0].tv_sec = now;
	ts[0].tv_nsec = 0;
	ts[1].tv_sec = 0;
	ts[1].tv_nsec = UTIME_OMIT;
	if (utimensat(mdfd, "tmp", ts, AT_SYMLINK_NOFOLLOW) == -1)
		log_debug("%s/tmp: utimensat: %s", path, strerror(errno));
}

/* Removes stale regular files from tmp/. */
int
maildir_clean_tmp(int mdfd, const char *path, time_t now)
{
	DIR		*dp;
	struct dirent	*d;
	struct stat	 st;
	time_t		 newest;
	int		 fd, removed = 0;

	if ((dp = maildir_opendir(mdfd, "tmp", &fd)) == NULL) {
		log_warn("%s/tmp", path);
		return -1;
	}
	while ((d = readdir(dp)) != NULL) {
		if (strcmp(d->d_name, ".") == 0 || strcmp(d->d_name, "..") == 0)
			continue;
		if (fstatat(fd, d->d_name, &st, AT_SYMLINK_NOFOLLOW) == -1) {
			if (errno != ENOENT)
				log_warn("%s/tmp/%s", path, d->d_name);
			continue;
		}
		if (!S_ISREG(st.st_mode))
			continue;
		/* ctime too: a writer may set an old mtime before renaming. */
		newest = st.st_atime;
		if (st.st_mtime > newest)
			newest = st.st_mtime;
		if (st.st_ctime > newest)
			newest = st.st_ctime;
		if (newest >= now - MAILDIR_TMP_STALE)
			continue;
		if (unlinkat(fd, d->d_name, 0) == -1) {
			if (errno != ENOENT)
				log_warn("%s/tmp/%s: unlink", path, d->d_name);
			continue;
		}
		log_debug("%s/tmp/%s: stale, removed", path, d->d_name);
		removed++;
	}
	(void)closedir(dp);
	return removed;
}

/* Names of a listing are allocated from chunks of this size. */
#define ARENA_CHUNK	(256 * 1024)

struct arena {
	struct arena	*next;
	size_t		 used;
	size_t		 size;
	char		 data[];
};

/* Returns room for len bytes in the arena *ap, or NULL on ENOMEM. */
static char *
arena_alloc(struct arena **ap, size_t len)
{
	struct arena	*a = *ap;
	size_t		 size;

	if (a == NULL || a->size - a->used < len) {
		size = len > ARENA_CHUNK ? len : ARENA_CHUNK;
		if ((a = malloc(sizeof(*a) + size)) == NULL)
			return NULL;
		a->next = *ap;
		a->used = 0;
		a->size = size;
		*ap = a;
	}
	a->used += len;
	return a->data + a->used - len;
}

/* Copies len octets of s into the arena, NUL-ended. */
char *
arena_strndup(struct arena **ap, const char *s, size_t len)
{
	char	*p;

	if ((p = arena_alloc(ap, len + 1)) == NULL)
		return NULL;
	memcpy(p, s, len);
	p[len] = '\0';
	return p;
}

/* Frees every chunk. */
void
arena_free(struct arena **ap)
{
	struct arena	*a, *next;

	for (a = *ap; a != NULL; a = next) {
		next = a->next;
		free(a);
	}
	*ap = NULL;
}

/* Gives m a malloc'ed name of its own. */
void
mail_rename(struct mail *m, char *name)
{
	mail_name_free(m);
	m->name = name;
	m->flags |= MAIL_OWNNAME;
}

/* Frees m's name if it is its own. */
void
mail_name_free(struct mail *m)
{
	if (m->flags & MAIL_OWNNAME)
		free(m->name);
	m->name = NULL;
	m->flags &= ~MAIL_OWNNAME;
}

/* The base name of m: it follows "new/" or "cur/". */
const char *
mail_base(const struct mail *m)
{
	return m->name + SUBDIR_LEN;
}

/* The delivery time at the start of a base name: digits and a '.'. */
time_t
maildir_name_time(const char *base, size_t len)
{
	time_t	 t = 0;
	size_t	 i;

	/* Eleven digits reach the year 5138: anything longer is no time. */
	for (i = 0; i < len && i < 12 && base[i] >= '0' && base[i] <= '9';
	    i++)
		t = t * 10 + (base[i] - '0');
	if (i == 0 || i >= 12 || i == len || base[i] != '.')
		return -1;
	return t;
}

/* Orders by the leading decimal number of the base (the delivery time),
 * numerically and without overflow, then by the whole base as strcmp. */
int
maildir_mail_cmp(const void *a, const void *b)
{
	const struct mail	*ma = a, *mb = b;
	const char		*pa = mail_base(ma), *pb = mail_base(mb);
	size_t			 da, db, za, zb, n;
	int			 r;

	for (da = 0; da < ma->baselen && pa[da] >= '0' && pa[da] <= '9'; da++)
		;
	for (db = 0; db < mb->baselen && pb[db] >= '0' && pb[db] <= '9'; db++)
		;
	for (za = 0; za < da && pa[za] == '0'; za++)
		;
	for (zb = 0; zb < db && pb[zb] == '0'; zb++)
		;
	if (da - za != db - zb)
		return da - za < db - zb ? -1 : 1;
	if ((r = memcmp(pa + za, pb + zb, da - za)) != 0)
		return r;
	n = ma->baselen < mb->baselen ? ma->baselen : mb->baselen;
	if ((r = memcmp(pa, pb, n)) != 0)
		return r;
	if (ma->baselen != mb->baselen)
		return ma->baselen < mb->baselen ? -1 : 1;
	return 0;
}

/* Sets m's flag letters from the information part of its name. */
void
maildir_mail_flags(struct mail *m)
{
	if (flags_parse(mail_base(m) + m->baselen, &m->mflags,
	    &m->keywords) == -1)
		m->flags |= MAIL_BADINFO;
	else
		m->flags &= ~MAIL_BADINFO;
}

/* Appends sub/name to the array, the name in the arena. */
static int
mail_add(struct arena **ap, struct mail **mail_r, size_t *count_r,
    size_t *alloc_r, const char *sub, const char *name, size_t baselen,
    bool unchecked)
{
	struct mail	*m;
	size_t		 n, len = strlen(name);

	if (*count_r == *alloc_r) {
		n = *alloc_r == 0 ? 64 : *alloc_r * 2;
		if ((m = reallocarray(*mail_r, n, sizeof(*m))) == NULL)
			return -1;
		*mail_r = m;
		*alloc_r = n;
	}
	m = &(*mail_r)[*count_r];
	memset(m, 0, sizeof(*m));
	/* "new/" or "cur/", the name, a NUL: no snprintf per message. */
	if ((m->name = arena_alloc(ap, SUBDIR_LEN + len + 1)) == NULL)
		return -1;
	memcpy(m->name, sub, SUBDIR_LEN - 1);
	m->name[SUBDIR_LEN - 1] = '/';
	memcpy(m->name + SUBDIR_LEN, name, len + 1);
	m->baselen = baselen;
	m->time = -1;
	m->flags = unchecked ? MAIL_UNCHECKED : 0;
	maildir_mail_flags(m);
	(*count_r)++;
	return 0;
}

/* has_control: whether name holds an octet below 0x20 or DEL. */
static bool
has_control(const char *name)
{
	for (; *name != '\0'; name++)
		if ((unsigned char)*name < 0x20 || *name == 0x7f)
			return true;
	return false;
}

/* Lists the message files of new/ or cur/, without sizes. */
static int
scan_subdir(int dirfd, const char *path, const char *sub,
    struct arena **ap, struct mail **mail_r, size_t *count_r,
    size_t *alloc_r)
{
	DIR		*dp;
	struct dirent	*d;
	size_t		 baselen;
	int		 fd, type;

	if ((dp = maildir_opendir(dirfd, sub, &fd)) == NULL) {
		log_warn("%s/%s", path, sub);
		return -1;
	}
	for (;;) {
		errno = 0;
		if ((d = readdir(dp)) == NULL)
			break;
		if (d->d_name[0] == '.')
			continue;
		type = dirent_type(d);
		if (type != DT_REG && type != DT_UNKNOWN) {
			log_warnx("%s/%s/%s: not a regular file, skipped",
			    path, sub, d->d_name);
			continue;
		}
		if (has_control(d->d_name)) {
			/* No Maildir name has one, and a line feed would
			 * break the index's lines (and the log's). */
			log_warnx("%s/%s: a name with a control character, "
			    "skipped", path, sub);
			continue;
		}
		if ((baselen = strcspn(d->d_name, ":")) == 0) {
			log_warnx("%s/%s/%s: no base name, skipped",
			    path, sub, d->d_name);
			continue;
		}
		if (mail_add(ap, mail_r, count_r, alloc_r, sub, d->d_name,
		    baselen, type == DT_UNKNOWN) == -1) {
			log_warn("%s/%s/%s", path, sub, d->d_name);
			(void)closedir(dp);
			return -1;
		}
	}
	if (errno != 0) {
		log_warn("%s/%s: readdir", path, sub);
		(void)closedir(dp);
		return -1;
	}
	(void)closedir(dp);
	return 0;
}

/* Lists new/ and cur/. */
int
maildir_scan(int dirfd, const char *path, struct arena **ap,
    struct mail **mail_r, size_t *count_r, size_t *alloc_r)
{
	if (scan_subdir(dirfd, path, "new", ap, mail_r, count_r,
	    alloc_r) == -1 ||
	    scan_subdir(dirfd, path, "cur", ap, mail_r, count_r,
	    alloc_r) == -1)
		return -1;
	return 0;
}

/* Opens m to count its size; sets its time from the file if need be. */
static int
count_mail(int dirfd, const char *path, struct mail *m)
{
	struct stat	 st;
	int		 fd;

	fd = openat(dirfd, m->name, COUNT_OPEN_FLAGS);
	if (fd == -1 && errno == EPERM && COUNT_OPEN_FLAGS != MAIL_OPEN_FLAGS)
		fd = openat(dirfd, m->name, MAIL_OPEN_FLAGS);
	if (fd == -1) {
		if (errno == ENOENT)
			log_debug("%s/%s: gone while listing", path, m->name);
		else
			log_warn("%s/%s, skipped", path, m->name);
		return -1;
	}
	if (fstat(fd, &st) == -1) {
		log_warn("%s/%s, skipped", path, m->name);
		(void)close(fd);
		return -1;
	}
	if (!S_ISREG(st.st_mode)) {
		log_warnx("%s/%s: not a regular file, skipped", path,
		    m->name);
		(void)close(fd);
		return -1;
	}
	if (maildir_count_size(fd, &m->size) == -1) {
		log_warn("%s/%s: read, skipped", path, m->name);
		(void)close(fd);
		return -1;
	}
	(void)close(fd);
	if (m->time == -1)
		m->time = st.st_mtime;
	return 0;
}

/* Sets the size and time of m: from its name without any I/O where the
 * name has them, else from the file. */
int
maildir_mail_stat(int dirfd, const char *path, struct mail *m,
    bool size_known)
{
	struct stat	 st;
	off_t		 w;

	if (m->time == -1)
		m->time = maildir_name_time(mail_base(m), m->baselen);
	if (!size_known) {
		maildir_name_sizes(mail_base(m), m->baselen, NULL, &w);
		/* ,S= is the file's size, not the network size: count. */
		if (w < 0)
			return count_mail(dirfd, path, m);
		m->size = w;
	}
	if (m->time != -1 && (m->flags & MAIL_UNCHECKED) == 0)
		return 0;
	/* No d_type, or no time in the name: one lstat. */
	if (fstatat(dirfd, m->name, &st, AT_SYMLINK_NOFOLLOW) == -1) {
		if (errno == ENOENT)
			log_debug("%s/%s: gone while listing", path, m->name);
		else
			log_warn("%s/%s, skipped", path, m->name);
		return -1;
	}
	if (!S_ISREG(st.st_mode)) {
		log_warnx("%s/%s: not a regular file, skipped", path,
		    m->name);
		return -1;
	}
	if (m->time == -1)
		m->time = st.st_mtime;
	return 0;
}

/* Checks that sub is a directory of the Maildir (not a symlink); its
 * status in *st. */
static int
check_subdir(struct maildrop *md, const char *sub, struct stat *st)
{
	if (fstatat(md->dirfd, sub, st, AT_SYMLINK_NOFOLLOW) == -1) {
		log_warn("%s/%s", md->path, sub);
		return -1;
	}
	if (!S_ISDIR(st->st_mode)) {
		errno = ENOTDIR;
		log_warn("%s/%s", md->path, sub);
		return -1;
	}
	return 0;
}

/* Lists the locked Maildir through its index into md. */
static int
maildrop_list(struct maildrop *md, const struct mail_opts *opts)
{
	size_t	 i;

	index_init(&md->idx, md->dirfd, md->path);
	if (index_sync_lazy(&md->idx, opts) == -1) {
		index_unlock(&md->idx);
		return -1;
	}
	index_unlock(&md->idx);
	if (index_lacks(&md->idx, opts)) {
		errno = EAGAIN;
		return -1;
	}
	md->mail = md->idx.mail;
	md->count = md->idx.count;
	md->uidvalidity = opts->no_index ? 0 : md->idx.uidvalidity;
	if (md->count > MAILDROP_MESSAGES_MAX) {
		log_warnx("%s: %zu messages, only the first %d are listed",
		    md->path, md->count, MAILDROP_MESSAGES_MAX);
		md->count = MAILDROP_MESSAGES_MAX;
	}
	md->size = 0;
	for (i = 0; i < md->count; i++) {
		md->mail[i].flags &= MAIL_BADINFO | MAIL_OWNNAME;
		md->size += md->mail[i].size;
	}
	return 0;
}

/* Locks and lists the Maildir at path. */
int
maildrop_open(const char *path, const struct mail_opts *opts,
    struct maildrop **md_r)
{
	static const struct mail_opts defaults;
	struct maildrop	*md;
	struct stat	 st;
	time_t		 now;
	int		 rc = -1, saved;

	*md_r = NULL;
	if (opts == NULL)
		opts = &defaults;
	if ((md = calloc(1, sizeof(*md))) == NULL) {
		log_warn("%s", path);
		return -1;
	}
	md->dirfd = md->lockfd = md->ahead_fd = -1;
	index_init(&md->idx, -1, path);
	md->opts = *opts;
	if ((md->path = strdup(path)) == NULL) {
		log_warn("%s", path);
		goto fail;
	}
	/* No O_NOFOLLOW here: the path itself may be an admin's symlink. */
	if ((md->dirfd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) ==
	    -1) {
		log_warn("%s", path);
		goto fail;
	}
	if (check_subdir(md, "new", &st) == -1 ||
	    check_subdir(md, "cur", &st) == -1 ||
	    check_subdir(md, "tmp", &st) == -1)
		goto fail;
	if ((md->lockfd = lock_take(md->dirfd, LOCK_FILE)) == -1) {
		if (errno == EAGAIN || errno == EWOULDBLOCK) {
			log_debug("%s: locked by another session", path);
			rc = MAILDROP_LOCKED;
		} else
			log_warn("%s/%s", path, LOCK_FILE);
		goto fail;
	}
	now = time(NULL);
	if (maildir_tmp_due(&st, now) &&
	    maildir_clean_tmp(md->dirfd, path, now) != -1)
		tmp_scanned(md->dirfd, path, now);
	if (maildrop_list(md, opts) == -1)
		goto fail;
	*md_r = md;
	return 0;
fail:
	saved = errno;
	maildrop_close(&md);
	errno = saved;
	return rc;
}

/* Finds m again after another agent moved it. */
int
maildir_relocate(int dirfd, const char *path, struct mail *m)
{
	static const char *const subs[] = { "new", "cur" };
	const char	*base = mail_base(m);
	struct dirent	*d;
	DIR		*dp;
	char		*name;
	size_t		 k;
	int		 fd, saved;

	for (k = 0; k < sizeof(subs) / sizeof(subs[0]); k++) {
		if ((dp = maildir_opendir(dirfd, subs[k], &fd)) == NULL)
			return -1;
		for (;;) {
			errno = 0;
			if ((d = readdir(dp)) == NULL)
				break;
			if (strncmp(d->d_name, base, m->baselen) != 0 ||
			    (d->d_name[m->baselen] != '\0' &&
			    d->d_name[m->baselen] != ':'))
				continue;
			name = maildir_name_join(subs[k], d->d_name,
			    strlen(d->d_name), "");
			saved = errno;
			(void)closedir(dp);
			if (name == NULL) {
				errno = saved;
				return -1;
			}
			log_debug("%s/%s: now %s", path, m->name, name);
			mail_rename(m, name);
			maildir_mail_flags(m);
			return 0;
		}
		saved = errno;
		(void)closedir(dp);
		if (saved != 0) {
			errno = saved;
			return -1;
		}
	}
	errno = ENOENT;
	return -1;
}

/*
 * Opens m, following it if another agent moved it.  It stays open with
 * O_NONBLOCK (against a FIFO planted under its name), which a read of a
 * regular file ignores; io_send_message() copes should one ever not.
 */
int
maildir_open_msg(int dirfd, const char *path, struct mail *m, off_t *size_r)
{
	struct stat	 st;
	int		 fd, saved, tries;

	for (tries = 0;; tries++) {
		fd = openat(dirfd, m->name, MAIL_OPEN_FLAGS);
		if (fd != -1)
			break;
		/* O_NOFOLLOW met a symlink (FreeBSD says EMLINK): no
		 * regular file, as below. */
		if (errno == ELOOP || errno == EMLINK) {
			log_warnx("%s/%s: not a regular file", path, m->name);
			errno = EINVAL;
			return -1;
		}
		if (errno != ENOENT || tries == RELOCATE_TRIES) {
			log_warn("%s/%s", path, m->name);
			return -1;
		}
		if (maildir_relocate(dirfd, path, m) == -1) {
			if (errno == ENOENT)
				log_debug("%s/%s: removed by another agent",
				    path, m->name);
			else
				log_warn("%s: looking for %s", path, m->name);
			return -1;
		}
	}
	if (fstat(fd, &st) == -1) {
		log_warn("%s/%s", path, m->name);
		goto fail;
	}
	/* A message replaced by a directory, FIFO or device: EINVAL, the
	 * errno POSIX has for "not the kind of file asked for" elsewhere. */
	if (!S_ISREG(st.st_mode)) {
		log_warnx("%s/%s: not a regular file", path, m->name);
		errno = EINVAL;
		goto fail;
	}
	if (size_r != NULL)
		*size_r = st.st_size;
	return fd;
fail:
	saved = errno;
	(void)close(fd);
	errno = saved;
	return -1;
}

/* Opens message i of the maildrop, or takes the one read ahead. */
int
maildrop_open_mail(struct maildrop *md, size_t i, off_t *size_r)
{
	int	 fd;

	if (md == NULL || i >= md->count) {
		errno = EINVAL;
		return -1;
	}
	if ((fd = md->ahead_fd) != -1) {
		md->ahead_fd = -1;
		if (md->ahead_i == i) {
			if (size_r != NULL)
				*size_r = md->ahead_size;
			return fd;
		}
		(void)close(fd);
	}
	return maildir_open_msg(md->dirfd, md->path, &md->mail[i], size_r);
}

/* Opens message i early; posix_fadvise() starts the reading. */
void
maildrop_readahead(struct maildrop *md, size_t i)
{
	struct stat	 st;
	int		 fd;

	if (md->ahead_fd != -1) {
		(void)close(md->ahead_fd);
		md->ahead_fd = -1;
	}
	if (i >= md->count ||
	    (fd = openat(md->dirfd, md->mail[i].name, MAIL_OPEN_FLAGS)) == -1)
		return;
	if (fstat(fd, &st) == -1 || !S_ISREG(st.st_mode)) {
		(void)close(fd);
		return;
	}
#ifdef POSIX_FADV_WILLNEED
	(void)posix_fadvise(fd, 0, 0, POSIX_FADV_WILLNEED);
#endif
	md->ahead_fd = fd;
	md->ahead_i = i;
	md->ahead_size = st.st_size;
}

void
maildrop_readahead_next(struct maildrop *md, size_t i)
{
	while (++i < md->count && (md->mail[i].flags & MAIL_DELETED))
		;
	maildrop_readahead(md, i);	/* past the last: lets go */
}

/* Counts the messages and octets not marked deleted. */
size_t
maildrop_live(const struct maildrop *md, off_t *size_r)
{
	size_t	 i, n = 0;
	off_t	 size = 0;

	for (i = 0; i < md->count; i++) {
		if (md->mail[i].flags & MAIL_DELETED)
			continue;
		n++;
		size += md->mail[i].size;
	}
	if (size_r != NULL)
		*size_r = size;
	return n;
}

/* Clears every deletion mark; the seen marks stay (POP3 RSET unmarks
 * deletions only, and the messages were still read). */
void
maildrop_reset(struct maildrop *md)
{
	size_t	 i;

	for (i = 0; i < md->count; i++)
		md->mail[i].flags &= ~MAIL_DELETED;
}

/* Unlinks message i; a message already gone counts as done. */
static int
commit_delete(struct maildrop *md, size_t i)
{
	int	 tries;

	for (tries = 0; tries <= RELOCATE_TRIES; tries++) {
		if (unlinkat(md->dirfd, md->mail[i].name, 0) == 0) {
			log_debug("%s/%s: deleted", md->path,
			    md->mail[i].name);
			return 0;
		}
		if (errno != ENOENT) {
			log_warn("%s/%s: cannot delete", md->path,
			    md->mail[i].name);
			return -1;
		}
		if (maildir_relocate(md->dirfd, md->path, &md->mail[i]) ==
		    -1) {
			if (errno == ENOENT) {
				log_debug("%s/%s: already gone", md->path,
				    md->mail[i].name);
				return 0;
			}
			log_warn("%s/%s: cannot delete", md->path,
			    md->mail[i].name);
			return -1;
		}
	}
	log_warnx("%s/%s: cannot delete, it keeps moving", md->path,
	    md->mail[i].name);
	return -1;
}

/* The name m gets once seen: cur/BASE:2,FLAGS with S.  1 with *to_r set,
 * 0 if m needs no rename, -1 on an error (errno). */
static int
seen_target(const struct mail *m, char **to_r)
{
	char	 info[FLAGS_INFO_MAX];

	if (m->flags & MAIL_BADINFO)
		return 0;	/* an info we do not know: leave it be */
	if (strncmp(m->name, "cur/", SUBDIR_LEN) == 0 &&
	    (m->mflags & FLAG_SEEN))
		return 0;
	(void)flags_format(m->mflags | FLAG_SEEN, m->keywords, info);
	*to_r = maildir_name_join("cur", mail_base(m), m->baselen, info);
	return *to_r == NULL ? -1 : 1;
}

/* Moves message i into cur/ with the S flag.  Failures are logged. */
static void
commit_seen(struct maildrop *md, size_t i)
{
	char	*to;
	int	 tries, r;

	for (tries = 0; tries <= RELOCATE_TRIES; tries++) {
		if ((r = seen_target(&md->mail[i], &to)) == 0)
			return;
		if (r == -1) {
			log_warn("%s/%s: cannot mark seen", md->path,
			    md->mail[i].name);
			return;
		}
		if (renameat(md->dirfd, md->mail[i].name, md->dirfd, to) ==
		    0) {
			log_debug("%s/%s: now %s", md->path, md->mail[i].name,
			    to);
			mail_rename(&md->mail[i], to);
			maildir_mail_flags(&md->mail[i]);
			return;
		}
		if (errno != ENOENT) {
			log_warn("%s/%s: cannot rename to %s", md->path,
			    md->mail[i].name, to);
			free(to);
			return;
		}
		free(to);
		if (maildir_relocate(md->dirfd, md->path, &md->mail[i]) ==
		    -1) {
			if (errno == ENOENT)
				log_debug("%s/%s: gone, not marked seen",
				    md->path, md->mail[i].name);
			else
				log_warn("%s/%s: cannot mark seen",
				    md->path, md->mail[i].name);
			return;
		}
	}
	log_warnx("%s/%s: not marked seen, it keeps moving", md->path,
	    md->mail[i].name);
}

/* Applies the deletion and seen marks, then drops the deleted from the
 * index.  The index lock keeps other sessions' listings out meanwhile. */
int
maildrop_commit(struct maildrop *md, size_t *failed_r)
{
	size_t	 i, failed = 0, gone = 0;
	bool	 locked = false;

	for (i = 0; i < md->count; i++)
		if (md->mail[i].flags & (MAIL_DELETED | MAIL_SEEN))
			break;
	if (i == md->count) {
		if (failed_r != NULL)
			*failed_r = 0;
		return 0;	/* nothing to apply: no lock to take */
	}
	if (!md->opts.no_index)
		locked = index_lock(&md->idx) == 0;
	for (i = 0; i < md->count; i++) {
		if (md->mail[i].flags & MAIL_DELETED) {
			if (commit_delete(md, i) == -1)
				failed++;
			else {
				md->mail[i].flags |= MAIL_GONE;
				gone++;
			}
		} else if (md->mail[i].flags & MAIL_SEEN)
			commit_seen(md, i);
	}
	/* Without the lock the next listing drops them instead. */
	if (locked && gone > 0)
		(void)index_commit(&md->idx, &md->opts);
	index_unlock(&md->idx);
	if (failed_r != NULL)
		*failed_r = failed;
	return failed == 0 ? 0 : -1;
}

/* Releases the lock and frees the maildrop. */
void
maildrop_close(struct maildrop **mdp)
{
	struct maildrop	*md;

	if (mdp == NULL || (md = *mdp) == NULL)
		return;
	index_unlock(&md->idx);
	index_free(&md->idx);
	lock_release(md->lockfd);
	if (md->ahead_fd != -1)
		(void)close(md->ahead_fd);
	if (md->dirfd != -1)
		(void)close(md->dirfd);
	free(md->path);
	free(md);
	*mdp = NULL;
}
