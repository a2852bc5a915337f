/*
 * folder.c: Maildir++ folders (create, list, rename, delete) and the
 * messages of an open folder: listing through the index, flags and
 * keywords by rename, expunge, copy and append.  Folder names from
 * clients are checked here and must never reach the file system
 * otherwise; no symlink inside the Maildir is ever followed; every change
 * to a folder's names happens under its index lock.
 */
#include <sys/types.h>
#include <sys/stat.h>
#include <sys/time.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "server/log.h"
#include "storage/deliver.h"
#include "storage/flags.h"
#include "storage/folder.h"
#include "storage/index.h"
#include "storage/maildir.h"
#include "storage/msgid.h"

/* Directory levels rm_tree() goes down: a folder has two. */
#define RM_DEPTH	4
/* Leftovers of a deletion, in the Maildir's tmp/. */
#define DELETED_PREFIX	"postern-deleted."
/* A host name in a unique name, escaped. */
#define HOST_BUF	(64 * 4 + 1)

/* The folder name without a leading "INBOX.", or NULL for the INBOX. */
static const char *
plain_name(const char *name)
{
	if (strcasecmp(name, FOLDER_INBOX) == 0)
		return NULL;
	if (strncasecmp(name, FOLDER_INBOX ".", 6) == 0)
		return name + 6;
	return name;
}

/* Whether a folder name (without "INBOX.") is valid. */
static bool
plain_valid(const char *name)
{
	size_t	 i, len = strlen(name);

	if (len == 0 || len > FOLDER_NAME_MAX || name[0] == '.' ||
	    name[len - 1] == '.' || strstr(name, "..") != NULL)
		return false;
	for (i = 0; i < len; i++)
		if (name[i] < 0x20 || name[i] > 0x7e || name[i] == '/')
			return false;
	return plain_name(name) == name;	/* not "INBOX" nor "INBOX.x" */
}

/* Whether name may name a folder. */
bool
folder_name_valid(const char *name)
{
	const char	*p = plain_name(name);

	return p == NULL || plain_valid(p);
}

/* Writes ".name" of a valid folder name into dir. */
static int
dir_name(const char *name, char *dir, size_t len)
{
	int	 n = snprintf(dir, len, ".%s", name);

	if (n < 0 || (size_t)n >= len) {
		errno = ENAMETOOLONG;
		return -1;
	}
	return 0;
}

/* Checks a name for a folder other than the INBOX; its directory name
 * goes to dir.  -1 with errno EINVAL when it cannot be one. */
static int
other_folder(const char *name, char *dir, size_t len)
{
	const char	*p = plain_name(name);

	if (p == NULL || !plain_valid(p)) {
		errno = EINVAL;
		return -1;
	}
	return dir_name(p, dir, len);
}

/* Opens the Maildir root (which may be an admin's symlink). */
static int
open_root(const char *root)
{
	int	 fd;

	if ((fd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1)
		log_warn("%s", root);
	return fd;
}

/* How subdirs() treats a missing subdirectory. */
#define SUB_CHECK	0	/* an error */
#define SUB_REPAIR	1	/* made, and logged: a crash left it out */
#define SUB_MAKE	2	/* made: a new folder */

/* Makes sure new/, cur/ and tmp/ exist in dirfd.  -1 with errno
 * (logged). */
static int
subdirs(int dirfd, const char *path, int how)
{
	static const char *const subs[] = { "new", "cur", "tmp" };
	struct stat	 st;
	size_t		 i;

	for (i = 0; i < sizeof(subs) / sizeof(subs[0]); i++) {
		if (fstatat(dirfd, subs[i], &st, AT_SYMLINK_NOFOLLOW) == 0) {
			if (S_ISDIR(st.st_mode))
				continue;
			errno = ENOTDIR;
		} else if (errno == ENOENT && how != SUB_CHECK) {
			if (mkdirat(dirfd, subs[i], 0700) == 0) {
				if (how == SUB_REPAIR)
					log_info("%s/%s: was missing, created",
					    path, subs[i]);
				continue;
			}
		}
		log_warn("%s/%s", path, subs[i]);
		return -1;
	}
	return 0;
}

/* Creates folder name. */
int
folder_create(const char *root, const char *name)
{
	char	 dir[FOLDER_NAME_MAX + 2];
	int	 rootfd, fd, mfd, saved;

	if (other_folder(name, dir, sizeof(dir)) == -1)
		return -1;
	if ((rootfd = open_root(root)) == -1)
		return -1;
	if (mkdirat(rootfd, dir, 0700) == -1) {
		saved = errno;
		if (saved != EEXIST)
			log_warn("%s/%s", root, dir);
		(void)close(rootfd);
		errno = saved;
		return -1;
	}
	fd = openat(rootfd, dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
	    O_CLOEXEC);
	saved = errno;
	(void)close(rootfd);
	if (fd == -1) {
		errno = saved;
		log_warn("%s/%s", root, dir);
		return -1;
	}
	/* A crash before the end leaves a folder that folder_open()
	 * completes. */
	if (subdirs(fd, root, SUB_MAKE) == -1 ||
	    (mfd = openat(fd, FOLDER_MARKER, O_WRONLY | O_CREAT | O_NOFOLLOW |
	    O_CLOEXEC, 0600)) == -1) {
		saved = errno;
		log_warn("%s/%s", root, dir);
		(void)close(fd);
		errno = saved;
		return -1;
	}
	(void)close(mfd);
	(void)close(fd);
	log_debug("%s: folder \"%s\" created", root, name);
	return 0;
}

/* Whether entry name of rootfd is a directory (no symlink followed). */
static bool
is_dir(int rootfd, const char *name)
{
	struct stat	 st;

	return fstatat(rootfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
	    S_ISDIR(st.st_mode);
}

/* Collects the directory names of rootfd that are from's folder (".from")
 * or under it (".from.x"), for a rename.  *names_r, *count_r. */
static int
collect_tree(int rootfd, const char *from_dir, char ***names_r,
    size_t *count_r)
{
	DIR		*dp;
	struct dirent	*d;
	char		**names = NULL, **nn;
	size_t		 count = 0, len = strlen(from_dir);
	int		 fd;

	if ((fd = dup(rootfd)) == -1 || (dp = fdopendir(fd)) == NULL) {
		if (fd != -1)
			(void)close(fd);
		return -1;
	}
	rewinddir(dp);
	while ((d = readdir(dp)) != NULL) {
		if (strncmp(d->d_name, from_dir, len) != 0 ||
		    (d->d_name[len] != '\0' && d->d_name[len] != '.') ||
		    !is_dir(rootfd, d->d_name))
			continue;
		if ((nn = reallocarray(names, count + 1, sizeof(*nn))) ==
		    NULL || (nn[count] = strdup(d->d_name)) == NULL) {
			if (nn != NULL)
				names = nn;
			folder_list_free(names, count);
			(void)closedir(dp);
			errno = ENOMEM;
			return -1;
		}
		names = nn;
		count++;
	}
	(void)closedir(dp);
	*names_r = names;
	*count_r = count;
	return 0;
}

/* Orders directory names so that a folder comes before those under it. */
static int
name_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Renames folder from and those under it to to. */
int
folder_rename(const char *root, const char *from, const char *to)
{
	char		 fdir[FOLDER_NAME_MAX + 2], tdir[FOLDER_NAME_MAX + 2];
	char		 target[NAME_MAX + 1];
	char		**names = NULL;
	size_t		 count = 0, i, flen;
	int		 rootfd, rc = -1, saved = 0, n;

	if (other_folder(from, fdir, sizeof(fdir)) == -1 ||
	    other_folder(to, tdir, sizeof(tdir)) == -1)
		return -1;
	flen = strlen(fdir);
	/* Not into itself: "a" to "a.b". */
	if (strncmp(tdir, fdir, flen) == 0 &&
	    (tdir[flen] == '\0' || tdir[flen] == '.')) {
		errno = EINVAL;
		return -1;
	}
	if ((rootfd = open_root(root)) == -1)
		return -1;
	if (collect_tree(rootfd, fdir, &names, &count) == -1) {
		saved = errno;
		log_warn("%s", root);
		goto done;
	}
	if (count == 0) {
		saved = ENOENT;
		goto done;
	}
	qsort(names, count, sizeof(*names), name_cmp);
	/* Every new name must be free before anything moves. */
	for (i = 0; i < count; i++) {
		n = snprintf(target, sizeof(target), "%s%s", tdir,
		    names[i] + flen);
		if (n < 0 || (size_t)n >= sizeof(target) ||
		    (size_t)n - 1 > FOLDER_NAME_MAX) {
			saved = ENAMETOOLONG;
			goto done;
		}
		if (faccessat(rootfd, target, F_OK, AT_SYMLINK_NOFOLLOW) ==
		    0) {
			saved = EEXIST;
			goto done;
		}
	}
	for (i = 0; i < count; i++) {
		(void)snprintf(target, sizeof(target), "%s%s", tdir,
		    names[i] + flen);
		if (renameat(rootfd, names[i], rootfd, target) == -1) {
			saved = errno;
			log_warn("%s: %s to %s", root, names[i], target);
			goto done;
		}
		log_debug("%s: %s renamed to %s", root, names[i], target);
	}
	rc = 0;
done:
	folder_list_free(names, count);
	(void)close(rootfd);
	if (rc == -1)
		errno = saved;
	return rc;
}

/* Removes the tree name in dirfd, never following a symlink, at most
 * depth levels down.  -1 (errno) when something stayed. */
static int
rm_tree(int dirfd, const char *name, int depth)
{
	DIR		*dp;
	struct dirent	*d;
	int		 fd, rc = 0;

	if (unlinkat(dirfd, name, 0) == 0)
		return 0;
	if (errno != EISDIR && errno != EPERM)
		return errno == ENOENT ? 0 : -1;
	if (depth == 0) {
		errno = ELOOP;
		return -1;
	}
	fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
	    O_CLOEXEC);
	if (fd == -1 || (dp = fdopendir(fd)) == NULL) {
		if (fd != -1)
			(void)close(fd);
		return -1;
	}
	while ((d = readdir(dp)) != NULL) {
		if (strcmp(d->d_name, ".") == 0 || strcmp(d->d_name, "..") ==
		    0)
			continue;
		if (rm_tree(fd, d->d_name, depth - 1) == -1)
			rc = -1;
	}
	(void)closedir(dp);
	if (unlinkat(dirfd, name, AT_REMOVEDIR) == -1 && errno != ENOENT)
		rc = -1;
	return rc;
}

/* Deletes folder name. */
int
folder_delete(const char *root, const char *name)
{
	char	 dir[FOLDER_NAME_MAX + 2], trash[64];
	int	 rootfd, saved;

	if (other_folder(name, dir, sizeof(dir)) == -1)
		return -1;
	if ((rootfd = open_root(root)) == -1)
		return -1;
	if (!is_dir(rootfd, dir)) {
		(void)close(rootfd);
		errno = ENOENT;
		return -1;
	}
	/* Out of sight in one step, then removed: a crash leaves a
	 * leftover in tmp/, never half a folder. */
	(void)snprintf(trash, sizeof(trash), "tmp/" DELETED_PREFIX "%08x%08x",
	    arc4random(), arc4random());
	if (renameat(rootfd, dir, rootfd, trash) == -1) {
		saved = errno;
		log_warn("%s/%s: delete", root, dir);
		(void)close(rootfd);
		errno = saved;
		return -1;
	}
	if (rm_tree(rootfd, trash, RM_DEPTH) == -1)
		log_warn("%s/%s: not all removed", root, trash);
	(void)close(rootfd);
	log_debug("%s: folder \"%s\" deleted", root, name);
	return 0;
}

/* Frees a list of names. */
void
folder_list_free(char **names, size_t count)
{
	size_t	 i;

	for (i = 0; i < count; i++)
		free(names[i]);
	free(names);
}

/* Adds a copy of s to the list. */
static int
list_add(char ***names, size_t *count, const char *s)
{
	char	**nn;

	if ((nn = reallocarray(*names, *count + 1, sizeof(*nn))) == NULL)
		return -1;
	*names = nn;
	if ((nn[*count] = strdup(s)) == NULL)
		return -1;
	(*count)++;
	return 0;
}

/* Lists the folders of root. */
int
folder_list(const char *root, char ***names_r, size_t *count_r)
{
	DIR		*dp;
	struct dirent	*d;
	char		**names = NULL;
	size_t		 count = 0;
	int		 rootfd, saved;

	*names_r = NULL;
	*count_r = 0;
	if ((rootfd = open_root(root)) == -1)
		return -1;
	if ((dp = fdopendir(rootfd)) == NULL) {
		saved = errno;
		(void)close(rootfd);
		errno = saved;
		return -1;
	}
	if (list_add(&names, &count, FOLDER_INBOX) == -1)
		goto fail;
	while ((d = readdir(dp)) != NULL) {
		if (d->d_name[0] != '.' || !plain_valid(d->d_name + 1) ||
		    !is_dir(dirfd(dp), d->d_name))
			continue;
		if (list_add(&names, &count, d->d_name + 1) == -1)
			goto fail;
	}
	(void)closedir(dp);
	if (count > 2)
		qsort(names + 1, count - 1, sizeof(*names), name_cmp);
	*names_r = names;
	*count_r = count;
	return 0;
fail:
	saved = errno;
	log_warn("%s", root);
	(void)closedir(dp);
	folder_list_free(names, count);
	errno = saved;
	return -1;
}

/* Refreshes the folder's public view of its index. */
static void
refresh(struct folder *f)
{
	f->mail = f->idx.mail;
	f->count = f->idx.count;
	f->uidvalidity = f->idx.uidvalidity;
	f->nextuid = f->idx.nextuid;
}

/* Takes the index lock (nesting). */
int
folder_lock(struct folder *f)
{
	if (f->locked > 0 || f->opts.no_index) {
		f->locked++;
		return 0;
	}
	if (index_lock(&f->idx) == -1)
		return -1;
	f->locked = 1;
	return 0;
}

/* Releases the index lock when the outermost holder is done. */
void
folder_unlock(struct folder *f)
{
	if (f->locked == 0)
		return;
	if (--f->locked == 0)
		index_unlock(&f->idx);
}

/* Lists the folder (the lock held by the caller, if at all). */
static int
relist(struct folder *f)
{
	keywords_free(&f->kw);
	(void)keywords_read(f->dirfd, f->path, &f->kw);
	if (index_sync(&f->idx, &f->opts) == -1) {
		refresh(f);
		return -1;
	}
	refresh(f);
	return 0;
}

/* Lists the folder again under its lock. */
int
folder_sync(struct folder *f)
{
	int	 rc, locked;

	/* Without the lock the listing still works; its UIDs may not
	 * last, which need_uids turns into a failure. */
	locked = folder_lock(f);
	rc = relist(f);
	if (locked == 0)
		folder_unlock(f);
	if (rc == 0 && index_lacks(&f->idx, &f->opts)) {
		errno = EAGAIN;
		return -1;
	}
	return rc;
}

/* Opens folder name of root. */
int
folder_open(const char *root, const char *name,
    const struct mail_opts *opts, struct folder **f_r)
{
	static const struct mail_opts defaults;
	struct folder	*f;
	char		 dir[FOLDER_NAME_MAX + 2];
	const char	*plain;
	size_t		 len;
	int		 rootfd = -1, saved;

	*f_r = NULL;
	if (!folder_name_valid(name)) {
		errno = EINVAL;
		return -1;
	}
	plain = plain_name(name);
	if ((f = calloc(1, sizeof(*f))) == NULL)
		return -1;
	f->dirfd = -1;
	index_init(&f->idx, -1, "");
	f->opts = opts != NULL ? *opts : defaults;
	len = strlen(root) + 2 + FOLDER_NAME_MAX + 1;
	if ((f->name = strdup(plain == NULL ? FOLDER_INBOX : plain)) ==
	    NULL || (f->path = malloc(len)) == NULL)
		goto fail;
	if (plain == NULL)
		(void)strlcpy(f->path, root, len);
	else
		(void)snprintf(f->path, len, "%s/.%s", root, plain);
	if ((rootfd = open_root(root)) == -1)
		goto fail;
	if (plain == NULL) {
		f->dirfd = rootfd;
		rootfd = -1;
	} else {
		if (dir_name(plain, dir, sizeof(dir)) == -1)
			goto fail;
		f->dirfd = openat(rootfd, dir, O_RDONLY | O_DIRECTORY |
		    O_NOFOLLOW | O_CLOEXEC);
		if (f->dirfd == -1) {
			if (errno != ENOENT)
				log_warn("%s", f->path);
			goto fail;
		}
		(void)close(rootfd);
		rootfd = -1;
	}
	if (subdirs(f->dirfd, f->path, plain != NULL ? SUB_REPAIR :
	    SUB_CHECK) == -1)
		goto fail;
	index_init(&f->idx, f->dirfd, f->path);
	if (folder_sync(f) == -1)
		goto fail;
	*f_r = f;
	return 0;
fail:
	saved = errno;
	if (rootfd != -1)
		(void)close(rootfd);
	folder_close(&f);
	errno = saved;
	return -1;
}

/* Finds a UID by bisection: mail[] is in UID order. */
ssize_t
folder_find_uid(const struct folder *f, uint32_t uid)
{
	size_t	 lo = 0, hi = f->count, mid;

	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		if (f->mail[mid].uid == uid)
			return (ssize_t)mid;
		if (f->mail[mid].uid < uid)
			lo = mid + 1;
		else
			hi = mid;
	}
	return -1;
}

/* Opens message i. */
int
folder_open_mail(struct folder *f, size_t i)
{
	if (i >= f->count) {
		errno = EINVAL;
		return -1;
	}
	return maildir_open_msg(f->dirfd, f->path, &f->mail[i], NULL);
}

/* Renames m to cur/ with the given flags and keywords, following it if
 * another agent moved it.  The lock is held. */
static int
rename_flags(struct folder *f, struct mail *m, uint32_t flags,
    uint32_t keywords)
{
	char	 info[FLAGS_INFO_MAX], *to;
	int	 tries;

	for (tries = 0; tries < 4; tries++) {
		if (m->flags & MAIL_BADINFO) {
			log_warnx("%s/%s: flags not understood, not changed",
			    f->path, m->name);
			errno = EINVAL;
			return -1;
		}
		(void)flags_format(flags, keywords, info);
		if ((to = maildir_name_join("cur", mail_base(m), m->baselen,
		    info)) == NULL)
			return -1;
		if (strcmp(to, m->name) == 0) {
			free(to);
			return 0;
		}
		if (renameat(f->dirfd, m->name, f->dirfd, to) == 0) {
			log_debug("%s/%s: now %s", f->path, m->name, to);
			mail_rename(m, to);
			maildir_mail_flags(m);
			return 0;
		}
		free(to);
		if (errno != ENOENT ||
		    maildir_relocate(f->dirfd, f->path, m) == -1) {
			if (errno != ENOENT)
				log_warn("%s/%s: flags", f->path, m->name);
			return -1;
		}
	}
	errno = EAGAIN;
	log_warnx("%s/%s: flags not changed, it keeps moving", f->path,
	    m->name);
	return -1;
}

/* Changes the flags and keywords of message i. */
int
folder_set_flags(struct folder *f, size_t i, uint32_t add, uint32_t remove,
    uint32_t kw_add, uint32_t kw_remove)
{
	struct mail	*m;
	int		 rc;

	if (i >= f->count) {
		errno = EINVAL;
		return -1;
	}
	m = &f->mail[i];
	if (folder_lock(f) == -1)
		return -1;
	/* The name may have changed since the listing: the flags to change
	 * are those it has now. */
	if (faccessat(f->dirfd, m->name, F_OK, AT_SYMLINK_NOFOLLOW) == -1 &&
	    maildir_relocate(f->dirfd, f->path, m) == -1) {
		rc = -1;
	} else
		rc = rename_flags(f, m, (m->mflags & ~remove) | add,
		    (m->keywords & ~kw_remove) | kw_add);
	folder_unlock(f);
	return rc;
}

/* The letter of keyword name, perhaps adding it. */
int
folder_keyword(struct folder *f, const char *name, bool create)
{
	bool	 added;
	int	 i, saved;

	if (!keyword_valid(name)) {
		errno = EINVAL;
		return -1;
	}
	if ((i = keywords_find(&f->kw, name)) != -1)
		return i;
	if (!create) {
		/* Another session may have added it since. */
		keywords_free(&f->kw);
		(void)keywords_read(f->dirfd, f->path, &f->kw);
		if ((i = keywords_find(&f->kw, name)) != -1)
			return i;
		errno = ENOENT;
		return -1;
	}
	if (folder_lock(f) == -1)
		return -1;
	/* Another session may have added keywords: read them again. */
	keywords_free(&f->kw);
	(void)keywords_read(f->dirfd, f->path, &f->kw);
	i = keywords_add(&f->kw, name, &added);
	if (i != -1 && added && keywords_write(f->dirfd, f->path, &f->kw) ==
	    -1) {
		saved = errno;
		free(f->kw.name[i]);
		f->kw.name[i] = NULL;
		folder_unlock(f);
		errno = saved;
		return -1;
	}
	saved = errno;
	folder_unlock(f);
	errno = saved;
	return i;
}

/* Takes the messages removed out of the listing. */
static void
drop_gone(struct folder *f)
{
	struct mail_index *idx = &f->idx;
	size_t		 i, j;

	for (i = j = 0; i < idx->count; i++) {
		if (idx->mail[i].flags & MAIL_GONE) {
			mail_name_free(&idx->mail[i]);
			continue;
		}
		idx->mail[j++] = idx->mail[i];
	}
	idx->count = j;
	refresh(f);
}

/* Removes the messages flagged T. */
int
folder_expunge(struct folder *f, size_t *count_r)
{
	struct mail	*m;
	size_t		 i, removed = 0;
	int		 rc = 0;

	if (count_r != NULL)
		*count_r = 0;
	if (folder_lock(f) == -1)
		return -1;
	/* The flags as they are now, set by whichever session. */
	if (relist(f) == -1) {
		folder_unlock(f);
		return -1;
	}
	for (i = 0; i < f->count; i++) {
		m = &f->mail[i];
		if ((m->flags & MAIL_BADINFO) || !(m->mflags & FLAG_TRASHED))
			continue;
		if (unlinkat(f->dirfd, m->name, 0) == -1 && errno != ENOENT) {
			log_warn("%s/%s: expunge", f->path, m->name);
			rc = -1;
			continue;
		}
		log_debug("%s/%s: expunged (UID %u)", f->path, m->name,
		    m->uid);
		m->flags |= MAIL_GONE;
		removed++;
	}
	if (removed > 0 && !f->opts.no_index &&
	    index_commit(&f->idx, &f->opts) == -1)
		rc = -1;
	drop_gone(f);
	folder_unlock(f);
	if (count_r != NULL)
		*count_r = removed;
	return rc;
}

/* Writes the host name for unique names, escaped as deliver.c does. */
static void
host_name(char *out, size_t len)
{
	char		 host[65];
	size_t		 i, n = 0;
	unsigned char	 c;

	if (gethostname(host, sizeof(host)) != 0)
		(void)strlcpy(host, "localhost", sizeof(host));
	host[sizeof(host) - 1] = '\0';
	for (i = 0; host[i] != '\0' && n + 5 < len; i++) {
		c = (unsigned char)host[i];
		if (c < 0x21 || c > 0x7e || c == '/' || c == ':' || c == ',' ||
		    c == '\\')
			n += (size_t)snprintf(out + n, len - n, "\\%03o", c);
		else
			out[n++] = (char)c;
	}
	out[n] = '\0';
}

/* A fresh unique base name for a copy of m: "SECONDS.MusecPpidRrand.HOST"
 * with the sizes. */
static int
copy_name(const struct mail *m, off_t fsize, char *out, size_t len)
{
	struct timeval	 tv;
	char		 host[HOST_BUF];
	int		 n;

	(void)gettimeofday(&tv, NULL);
	host_name(host, sizeof(host));
	n = snprintf(out, len, "%lld.M%ldP%ldR%08x.%s,S=%lld,W=%lld",
	    (long long)tv.tv_sec, (long)tv.tv_usec, (long)getpid(),
	    arc4random(), host, (long long)fsize, (long long)m->size);
	if (n < 0 || (size_t)n >= len) {
		errno = ENAMETOOLONG;
		return -1;
	}
	return 0;
}

/* Delivers the contents of fd into dst through deliver.c; the base name
 * goes to base. */
static int
copy_through(struct folder *dst, int fd, char *base, size_t len)
{
	struct delivery	*d;

	if ((d = deliver_begin_at(dst->dirfd, dst->path, NULL)) == NULL)
		return -1;
	if (deliver_copy(d, fd) == -1) {
		deliver_abort(&d);
		return -1;
	}
	return deliver_commit(&d, base, len, NULL, NULL);
}

/* Maps src's keyword letters of m to dst's, adding names to dst. */
static uint32_t
map_keywords(struct folder *src, const struct mail *m, struct folder *dst)
{
	uint32_t	 out = 0;
	int		 i, j;

	for (i = 0; i < KEYWORDS_MAX; i++) {
		if (!(m->keywords & KEYWORD_BIT(i)))
			continue;
		if (src->kw.name[i] == NULL ||
		    (j = folder_keyword(dst, src->kw.name[i], true)) == -1)
			continue;	/* a letter without a name: dropped */
		out |= KEYWORD_BIT(j);
	}
	return out;
}

/* Moves a just delivered new/base into cur/ with info.  Failures are
 * logged: the message stays, without its flags. */
static void
to_cur(struct folder *f, const char *base, const char *info)
{
	char	 from[NAME_MAX + 8], to[NAME_MAX + 8];
	int	 a, b;

	a = snprintf(from, sizeof(from), "new/%s", base);
	b = snprintf(to, sizeof(to), "cur/%s%s", base, info);
	if (a < 0 || (size_t)a >= sizeof(from) || b < 0 ||
	    (size_t)b >= sizeof(to)) {
		log_warnx("%s/new/%s: name too long for its flags", f->path,
		    base);
		return;
	}
	if (renameat(f->dirfd, from, f->dirfd, to) == -1)
		log_warn("%s/%s: flags not set", f->path, from);
}

/* Puts one copy of src->mail[i] into dst's cur/ with its flags; its base
 * name goes to hint->base (malloc'ed).  The dst lock is held. */
static int
copy_one(struct folder *src, size_t i, struct folder *dst,
    struct index_hint *hint)
{
	struct mail	*m = &src->mail[i];
	struct stat	 st;
	char		 base[NAME_MAX + 1], info[FLAGS_INFO_MAX];
	char		 to[NAME_MAX + 8];
	uint32_t	 kw;
	int		 fd, n, saved;

	if ((fd = folder_open_mail(src, i)) == -1)
		return -1;
	kw = map_keywords(src, m, dst);
	(void)flags_format(m->mflags, kw, info);
	if (fstat(fd, &st) == -1 ||
	    copy_name(m, st.st_size, base, sizeof(base)) == -1)
		goto fail;
	n = snprintf(to, sizeof(to), "cur/%s%s", base, info);
	if (n < 0 || (size_t)n >= sizeof(to)) {
		errno = ENAMETOOLONG;
		goto fail;
	}
	if (linkat(src->dirfd, m->name, dst->dirfd, to, 0) == -1) {
		/* Another file system, or no links here: a real copy. */
		log_debug("%s/%s: not linked (%s), copied", src->path,
		    m->name, strerror(errno));
		if (copy_through(dst, fd, base, sizeof(base)) == -1)
			goto fail;
		to_cur(dst, base, info);
	}
	(void)close(fd);
	if ((hint->base = strdup(base)) == NULL)
		return -1;
	hint->time = m->time;
	return 0;
fail:
	saved = errno;
	log_warn("%s/%s: copy to %s", src->path, m->name, dst->path);
	(void)close(fd);
	errno = saved;
	return -1;
}

/* Frees the hints' names. */
static void
hints_free(struct index_hint *h, size_t n)
{
	size_t	 i;

	for (i = 0; i < n; i++)
		free((char *)h[i].base);
	free(h);
}

/* Lists f again with the hints for the messages just put in, and gives
 * their UIDs to uids_r.  The lock is held. */
static int
relist_hinted(struct folder *f, struct index_hint *h, size_t n,
    uint32_t *uids_r)
{
	size_t	 i;
	int	 rc;

	f->idx.hints = h;
	f->idx.nhints = n;
	rc = relist(f);
	f->idx.hints = NULL;
	f->idx.nhints = 0;
	for (i = 0; uids_r != NULL && i < n; i++)
		uids_r[i] = h[i].uid;
	return rc;
}

/* Copies messages from src into dst. */
int
folder_copy(struct folder *src, const size_t *which, size_t n,
    struct folder *dst, uint32_t *uids_r)
{
	struct index_hint *h;
	size_t		 k, done = 0;
	int		 rc = 0;

	for (k = 0; k < n; k++)
		if (which[k] >= src->count) {
			errno = EINVAL;
			return -1;
		}
	if ((h = calloc(n + 1, sizeof(*h))) == NULL)
		return -1;
	if (folder_lock(dst) == -1) {
		free(h);
		return -1;
	}
	for (k = 0; k < n; k++) {
		if (copy_one(src, which[k], dst, &h[done]) == -1) {
			rc = -1;
			break;
		}
		done++;
	}
	if (relist_hinted(dst, h, done, NULL) == -1)
		rc = -1;
	for (k = 0; uids_r != NULL && k < n; k++)
		uids_r[k] = k < done ? h[k].uid : 0;
	folder_unlock(dst);
	hints_free(h, done);
	return rc;
}

/* Appends the message read from fd. */
int
folder_append(struct folder *f, int fd, uint32_t flags, uint32_t keywords,
    time_t time, uint32_t *uid_r)
{
	struct delivery	*d;
	struct index_hint h;
	char		 base[DELIVER_NAME_MAX], info[FLAGS_INFO_MAX];
	int		 rc;

	if (uid_r != NULL)
		*uid_r = 0;
	if ((d = deliver_begin_at(f->dirfd, f->path, NULL)) == NULL)
		return -1;
	if (deliver_copy(d, fd) == -1) {
		deliver_abort(&d);
		return -1;
	}
	if (folder_lock(f) == -1) {
		deliver_abort(&d);
		return -1;
	}
	if (deliver_commit(&d, base, sizeof(base), NULL, NULL) == -1) {
		folder_unlock(f);
		return -1;
	}
	if (flags != 0 || keywords != 0) {
		(void)flags_format(flags, keywords, info);
		to_cur(f, base, info);
	}
	h.base = base;
	h.time = time;
	h.uid = 0;
	rc = relist_hinted(f, &h, 1, uid_r);
	folder_unlock(f);
	return rc;
}

/* Closes the folder. */
void
folder_close(struct folder **fp)
{
	struct folder	*f;

	if (fp == NULL || (f = *fp) == NULL)
		return;
	index_unlock(&f->idx);
	index_free(&f->idx);
	keywords_free(&f->kw);
	if (f->dirfd != -1)
		(void)close(f->dirfd);
	free(f->name);
	free(f->path);
	free(f);
	*fp = NULL;
}
