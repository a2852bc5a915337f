/*
 * maildir.c: a locked snapshot of one Maildir (cr.yp.to/proto/maildir.html):
 * listing, network sizes, deferred deletes and the seen flag.  It must never
 * follow a symlink inside the Maildir, never list or touch tmp/ files other
 * than stale ones, and never touch mail delivered after the snapshot.
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
#include "storage/lock.h"
#include "storage/maildir.h"

/* The largest off_t (POSIX has no OFF_MAX). */
#define OFF_T_MAX \
	((off_t)(((uintmax_t)1 << (sizeof(off_t) * CHAR_BIT - 1)) - 1))

/* Both "new/" and "cur/" are this long: the base follows. */
#define SUBDIR_LEN	4

/* Tries at following a message that another agent keeps moving. */
#define RELOCATE_TRIES	3

/* Flags for opening a message: O_NONBLOCK so that a FIFO cannot hang us. */
#define MAIL_OPEN_FLAGS	(O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK)

/* Internal mark while listing: d_type was DT_UNKNOWN, the type is unsure. */
#define MAIL_UNCHECKED	0x100

/* Systems without d_type: every entry is of unknown type. */
#ifndef DT_UNKNOWN
#define DT_UNKNOWN	0
#define DT_REG		8
#define HAVE_NO_D_TYPE	1
#endif

/* A growing array of messages while the directories are read. */
struct mail_list {
	struct mail	*mail;
	size_t		 count;
	size_t		 alloc;
};

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
static DIR *
subdir_open(int mdfd, const char *sub, int *fd_r)
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
static char *
name_join(const char *sub, const char *name, size_t namelen,
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
	return v;
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

/* Removes stale regular files from tmp/. */
int
maildir_clean_tmp(int mdfd, const char *path, time_t now)
{
	DIR		*dp;
	struct dirent	*d;
	struct stat	 st;
	time_t		 newest;
	int		 fd, removed = 0;

	if ((dp = subdir_open(mdfd, "tmp", &fd)) == NULL) {
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

/* The base name of m: it follows "new/" or "cur/". */
const char *
mail_base(const struct mail *m)
{
	return m->name + SUBDIR_LEN;
}

/* Orders by the leading decimal number of the base (the delivery time),
 * numerically and without overflow, then by the whole base as strcmp. */
static int
mail_cmp(const void *a, const void *b)
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

/* True if a and b name the same message (the same base). */
static bool
same_base(const struct mail *a, const struct mail *b)
{
	return a->baselen == b->baselen &&
	    memcmp(mail_base(a), mail_base(b), a->baselen) == 0;
}

/* Appends sub/name to the list. */
static int
mail_list_add(struct mail_list *l, const char *sub, const char *name,
    size_t baselen, bool unchecked)
{
	struct mail	*m;
	size_t		 n;

	if (l->count == l->alloc) {
		n = l->alloc == 0 ? 64 : l->alloc * 2;
		if ((m = reallocarray(l->mail, n, sizeof(*m))) == NULL)
			return -1;
		l->mail = m;
		l->alloc = n;
	}
	m = &l->mail[l->count];
	if ((m->name = name_join(sub, name, strlen(name), "")) == NULL)
		return -1;
	m->baselen = baselen;
	m->size = 0;
	m->flags = unchecked ? MAIL_UNCHECKED : 0;
	l->count++;
	return 0;
}

/* Frees the names in l and l's array. */
static void
mail_list_free(struct mail_list *l)
{
	size_t	 i;

	for (i = 0; i < l->count; i++)
		free(l->mail[i].name);
	free(l->mail);
	l->mail = NULL;
	l->count = l->alloc = 0;
}

/* Lists the message files of new/ or cur/ into l, without sizes. */
static int
scan_subdir(struct maildrop *md, const char *sub, struct mail_list *l)
{
	DIR		*dp;
	struct dirent	*d;
	size_t		 baselen;
	int		 fd, type;

	if ((dp = subdir_open(md->dirfd, sub, &fd)) == NULL) {
		log_warn("%s/%s", md->path, sub);
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
			    md->path, sub, d->d_name);
			continue;
		}
		if ((baselen = strcspn(d->d_name, ":")) == 0) {
			log_warnx("%s/%s/%s: no base name, skipped",
			    md->path, sub, d->d_name);
			continue;
		}
		if (mail_list_add(l, sub, d->d_name, baselen,
		    type == DT_UNKNOWN) == -1) {
			log_warn("%s/%s/%s", md->path, sub, d->d_name);
			(void)closedir(dp);
			return -1;
		}
	}
	if (errno != 0) {
		log_warn("%s/%s: readdir", md->path, sub);
		(void)closedir(dp);
		return -1;
	}
	(void)closedir(dp);
	return 0;
}

/* Drops a second listing of one message, seen in new/ and again in cur/
 * because it moved while the directories were read: the cur/ name wins. */
static void
mail_list_dedupe(struct maildrop *md, struct mail_list *l)
{
	struct mail	*kept;
	size_t		 i, j;

	for (i = j = 0; i < l->count; i++) {
		if (j > 0 && same_base(&l->mail[j - 1], &l->mail[i])) {
			kept = &l->mail[j - 1];
			log_debug("%s: %s listed twice as %s", md->path,
			    kept->name, l->mail[i].name);
			if (strncmp(kept->name, "new/", SUBDIR_LEN) == 0) {
				free(kept->name);
				*kept = l->mail[i];
			} else
				free(l->mail[i].name);
			continue;
		}
		l->mail[j++] = l->mail[i];
	}
	l->count = j;
}

/* Sets the network size of m: from ,W= without any I/O, else counted.
 * -1 (logged) if m must not be listed. */
static int
mail_size(struct maildrop *md, struct mail *m)
{
	struct stat	 st;
	off_t		 s, w;
	int		 fd;

	maildir_name_sizes(mail_base(m), m->baselen, &s, &w);
	if (w >= 0 && (m->flags & MAIL_UNCHECKED) == 0) {
		m->size = w;
		return 0;
	}
	if (w >= 0) {
		/* No d_type: one lstat to refuse directories and links. */
		if (fstatat(md->dirfd, m->name, &st,
		    AT_SYMLINK_NOFOLLOW) == -1) {
			log_warn("%s/%s, skipped", md->path, m->name);
			return -1;
		}
		if (!S_ISREG(st.st_mode)) {
			log_warnx("%s/%s: not a regular file, skipped",
			    md->path, m->name);
			return -1;
		}
		m->size = w;
		return 0;
	}
	/* ,S= is the file's size, not the network size: count. */
	if ((fd = openat(md->dirfd, m->name, MAIL_OPEN_FLAGS)) == -1) {
		if (errno == ENOENT)
			log_debug("%s/%s: gone while listing", md->path,
			    m->name);
		else
			log_warn("%s/%s, skipped", md->path, m->name);
		return -1;
	}
	if (fstat(fd, &st) == -1) {
		log_warn("%s/%s, skipped", md->path, m->name);
		(void)close(fd);
		return -1;
	}
	if (!S_ISREG(st.st_mode)) {
		log_warnx("%s/%s: not a regular file, skipped", md->path,
		    m->name);
		(void)close(fd);
		return -1;
	}
	if (maildir_count_size(fd, &m->size) == -1) {
		log_warn("%s/%s: read, skipped", md->path, m->name);
		(void)close(fd);
		return -1;
	}
	(void)close(fd);
	return 0;
}

/* Lists new/ and cur/ into md in delivery order, with sizes. */
static int
maildrop_scan(struct maildrop *md)
{
	struct mail_list l = { NULL, 0, 0 };
	size_t		 i, j;

	if (scan_subdir(md, "new", &l) == -1 ||
	    scan_subdir(md, "cur", &l) == -1) {
		mail_list_free(&l);
		return -1;
	}
	if (l.count > 1)
		qsort(l.mail, l.count, sizeof(*l.mail), mail_cmp);
	mail_list_dedupe(md, &l);
	if (l.count > MAILDROP_MESSAGES_MAX) {
		log_warnx("%s: %zu messages, only the first %d are listed",
		    md->path, l.count, MAILDROP_MESSAGES_MAX);
		for (i = MAILDROP_MESSAGES_MAX; i < l.count; i++)
			free(l.mail[i].name);
		l.count = MAILDROP_MESSAGES_MAX;
	}
	md->size = 0;
	for (i = j = 0; i < l.count; i++) {
		if (mail_size(md, &l.mail[i]) == -1) {
			free(l.mail[i].name);
			continue;
		}
		l.mail[i].flags = 0;
		md->size += l.mail[i].size;
		l.mail[j++] = l.mail[i];
	}
	md->mail = l.mail;
	md->count = j;
	return 0;
}

/* Checks that sub is a directory of the Maildir (not a symlink). */
static int
check_subdir(struct maildrop *md, const char *sub)
{
	struct stat	 st;

	if (fstatat(md->dirfd, sub, &st, AT_SYMLINK_NOFOLLOW) == -1) {
		log_warn("%s/%s", md->path, sub);
		return -1;
	}
	if (!S_ISDIR(st.st_mode)) {
		errno = ENOTDIR;
		log_warn("%s/%s", md->path, sub);
		return -1;
	}
	return 0;
}

/* Locks and lists the Maildir at path. */
int
maildrop_open(const char *path, struct maildrop **md_r)
{
	struct maildrop	*md;
	int		 rc = -1, saved;

	*md_r = NULL;
	if ((md = calloc(1, sizeof(*md))) == NULL) {
		log_warn("%s", path);
		return -1;
	}
	md->dirfd = md->lockfd = -1;
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
	if (check_subdir(md, "new") == -1 || check_subdir(md, "cur") == -1 ||
	    check_subdir(md, "tmp") == -1)
		goto fail;
	if ((md->lockfd = lock_take(md->dirfd, LOCK_FILE)) == -1) {
		if (errno == EAGAIN || errno == EWOULDBLOCK) {
			log_debug("%s: locked by another session", path);
			rc = MAILDROP_LOCKED;
		} else
			log_warn("%s/%s", path, LOCK_FILE);
		goto fail;
	}
	(void)maildir_clean_tmp(md->dirfd, path, time(NULL));
	if (maildrop_scan(md) == -1)
		goto fail;
	*md_r = md;
	return 0;
fail:
	saved = errno;
	maildrop_close(&md);
	errno = saved;
	return rc;
}

/* Finds message i again after another agent moved it (new/ to cur/, or a
 * flag change in cur/) and updates its name.  0, or -1 with errno (ENOENT:
 * the message is in neither directory). */
static int
relocate(struct maildrop *md, size_t i)
{
	static const char *const subs[] = { "new", "cur" };
	struct mail	*m = &md->mail[i];
	const char	*base = mail_base(m);
	struct dirent	*d;
	DIR		*dp;
	char		*name;
	size_t		 k;
	int		 fd, saved;

	for (k = 0; k < sizeof(subs) / sizeof(subs[0]); k++) {
		if ((dp = subdir_open(md->dirfd, subs[k], &fd)) == NULL)
			return -1;
		for (;;) {
			errno = 0;
			if ((d = readdir(dp)) == NULL)
				break;
			if (strncmp(d->d_name, base, m->baselen) != 0 ||
			    (d->d_name[m->baselen] != '\0' &&
			    d->d_name[m->baselen] != ':'))
				continue;
			name = name_join(subs[k], d->d_name,
			    strlen(d->d_name), "");
			saved = errno;
			(void)closedir(dp);
			if (name == NULL) {
				errno = saved;
				return -1;
			}
			log_debug("%s/%s: now %s", md->path, m->name, name);
			free(m->name);
			m->name = name;
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

/* Opens message i, following it if another agent moved it. */
int
maildrop_open_mail(struct maildrop *md, size_t i)
{
	struct stat	 st;
	int		 fd, flags, tries;

	if (md == NULL || i >= md->count) {
		errno = EINVAL;
		return -1;
	}
	for (tries = 0;; tries++) {
		fd = openat(md->dirfd, md->mail[i].name, MAIL_OPEN_FLAGS);
		if (fd != -1)
			break;
		if (errno != ENOENT || tries == RELOCATE_TRIES) {
			log_warn("%s/%s", md->path, md->mail[i].name);
			return -1;
		}
		if (relocate(md, i) == -1) {
			if (errno == ENOENT)
				log_debug("%s/%s: removed by another agent",
				    md->path, md->mail[i].name);
			else
				log_warn("%s: looking for %s", md->path,
				    md->mail[i].name);
			return -1;
		}
	}
	if (fstat(fd, &st) == -1) {
		log_warn("%s/%s", md->path, md->mail[i].name);
		goto fail;
	}
	/* A message replaced by a directory, FIFO or device: EINVAL, the
	 * errno POSIX has for "not the kind of file asked for" elsewhere. */
	if (!S_ISREG(st.st_mode)) {
		log_warnx("%s/%s: not a regular file", md->path,
		    md->mail[i].name);
		errno = EINVAL;
		goto fail;
	}
	if ((flags = fcntl(fd, F_GETFL)) == -1 ||
	    fcntl(fd, F_SETFL, flags & ~O_NONBLOCK) == -1) {
		log_warn("%s/%s", md->path, md->mail[i].name);
		goto fail;
	}
	return fd;
fail:
	flags = errno;
	(void)close(fd);
	errno = flags;
	return -1;
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
		if (relocate(md, i) == -1) {
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

/* Sorts the flag letters of s in ASCII order, dropping repeats. */
static void
sort_flags(char *s)
{
	size_t	 i, j, n = strlen(s);
	char	 c;

	for (i = 1; i < n; i++) {
		c = s[i];
		for (j = i; j > 0 && (unsigned char)s[j - 1] > (unsigned char)c;
		    j--)
			s[j] = s[j - 1];
		s[j] = c;
	}
	for (i = j = 0; i < n; i++)
		if (j == 0 || s[j - 1] != s[i])
			s[j++] = s[i];
	s[j] = '\0';
}

/* The name m gets once seen: cur/BASE:2,FLAGS with S.  1 with *to_r set,
 * 0 if m needs no rename, -1 on an error (errno). */
static int
seen_target(const struct mail *m, char **to_r)
{
	const char	*info, *flags;
	char		*suffix;
	size_t		 len;
	bool		 in_cur;

	info = mail_base(m) + m->baselen;
	if (*info == '\0')
		flags = "";
	else if (strncmp(info, ":2,", 3) == 0)
		flags = info + 3;
	else
		return 0;	/* an info we do not know: leave it be */
	in_cur = strncmp(m->name, "cur/", SUBDIR_LEN) == 0;
	if (in_cur && strchr(flags, 'S') != NULL)
		return 0;
	len = 3 + strlen(flags) + 2;
	if ((suffix = malloc(len)) == NULL)
		return -1;
	if (snprintf(suffix, len, ":2,%sS", flags) >= (int)len) {
		free(suffix);
		errno = ENAMETOOLONG;
		return -1;
	}
	sort_flags(suffix + 3);
	*to_r = name_join("cur", mail_base(m), m->baselen, suffix);
	free(suffix);
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
			free(md->mail[i].name);
			md->mail[i].name = to;
			return;
		}
		if (errno != ENOENT) {
			log_warn("%s/%s: cannot rename to %s", md->path,
			    md->mail[i].name, to);
			free(to);
			return;
		}
		free(to);
		if (relocate(md, i) == -1) {
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

/* Applies the deletion and seen marks. */
int
maildrop_commit(struct maildrop *md, size_t *failed_r)
{
	size_t	 i, failed = 0;

	for (i = 0; i < md->count; i++) {
		if (md->mail[i].flags & MAIL_DELETED) {
			if (commit_delete(md, i) == -1)
				failed++;
		} else if (md->mail[i].flags & MAIL_SEEN)
			commit_seen(md, i);
	}
	if (failed_r != NULL)
		*failed_r = failed;
	return failed == 0 ? 0 : -1;
}

/* Releases the lock and frees the maildrop. */
void
maildrop_close(struct maildrop **mdp)
{
	struct maildrop	*md;
	size_t		 i;

	if (mdp == NULL || (md = *mdp) == NULL)
		return;
	lock_release(md->lockfd);
	if (md->dirfd != -1)
		(void)close(md->dirfd);
	for (i = 0; i < md->count; i++)
		free(md->mail[i].name);
	free(md->mail);
	free(md->path);
	free(md);
	*mdp = NULL;
}
