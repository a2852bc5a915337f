/*
 * index.c: the per-Maildir index file and the sync that lists a Maildir
 * through it: one readdir per directory, a hash lookup per file, and
 * I/O on a message only the first time it is seen; no readdir at all
 * while the directories' stamp holds.  It must never write the index
 * without the index lock or other than by an atomic rename, never write
 * over an index another process wrote since it was read, never give a
 * UID twice under one UIDVALIDITY, never leave out a file it does not
 * know, and never fail a listing because of the index.
 */
#include <sys/types.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "server/limits.h"
#include "server/log.h"
#include "storage/file.h"
#include "storage/index.h"
#include "storage/lock.h"
#include "storage/maildir.h"
#include "storage/msgid.h"

#define INDEX_MAGIC	"postern-index"
#define INDEX_END	"end\n"
/* An index larger than this is not one of ours (1000000 messages with
 * long names fit). */
#define INDEX_SIZE_MAX	((off_t)512 * 1024 * 1024)
#define AFILE_BUF	65536
#define UID_MAX		UINT32_MAX
/* A header line is shorter than this. */
#define HEADER_MAX	512
/* A directory's stamp is trusted only when its mtime is older than the
 * listing that took it by more than this: a change made in the same
 * tick of the file system's clock as the last one before the listing
 * leaves the mtime as it was. */
#define STAMP_GUARD	1		/* seconds */

/* What reading the index found. */
#define READ_OK		0	/* a whole, valid index */
#define READ_MISSING	1	/* none: a first listing */
#define READ_SALVAGED	2	/* truncated or corrupt after a valid header:
				   the entries before the damage are kept */
#define READ_REBUILD	3	/* unusable: rebuilt with a new UIDVALIDITY */

/* One message the index (or Dovecot's list) knows. */
struct known {
	const char	*base;	/* in the file's buffer, not NUL-ended */
	size_t		 baselen;
	const char	*name;	/* "new/..." or "cur/...", NUL-ended; NULL
				   when the file has base names only */
	size_t		 namelen;
	uint32_t	 uid;
	uint32_t	 gid;
	off_t		 size;	/* -1: unknown (imported without W) */
	time_t		 time;	/* -1: unknown */
	size_t		 match;	/* 1 + the listing's entry, 0 if none */
	uint64_t	 hash;	/* hash_base() of base */
};

/* The index as read, with a hash table over the base names. */
struct table {
	char		*buf;	/* the file */
	struct known	*k;
	size_t		 count;
	size_t		 alloc;
	uint64_t	*slot;	/* SLOT(), 0 empty */
	size_t		 mask;
	uint32_t	 uidvalidity;
	uint32_t	 nextuid;
	int		 version;	/* of the file: 1 or INDEX_VERSION */
	uint64_t	 generation;	/* 0 in version 1 */
	struct index_stamp stamp;	/* zero in version 1 */
	bool		 incomplete;	/* the listing left out a file it
					   found: no stamp for it */
};

struct afile {
	int		 dirfd;
	const char	*path;
	char		 name[NAME_MAX + 1];
	char		 tmp[NAME_MAX + 1];
	int		 fd;
	bool		 failed;
	size_t		 len;
	char		 buf[AFILE_BUF];
};

/* Sets up an empty index. */
void
index_init(struct mail_index *idx, int dirfd, const char *path)
{
	memset(idx, 0, sizeof(*idx));
	idx->dirfd = dirfd;
	idx->path = path;
	idx->lockfd = -1;
}

/* Takes the index lock. */
int
index_lock(struct mail_index *idx)
{
	if (idx->lockfd != -1)
		return 0;
	idx->lockfd = lock_wait(idx->dirfd, INDEX_LOCK_FILE, INDEX_LOCK_WAIT);
	if (idx->lockfd == -1) {
		if (errno == EAGAIN)
			log_warnx("%s/%s: still locked after %d ms, the index "
			    "is not updated", idx->path, INDEX_LOCK_FILE,
			    INDEX_LOCK_WAIT);
		else
			log_warn("%s/%s: the index is not updated", idx->path,
			    INDEX_LOCK_FILE);
		return -1;
	}
	return 0;
}

/* Releases the index lock. */
void
index_unlock(struct mail_index *idx)
{
	if (idx->lockfd != -1) {
		lock_release(idx->lockfd);
		idx->lockfd = -1;
	}
}

/* Frees an array of messages and the names they own (not the arena's). */
static void
mail_free(struct mail *mail, size_t count)
{
	size_t	 i;

	for (i = 0; i < count; i++)
		mail_name_free(&mail[i]);
	free(mail);
}

/* Frees idx's messages. */
void
index_free(struct mail_index *idx)
{
	mail_free(idx->mail, idx->count);
	idx->mail = NULL;
	idx->count = 0;
	arena_free(&idx->names);
}

/* A hash of a base name, eight octets at a time (a multiply-xorshift
 * mix: the table only lives in memory, so byte order does not matter). */
static uint64_t
hash_base(const char *s, size_t len)
{
	uint64_t	 h = 0x9e3779b97f4a7c15ULL ^ len, w;

	for (; len >= 8; s += 8, len -= 8) {
		memcpy(&w, s, 8);
		h = (h ^ w) * 0xff51afd7ed558ccdULL;
		h ^= h >> 32;
	}
	w = 0;
	memcpy(&w, s, len);
	h = (h ^ w) * 0xc4ceb9fe1a85ec53ULL;
	h ^= h >> 29;
	h *= 0xff51afd7ed558ccdULL;
	return h ^ (h >> 32);
}

/* Hash lookups run in batches, each step prefetching what the next one
 * reads: 100000 lookups at three cache misses each would otherwise cost
 * more than the readdir. */
#define BATCH		16
#if defined(__GNUC__) || defined(__clang__)
#define PREFETCH(p)	__builtin_prefetch(p)
#else
#define PREFETCH(p)	((void)(p))
#endif

/* A slot: the hash's high half beside 1 + the entry's index. */
#define SLOT(h, i)	(((h) & 0xffffffff00000000ULL) | ((uint64_t)(i) + 1))
#define SLOT_ENTRY(s)	((size_t)((s) & 0xffffffffULL) - 1)
#define SLOT_HASH(s)	((s) & 0xffffffff00000000ULL)

/* Frees a table. */
static void
table_free(struct table *t)
{
	free(t->buf);
	free(t->k);
	free(t->slot);
	memset(t, 0, sizeof(*t));
}

/* Appends an entry (its uid above every other's), with its file name
 * if known; -1 on ENOMEM. */
static int
table_add(struct table *t, const char *name, const char *base,
    size_t baselen, uint32_t uid, uint32_t gid, off_t size, time_t time)
{
	struct known	*k;
	size_t		 n;

	if (t->count == t->alloc) {
		n = t->alloc == 0 ? 1024 : t->alloc * 2;
		if ((k = reallocarray(t->k, n, sizeof(*k))) == NULL)
			return -1;
		t->k = k;
		t->alloc = n;
	}
	k = &t->k[t->count++];
	k->base = base;
	k->baselen = baselen;
	k->name = name;
	k->namelen = name == NULL ? 0 : strlen(name);
	k->uid = uid;
	k->gid = gid;
	k->size = size;
	k->time = time;
	k->match = 0;
	return 0;
}

/* Builds the hash table over the entries; a base listed twice keeps its
 * first (lowest) UID.  -1 on ENOMEM. */
static int
table_hash(struct table *t)
{
	struct known	*k, *o;
	size_t		 n = 16, i, j;

	while (n < t->count * 2)
		n *= 2;
	free(t->slot);
	if ((t->slot = calloc(n, sizeof(*t->slot))) == NULL)
		return -1;
	t->mask = n - 1;
	for (i = 0; i < t->count; i++)
		t->k[i].hash = hash_base(t->k[i].base, t->k[i].baselen);
	for (i = 0; i < t->count; i++) {
		if (i + BATCH < t->count)
			PREFETCH(&t->slot[t->k[i + BATCH].hash & t->mask]);
		k = &t->k[i];
		for (j = k->hash & t->mask; t->slot[j] != 0;
		    j = (j + 1) & t->mask) {
			if (SLOT_HASH(t->slot[j]) != SLOT_HASH(k->hash))
				continue;
			o = &t->k[SLOT_ENTRY(t->slot[j])];
			if (o->baselen == k->baselen &&
			    memcmp(o->base, k->base, k->baselen) == 0)
				break;
		}
		if (t->slot[j] == 0)
			t->slot[j] = SLOT(k->hash, i);
	}
	return 0;
}

/* The entry of a base name whose hash_base() is h, or NULL. */
static struct known *
table_find(const struct table *t, const char *base, size_t len, uint64_t h)
{
	struct known	*k;
	size_t		 j;

	if (t->slot == NULL)
		return NULL;
	for (j = h & t->mask; t->slot[j] != 0; j = (j + 1) & t->mask) {
		if (SLOT_HASH(t->slot[j]) != SLOT_HASH(h))
			continue;
		k = &t->k[SLOT_ENTRY(t->slot[j])];
		if (k->baselen == len && memcmp(k->base, base, len) == 0)
			return k;
	}
	return NULL;
}

/*
 * Looks up the base names of l[0..n) (at most BATCH) into found[]: the
 * hashes first, prefetching their slots; then the slots, prefetching
 * their entries; then the entries, prefetching their names; then the
 * comparisons, with everything in the cache.
 */
static void
table_find_batch(const struct table *t, const struct mail *l, size_t n,
    struct known **found)
{
	uint64_t	 h[BATCH], s;
	size_t		 i;

	for (i = 0; i < n; i++) {
		h[i] = hash_base(mail_base(&l[i]), l[i].baselen);
		PREFETCH(&t->slot[h[i] & t->mask]);
	}
	for (i = 0; i < n; i++) {
		s = t->slot[h[i] & t->mask];
		if (s != 0 && SLOT_HASH(s) == SLOT_HASH(h[i]))
			PREFETCH(&t->k[SLOT_ENTRY(s)]);
	}
	for (i = 0; i < n; i++) {
		s = t->slot[h[i] & t->mask];
		if (s != 0 && SLOT_HASH(s) == SLOT_HASH(h[i]))
			PREFETCH(t->k[SLOT_ENTRY(s)].base);
	}
	for (i = 0; i < n; i++)
		found[i] = table_find(t, mail_base(&l[i]), l[i].baselen, h[i]);
}

/* Reads the whole of name in dirfd into a NUL-ended buffer, and the
 * file's mtime into *mtime_r if not NULL.  Returns the length, or -1
 * (errno: ENOENT when there is no such file, EFBIG when it is too
 * large). */
static ssize_t
read_file(struct mail_index *idx, const char *name, char **buf_r,
    struct timespec *mtime_r)
{
	struct stat	 st;
	char		*buf;
	size_t		 len = 0;
	ssize_t		 n;
	int		 fd, saved;

	*buf_r = NULL;
	fd = openat(idx->dirfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC |
	    O_NONBLOCK);
	if (fd == -1)
		return -1;
	if (fstat(fd, &st) == -1)
		goto fail;
	if (!S_ISREG(st.st_mode)) {
		errno = EINVAL;
		goto fail;
	}
	if (st.st_size > INDEX_SIZE_MAX) {
		errno = EFBIG;
		goto fail;
	}
	if ((buf = malloc((size_t)st.st_size + 1)) == NULL)
		goto fail;
	while (len < (size_t)st.st_size) {
		n = read(fd, buf + len, (size_t)st.st_size - len);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1) {
			saved = errno;
			free(buf);
			errno = saved;
			goto fail;
		}
		if (n == 0)
			break;		/* shrank: the parse finds it short */
		len += (size_t)n;
	}
	buf[len] = '\0';
	if (mtime_r != NULL)
		*mtime_r = st.st_mtim;
	(void)close(fd);
	*buf_r = buf;
	return (ssize_t)len;
fail:
	saved = errno;
	(void)close(fd);
	errno = saved;
	return -1;
}

/* Parses decimal digits at *pp and advances past them.  -1 when there
 * are none or they exceed max.  (A loop of its own: strtoull's locale and
 * sign handling cost more than the rest of a line.) */
static int
number(char **pp, unsigned long long max, unsigned long long *v_r)
{
	unsigned long long v = 0;
	char		*p = *pp;

	if (*p < '0' || *p > '9')
		return -1;
	for (; *p >= '0' && *p <= '9'; p++) {
		if (v > (max - (unsigned)(*p - '0')) / 10)
			return -1;
		v = v * 10 + (unsigned)(*p - '0');
	}
	*v_r = v;
	*pp = p;
	return 0;
}

/* Parses a decimal field ending in a space at *pp; advances past the
 * space.  -1 when there is none or it exceeds max. */
static int
field(char **pp, unsigned long long max, unsigned long long *v_r)
{
	char	*p = *pp;

	if (number(&p, max, v_r) == -1 || *p != ' ')
		return -1;
	*pp = p + 1;
	return 0;
}

/* Parses a time "SECONDS.NANOSECONDS" (nine digits) at *pp followed by
 * end; advances past end.  -1 when it is not one. */
static int
time_field(char **pp, struct timespec *ts, char end)
{
	unsigned long long sec, nsec;
	char		*p = *pp, *n;

	/* Seconds up to a bound that leaves room for sums. */
	if (number(&p, (unsigned long long)INT64_MAX / 4, &sec) == -1 ||
	    *p++ != '.')
		return -1;
	n = p;
	if (number(&p, 999999999, &nsec) == -1 || p - n != 9 || *p != end)
		return -1;
	ts->tv_sec = (time_t)sec;
	ts->tv_nsec = (long)nsec;
	*pp = *p == '\0' ? p : p + 1;
	return 0;
}

/* Whether base (len octets) can be a message's base name. */
static bool
base_valid(const char *base, size_t len)
{
	return len > 0 && base[0] != '.' && strcspn(base, ":/") == len;
}

/* The length of the base name in name (NUL-ended, len octets) when
 * name can be the file name of a message: "new/" or "cur/", a base
 * name, and perhaps ':' and an information part, with no slash and no
 * NUL.  0 when it cannot. */
static size_t
name_base(const char *name, size_t len)
{
	const char	*base = name + 4;
	size_t		 n;

	if (len < 5 || (memcmp(name, "new/", 4) != 0 &&
	    memcmp(name, "cur/", 4) != 0) || base[0] == '.')
		return 0;
	n = strcspn(base, ":/");
	if (n == 0 || base[n] == '/')
		return 0;
	if (base[n] == '\0')
		return n == len - 4 ? n : 0;
	if (memchr(base + n, '/', len - 4 - n) != NULL ||
	    strlen(base + n) != len - 4 - n)
		return 0;
	return n;
}

/* Parses one entry line (NUL-ended at end) into t: "UID GID SIZE TIME"
 * and the file name (version 1: the base name).  -1 when it is not one,
 * or does not follow the last entry's UID; -2 on ENOMEM. */
static int
parse_entry(struct table *t, char *line, const char *end)
{
	unsigned long long uid, gid, size, tm;
	char		*p = line, *name = NULL;
	size_t		 len;

	if (field(&p, UID_MAX, &uid) == -1 || uid == 0 ||
	    uid >= t->nextuid ||
	    (t->count > 0 && uid <= t->k[t->count - 1].uid) ||
	    field(&p, MSGID_MAX, &gid) == -1 ||
	    field(&p, (unsigned long long)MAIL_SIZE_MAX, &size) == -1 ||
	    field(&p, (unsigned long long)INT64_MAX, &tm) == -1)
		return -1;
	len = (size_t)(end - p);
	if (t->version != 1) {
		if ((len = name_base(p, len)) == 0)
			return -1;
		name = p;
		p += 4;
	} else if (!base_valid(p, len))
		return -1;
	if (table_add(t, name, p, len, (uint32_t)uid, (uint32_t)gid,
	    (off_t)size, (time_t)tm) == -1)
		return -2;
	return 0;
}

/* Parses the stamp of a header at *pp: "INO MTIME" for new/ and for
 * cur/, the last ending the line.  0 or -1. */
static int
parse_stamp(char **pp, struct index_stamp *st)
{
	unsigned long long ino;
	size_t		 d;

	for (d = 0; d < 2; d++) {
		if (field(pp, ULLONG_MAX, &ino) == -1 ||
		    time_field(pp, &st->dir[d].mtime, d == 0 ? ' ' : '\0') ==
		    -1)
			return -1;
		st->dir[d].ino = (ino_t)ino;
	}
	return 0;
}

/* Parses the header line: "postern-index VERSION UIDVALIDITY NEXTUID
 * COUNT", and in version 2 " GENERATION SCAN" and the stamp.  Returns
 * the count, or -1 for a foreign or broken header. */
static long long
parse_header(struct table *t, char *line)
{
	unsigned long long v, uidv, next, count, gen = 0;
	char		*p;

	if (strncmp(line, INDEX_MAGIC " ", sizeof(INDEX_MAGIC)) != 0)
		return -1;
	p = line + sizeof(INDEX_MAGIC);
	if (field(&p, 1000, &v) == -1 || (v != 1 && v != INDEX_VERSION) ||
	    field(&p, UID_MAX, &uidv) == -1 || uidv == 0 ||
	    field(&p, (unsigned long long)UID_MAX + 1, &next) == -1 ||
	    next == 0 || number(&p, UID_MAX, &count) == -1)
		return -1;
	memset(&t->stamp, 0, sizeof(t->stamp));
	if (v == INDEX_VERSION && (*p++ != ' ' ||
	    field(&p, UINT64_MAX, &gen) == -1 || gen == 0 ||
	    time_field(&p, &t->stamp.scan, ' ') == -1 ||
	    parse_stamp(&p, &t->stamp) == -1))
		return -1;
	if (*p != '\0')
		return -1;
	t->version = (int)v;
	t->generation = gen;
	t->uidvalidity = (uint32_t)uidv;
	t->nextuid = next > UID_MAX ? UID_MAX : (uint32_t)next;
	return (long long)count;
}

/* Parses an index file's text into t.  READ_OK, READ_SALVAGED (header
 * valid, damage after it) or READ_REBUILD; -1 on ENOMEM. */
static int
parse_index(struct mail_index *idx, struct table *t, char *buf, size_t len)
{
	char		*line, *nl, *end = buf + len;
	long long	 count;
	size_t		 lineno = 1;
	int		 r;

	if ((nl = memchr(buf, '\n', len)) == NULL) {
		log_warnx("%s/%s: no header, rebuilt", idx->path, INDEX_FILE);
		return READ_REBUILD;
	}
	*nl = '\0';
	if ((count = parse_header(t, buf)) < 0) {
		log_warnx("%s/%s: not a version 1 or %d index, rebuilt with a "
		    "new UIDVALIDITY", idx->path, INDEX_FILE, INDEX_VERSION);
		return READ_REBUILD;
	}
	if ((size_t)count > len / 10 + 1)
		count = (long long)(len / 10) + 1;	/* a bound only */
	if (count > 0 && (t->k = reallocarray(NULL, (size_t)count,
	    sizeof(*t->k))) == NULL)
		return -1;
	t->alloc = (size_t)count;
	for (line = nl + 1; line < end; line = nl + 1) {
		lineno++;
		if ((nl = memchr(line, '\n', end - line)) == NULL)
			break;
		*nl = '\0';
		if (strcmp(line, "end") == 0) {
			if (nl + 1 != end || t->count != (size_t)count)
				break;
			return READ_OK;
		}
		if ((r = parse_entry(t, line, nl)) == -2)
			return -1;
		if (r == -1) {
			log_warnx("%s/%s:%zu: corrupt; the %zu entries before "
			    "it are kept, the rest rebuilt", idx->path,
			    INDEX_FILE, lineno, t->count);
			return READ_SALVAGED;
		}
	}
	log_warnx("%s/%s: truncated after %zu entries; the rest is rebuilt",
	    idx->path, INDEX_FILE, t->count);
	return READ_SALVAGED;
}

/* Parses Dovecot's uidlist header: version 3's "3 V<uidvalidity>
 * N<nextuid> ..." (fields in any order) or version 1's "1 <uidvalidity>
 * <nextuid>".  0, or -1 when it is neither. */
static int
uidlist_header(struct table *t, char *line, int *version_r)
{
	unsigned long long v;
	char		*p, *word, *end;

	t->uidvalidity = t->nextuid = 0;
	if (line[0] == '1' && line[1] == ' ') {
		*version_r = 1;
		p = line + 2;
		if (field(&p, UID_MAX, &v) == -1)
			return -1;
		t->uidvalidity = (uint32_t)v;
		v = strtoull(p, &end, 10);
		if (end == p || *end != '\0' || v > UID_MAX)
			return -1;
		t->nextuid = (uint32_t)v;
	} else if (line[0] == '3' && line[1] == ' ') {
		*version_r = 3;
		for (p = line + 2; (word = strsep(&p, " ")) != NULL;) {
			if (word[0] != 'V' && word[0] != 'N')
				continue;
			v = strtoull(word + 1, &end, 10);
			if (end == word + 1 || *end != '\0' || v > UID_MAX)
				return -1;
			if (word[0] == 'V')
				t->uidvalidity = (uint32_t)v;
			else
				t->nextuid = (uint32_t)v;
		}
	} else
		return -1;
	return t->uidvalidity != 0 && t->nextuid != 0 ? 0 : -1;
}

/* Reads Dovecot's uidlist of a Maildir Postern has no index of yet, so
 * that UIDs, UIDVALIDITY (and the POP3 UIDLs made of them) stay.
 * Returns 1 when imported, 0 when there is none or it is unusable. */
static int
import_dovecot(struct mail_index *idx, struct table *t)
{
	unsigned long long uid, v;
	char		*buf, *line, *nl, *p, *word, *name, *end;
	ssize_t		 len;
	uint32_t	 last = 0;
	off_t		 size;
	int		 version;

	if ((len = read_file(idx, UIDLIST_DOVECOT, &buf, NULL)) == -1) {
		if (errno != ENOENT)
			log_warn("%s/%s", idx->path, UIDLIST_DOVECOT);
		return 0;
	}
	end = buf + len;
	if ((nl = memchr(buf, '\n', len)) == NULL)
		goto bad;
	*nl = '\0';
	if (uidlist_header(t, buf, &version) == -1)
		goto bad;
	for (line = nl + 1; line < end; line = nl + 1) {
		if ((nl = memchr(line, '\n', end - line)) == NULL)
			nl = end;
		*nl = '\0';
		if (*line == '\0')
			continue;
		p = line;
		if (field(&p, UID_MAX, &uid) == -1 || uid == 0 ||
		    uid <= last || uid >= t->nextuid)
			goto bad;
		size = -1;
		if (version == 3) {
			/* " W<vsize> ... :<file name>" */
			if ((name = strstr(p - 1, " :")) == NULL)
				goto bad;
			*name = '\0';
			name += 2;
			while ((word = strsep(&p, " ")) != NULL)
				if (word[0] == 'W') {
					v = strtoull(word + 1, &word, 10);
					if (*word == '\0' &&
					    v <= (unsigned long long)INT64_MAX)
						size = (off_t)v;
				}
		} else
			name = p;
		if (!base_valid(name, strcspn(name, ":")) ||
		    table_add(t, NULL, name, strcspn(name, ":"),
		    (uint32_t)uid, MSGID_NONE, size, -1) == -1)
			goto bad;
		last = (uint32_t)uid;
	}
	t->buf = buf;
	log_info("%s: %zu UIDs and UIDVALIDITY %u taken from %s", idx->path,
	    t->count, t->uidvalidity, UIDLIST_DOVECOT);
	return 1;
bad:
	log_warnx("%s/%s: not understood, not used", idx->path,
	    UIDLIST_DOVECOT);
	free(buf);
	free(t->k);
	t->k = NULL;
	t->count = t->alloc = 0;
	return 0;
}

/* A UIDVALIDITY for a new index: the time, and larger than old. */
static uint32_t
new_uidvalidity(uint32_t old)
{
	uint32_t	 v = (uint32_t)time(NULL);

	if (v <= old)
		v = old + 1;
	return v == 0 ? 1 : v;
}

/* Reads the index of idx into t.  READ_* or -1 (ENOMEM). */
static int
read_index(struct mail_index *idx, struct table *t)
{
	struct stat	 st;
	struct timespec	 mtime = { 0, 0 };
	ssize_t		 len;
	int		 r;

	memset(t, 0, sizeof(*t));
	idx->generation = 0;
	len = read_file(idx, INDEX_FILE, &t->buf, &mtime);
	if (len == -1 && errno == ENOENT) {
		if (import_dovecot(idx, t) == 1)
			return READ_SALVAGED;	/* to be written */
		t->uidvalidity = new_uidvalidity(0);
		t->nextuid = 1;
		return READ_MISSING;
	}
	if (len == -1) {
		log_warn("%s/%s: rebuilt", idx->path, INDEX_FILE);
		r = READ_REBUILD;
		if (fstatat(idx->dirfd, INDEX_FILE, &st,
		    AT_SYMLINK_NOFOLLOW) == 0)
			mtime = st.st_mtim;
	} else if ((r = parse_index(idx, t, t->buf, (size_t)len)) == -1)
		return -1;
	if (r == READ_REBUILD) {
		free(t->k);
		t->k = NULL;
		t->count = t->alloc = 0;
		t->generation = 0;
		memset(&t->stamp, 0, sizeof(t->stamp));
		/* The lost UIDVALIDITY was the time the index was made,
		 * before it was last written: one past that is new. */
		t->uidvalidity = new_uidvalidity(mtime.tv_sec > 0 &&
		    mtime.tv_sec < UID_MAX ? (uint32_t)mtime.tv_sec : 0);
		t->nextuid = 1;
	} else if (r == READ_OK && t->version == 1)
		log_info("%s/%s: version 1, rewritten as version %d",
		    idx->path, INDEX_FILE, INDEX_VERSION);
	idx->generation = t->generation;
	return r;
}

/* Starts writing name atomically. */
struct afile *
afile_begin(int dirfd, const char *path, const char *name)
{
	struct afile	*af;
	int		 n;

	if ((af = malloc(sizeof(*af))) == NULL) {
		log_warn("%s/%s", path, name);
		return NULL;
	}
	af->dirfd = dirfd;
	af->path = path;
	af->failed = false;
	af->len = 0;
	n = snprintf(af->tmp, sizeof(af->tmp), "%s.tmp", name);
	if (n < 0 || (size_t)n >= sizeof(af->tmp) ||
	    strlcpy(af->name, name, sizeof(af->name)) >= sizeof(af->name)) {
		errno = ENAMETOOLONG;
		log_warn("%s/%s", path, name);
		free(af);
		return NULL;
	}
	/* A crash may have left one: only the lock holder writes it. */
	if (unlinkat(dirfd, af->tmp, 0) == -1 && errno != ENOENT) {
		log_warn("%s/%s", path, af->tmp);
		free(af);
		return NULL;
	}
	af->fd = openat(dirfd, af->tmp, O_WRONLY | O_CREAT | O_EXCL |
	    O_NOFOLLOW | O_CLOEXEC, 0600);
	if (af->fd == -1) {
		log_warn("%s/%s", path, af->tmp);
		free(af);
		return NULL;
	}
	return af;
}

/* Writes out the buffer. */
static int
afile_flush(struct afile *af)
{
	if (!af->failed &&
	    file_write_all(af->fd, af->buf, af->len, NULL) == -1) {
		log_warn("%s/%s: write", af->path, af->tmp);
		af->failed = true;
	}
	af->len = 0;
	return af->failed ? -1 : 0;
}

/* Buffers len bytes. */
int
afile_write(struct afile *af, const void *buf, size_t len)
{
	const char	*p = buf;
	size_t		 n;

	while (len > 0) {
		if (af->len == sizeof(af->buf) && afile_flush(af) == -1)
			return -1;
		n = sizeof(af->buf) - af->len;
		if (n > len)
			n = len;
		memcpy(af->buf + af->len, p, n);
		af->len += n;
		p += n;
		len -= n;
	}
	return af->failed ? -1 : 0;
}

/* Puts the file in place. */
int
afile_commit(struct afile **afp)
{
	struct afile	*af = *afp;

	if (afile_flush(af) == -1)
		goto fail;
	if (fsync(af->fd) == -1) {
		log_warn("%s/%s: fsync", af->path, af->tmp);
		goto fail;
	}
	if (close(af->fd) == -1) {
		af->fd = -1;
		log_warn("%s/%s: close", af->path, af->tmp);
		goto fail;
	}
	af->fd = -1;
	if (renameat(af->dirfd, af->tmp, af->dirfd, af->name) == -1) {
		log_warn("%s/%s: rename", af->path, af->tmp);
		goto fail;
	}
	/* The rename itself must last, or a UID could be given twice. */
	if (fsync(af->dirfd) == -1)
		log_warn("%s: fsync", af->path);
	free(af);
	*afp = NULL;
	return 0;
fail:
	afile_abort(afp);
	return -1;
}

/* Removes the temporary file. */
void
afile_abort(struct afile **afp)
{
	struct afile	*af = *afp;

	if (af == NULL)
		return;
	if (af->fd != -1)
		(void)close(af->fd);
	(void)unlinkat(af->dirfd, af->tmp, 0);
	free(af);
	*afp = NULL;
}

/* Writes v in decimal at p; returns the end. */
static char *
put_num(char *p, unsigned long long v)
{
	char	 tmp[24];
	size_t	 n = 0;

	do
		tmp[n++] = (char)('0' + v % 10);
	while ((v /= 10) != 0);
	while (n > 0)
		*p++ = tmp[--n];
	return p;
}

/* Writes a time as "SECONDS.NANOSECONDS" (nine digits) at p; returns
 * the end.  A time before the epoch is written as 0. */
static char *
put_time(char *p, const struct timespec *ts)
{
	long	 ns = ts->tv_sec < 0 ? 0 : ts->tv_nsec, div;

	p = put_num(p, (unsigned long long)(ts->tv_sec < 0 ? 0 :
	    ts->tv_sec));
	*p++ = '.';
	for (div = 100000000; div > 0; div /= 10)
		*p++ = (char)('0' + ns / div % 10);
	return p;
}

/* The generation the next write of idx gets: one more than the file's,
 * or where that is unknown a random one, which no file before can have
 * had (a count from 1 could repeat one that a session read before the
 * file was lost, rebuilt or written by version 1). */
static uint64_t
next_generation(const struct mail_index *idx)
{
	uint64_t	 g;

	if (idx->generation != 0 && idx->generation < UINT64_MAX)
		return idx->generation + 1;
	do
		g = ((uint64_t)arc4random() << 31) ^ arc4random();
	while (g == 0);
	return g;
}

/* Writes the header line of idx at line: the version, UIDVALIDITY, next
 * UID, count, generation, and the stamp.  Returns the end. */
static char *
put_header(char *line, size_t len, const struct mail_index *idx,
    size_t count, uint64_t generation)
{
	char	*p;
	size_t	 d;

	p = line + snprintf(line, len, "%s %d ", INDEX_MAGIC, INDEX_VERSION);
	p = put_num(p, idx->uidvalidity);
	*p++ = ' ';
	p = put_num(p, idx->nextuid);
	*p++ = ' ';
	p = put_num(p, count);
	*p++ = ' ';
	p = put_num(p, generation);
	*p++ = ' ';
	p = put_time(p, &idx->stamp.scan);
	for (d = 0; d < 2; d++) {
		*p++ = ' ';
		p = put_num(p, (unsigned long long)idx->stamp.dir[d].ino);
		*p++ = ' ';
		p = put_time(p, &idx->stamp.dir[d].mtime);
	}
	*p++ = '\n';
	return p;
}

/* Writes the messages of idx, less those gone, as the index, under the
 * next generation. */
static int
write_index(struct mail_index *idx)
{
	struct afile	*af;
	const struct mail *m;
	char		 line[128 + NAME_MAX];
	char		*p;
	size_t		 i, live = 0, len;
	uint64_t	 generation = next_generation(idx);

	for (i = 0; i < idx->count; i++)
		if (!(idx->mail[i].flags & MAIL_GONE))
			live++;
	if ((af = afile_begin(idx->dirfd, idx->path, INDEX_FILE)) == NULL)
		return -1;
	p = put_header(line, sizeof(line), idx, live, generation);
	(void)afile_write(af, line, (size_t)(p - line));
	for (i = 0; i < idx->count; i++) {
		m = &idx->mail[i];
		if (m->flags & MAIL_GONE)
			continue;
		if ((len = strlen(m->name)) > NAME_MAX + 4) {
			afile_abort(&af);
			errno = ENAMETOOLONG;
			log_warn("%s/%s", idx->path, m->name);
			return -1;
		}
		p = put_num(line, m->uid);
		*p++ = ' ';
		p = put_num(p, m->gid);
		*p++ = ' ';
		p = put_num(p, (unsigned long long)m->size);
		*p++ = ' ';
		p = put_num(p, (unsigned long long)(m->time < 0 ? 0 :
		    m->time));
		*p++ = ' ';
		memcpy(p, m->name, len);
		p += len;
		*p++ = '\n';
		if (afile_write(af, line, (size_t)(p - line)) == -1)
			break;
	}
	(void)afile_write(af, INDEX_END, sizeof(INDEX_END) - 1);
	if (afile_commit(&af) == -1)
		return -1;
	idx->generation = generation;
	return 0;
}

/* Matches the listing against the table: each listed file's entry, and
 * a file listed in both new/ and cur/ once, from cur/.  Files unknown to
 * the table keep uid 0. */
static void
match_listing(struct mail_index *idx, struct table *t, struct mail *l,
    size_t n)
{
	struct known	*found[BATCH], *k;
	struct mail	*prev;
	size_t		 i, b, m;

	if (t->count == 0)
		return;
	for (b = 0; b < n; b += BATCH) {
		m = n - b < BATCH ? n - b : BATCH;
		table_find_batch(t, l + b, m, found);
		for (i = b; i < b + m; i++) {
			if ((k = found[i - b]) == NULL)
				continue;
			if (k->match != 0) {
				/* Seen twice: it moved while the
				 * directories were read.  cur/ wins. */
				prev = &l[k->match - 1];
				log_debug("%s: %s listed twice as %s",
				    idx->path, prev->name, l[i].name);
				if (strncmp(prev->name, "new/", 4) == 0) {
					prev->flags |= MAIL_GONE;
					prev->uid = 0;
					k->match = i + 1;
					l[i].uid = k->uid;
				} else
					l[i].flags |= MAIL_GONE;
				continue;
			}
			k->match = i + 1;
			l[i].uid = k->uid;
		}
	}
}

/* Reads new/ and cur/ once more for the entries no file matched: a
 * file renamed while the directories were read can be missed.  New
 * files found now are left for the next listing. */
static int
rescan_missing(struct mail_index *idx, struct table *t, struct mail **l,
    size_t *n, size_t *alloc)
{
	struct mail	*l2 = NULL;
	struct known	*k;
	size_t		 n2 = 0, a2 = 0, i;
	int		 rc = 0;

	if (maildir_scan(idx->dirfd, idx->path, &idx->names, &l2, &n2,
	    &a2) == -1)
		return -1;
	for (i = 0; i < n2; i++) {
		k = table_find(t, mail_base(&l2[i]), l2[i].baselen,
		    hash_base(mail_base(&l2[i]), l2[i].baselen));
		if (k == NULL || k->match != 0)
			continue;
		if (*n == *alloc) {
			struct mail *nl = reallocarray(*l, *alloc * 2 + 16,
			    sizeof(**l));
			if (nl == NULL) {
				rc = -1;
				break;
			}
			*l = nl;
			*alloc = *alloc * 2 + 16;
		}
		log_debug("%s: %s found on a second look", idx->path,
		    l2[i].name);
		(*l)[*n] = l2[i];
		(*l)[*n].uid = k->uid;
		l2[i].name = NULL;
		k->match = ++*n;
	}
	mail_free(l2, n2);
	return rc;
}

/* Whether messages of idx have no global ID and opts says where to take
 * them from. */
static bool
gids_to_give(const struct mail_index *idx, const struct mail_opts *opts)
{
	size_t	 i;

	if (opts->msgid == NULL && opts->state_dir == NULL)
		return false;
	for (i = 0; i < idx->count; i++)
		if (idx->mail[i].gid == MSGID_NONE)
			return true;
	return false;
}

/* Gives global IDs to the messages of idx that have none, in UID order.
 * Returns whether any were given. */
static bool
assign_gids(struct mail_index *idx, const struct mail_opts *opts)
{
	struct msgid	*own = NULL, *m = opts->msgid;
	uint32_t	 first, need = 0;
	size_t		 i;

	for (i = 0; i < idx->count; i++)
		if (idx->mail[i].gid == MSGID_NONE)
			need++;
	idx->ids_saved = need == 0;
	if (need == 0)
		return false;
	if (m == NULL && opts->state_dir == NULL)
		return false;
	if (m == NULL && (m = own = msgid_open(opts->state_dir)) == NULL)
		return false;
	if (msgid_alloc(m, need, &first) == -1) {
		msgid_close(&own);
		return false;
	}
	msgid_close(&own);
	for (i = 0; i < idx->count; i++)
		if (idx->mail[i].gid == MSGID_NONE)
			idx->mail[i].gid = first++;
	idx->ids_saved = true;
	return true;
}

/* Renumbers every message from 1 under a new UIDVALIDITY: the UIDs ran
 * out. */
static void
renumber(struct mail_index *idx)
{
	size_t	 i;

	log_warnx("%s: UIDs exhausted, renumbered under a new UIDVALIDITY",
	    idx->path);
	idx->uidvalidity = new_uidvalidity(idx->uidvalidity);
	for (i = 0; i < idx->count; i++)
		idx->mail[i].uid = (uint32_t)i + 1;
	idx->nextuid = (uint32_t)idx->count + 1;
}

/* Takes the known files out of the listing into out, in UID order, with
 * what the table says of them.  Returns how many; *dropped_r counts the
 * entries whose file is gone. */
static size_t
take_known(struct mail_index *idx, struct table *t, struct mail *l,
    struct mail *out, size_t *dropped_r)
{
	struct known	*k;
	struct mail	*m;
	size_t		 i, j = 0;

	*dropped_r = 0;
	for (i = 0; i < t->count; i++) {
		/* The listing is in readdir order, the table in UID order. */
		if (i + BATCH < t->count && t->k[i + BATCH].match != 0)
			PREFETCH(&l[t->k[i + BATCH].match - 1]);
		k = &t->k[i];
		if (k->match == 0) {
			log_debug("%s: %.*s is gone", idx->path,
			    (int)k->baselen, k->base);
			(*dropped_r)++;
			continue;
		}
		m = &out[j];
		*m = l[k->match - 1];
		l[k->match - 1].name = NULL;
		m->uid = k->uid;
		m->gid = k->gid;
		m->size = k->size;
		m->time = k->time;
		/* The file was checked when first seen: no stat now. */
		m->flags &= ~MAIL_UNCHECKED;
		if ((k->size < 0 || k->time < 0) && maildir_mail_stat(
		    idx->dirfd, idx->path, m, k->size >= 0) == -1) {
			mail_name_free(m);
			(*dropped_r)++;
			t->incomplete = true;
			continue;
		}
		j++;
	}
	return j;
}

/* Delivery order, as maildir_mail_cmp(), with the times the names start
 * with read once beforehand: the same order, in a third of the time. */
static int
new_cmp(const void *a, const void *b)
{
	const struct mail	*ma = a, *mb = b;
	size_t			 n;
	int			 r;

	if (ma->time < 0 || mb->time < 0)
		return maildir_mail_cmp(a, b);
	if (ma->time != mb->time)
		return ma->time < mb->time ? -1 : 1;
	n = ma->baselen < mb->baselen ? ma->baselen : mb->baselen;
	if ((r = memcmp(mail_base(ma), mail_base(mb), n)) != 0)
		return r;
	if (ma->baselen != mb->baselen)
		return ma->baselen < mb->baselen ? -1 : 1;
	return 0;
}

/* Sorts the new files of out[first..n) into delivery order, drops a
 * second listing of one, and reads their sizes and times; a file left
 * out marks t incomplete.  Returns the new count of out. */
static size_t
take_new(struct mail_index *idx, struct table *t, struct mail *out,
    size_t first, size_t n)
{
	struct mail	*m;
	size_t		 i, j;

	for (i = first; i < n; i++)
		out[i].time = maildir_name_time(mail_base(&out[i]),
		    out[i].baselen);
	if (n - first > 1)
		qsort(out + first, n - first, sizeof(*out), new_cmp);
	for (i = j = first; i < n; i++) {
		m = &out[i];
		if (j > first && out[j - 1].baselen == m->baselen &&
		    memcmp(mail_base(&out[j - 1]), mail_base(m),
		    m->baselen) == 0) {
			/* Moved while listed: the cur/ name wins. */
			log_debug("%s: %s listed twice as %s", idx->path,
			    out[j - 1].name, m->name);
			if (strncmp(out[j - 1].name, "new/", 4) == 0) {
				mail_name_free(&out[j - 1]);
				j--;
			} else {
				mail_name_free(m);
				continue;
			}
		}
		out[j++] = *m;
	}
	for (i = n = first; i < j; i++) {
		m = &out[i];
		m->uid = 0;
		m->gid = MSGID_NONE;
		if (maildir_mail_stat(idx->dirfd, idx->path, m, false) == -1) {
			mail_name_free(m);
			t->incomplete = true;
			continue;
		}
		m->flags &= ~MAIL_UNCHECKED;
		out[n++] = *m;
	}
	return n;
}

/* Gives a new message the time the caller chose and tells it its UID. */
static void
apply_hints(struct mail_index *idx, struct mail *m)
{
	struct index_hint *h;
	size_t		 i;

	for (i = 0; i < idx->nhints; i++) {
		h = &idx->hints[i];
		if (strlen(h->base) != m->baselen ||
		    memcmp(h->base, mail_base(m), m->baselen) != 0)
			continue;
		if (h->time >= 0)
			m->time = h->time;
		h->uid = m->uid;
		return;
	}
}

/* Builds idx's listing from the table and the files listed: the known
 * ones in UID order, then the new ones in delivery order with new UIDs.
 * Returns whether the index must be written, or -1 on ENOMEM. */
static int
build_listing(struct mail_index *idx, struct table *t, struct mail *l,
    size_t n, bool use_index)
{
	struct mail	*out;
	size_t		 i, j, first, dropped;

	if ((out = reallocarray(NULL, n + 1, sizeof(*out))) == NULL)
		return -1;
	first = take_known(idx, t, l, out, &dropped);
	for (i = 0, j = first; i < n; i++) {
		if (l[i].name == NULL || l[i].uid != 0 ||
		    (l[i].flags & MAIL_GONE))
			continue;	/* taken, or a known file's double */
		out[j++] = l[i];
		l[i].name = NULL;
	}
	j = take_new(idx, t, out, first, j);
	idx->mail = out;
	idx->count = j;
	idx->uidvalidity = t->uidvalidity;
	idx->nextuid = t->nextuid;
	if (!use_index)
		return 0;
	if ((uint64_t)idx->nextuid + (j - first) > UID_MAX) {
		renumber(idx);
		for (i = first; i < j; i++)
			apply_hints(idx, &out[i]);
		return 1;
	}
	for (i = first; i < j; i++) {
		out[i].uid = idx->nextuid++;
		apply_hints(idx, &out[i]);
	}
	if (j > first)
		log_debug("%s: %zu new, %zu gone", idx->path, j - first,
		    dropped);
	return j > first || dropped > 0;
}

/* Whether a + secs is before b. */
static bool
time_before(const struct timespec *a, time_t secs, const struct timespec *b)
{
	if (a->tv_sec + secs != b->tv_sec)
		return a->tv_sec + secs < b->tv_sec;
	return a->tv_nsec < b->tv_nsec;
}

/* Takes the stamp a listing begun now has: the time, then the inode and
 * mtime of new/ and cur/.  Where one cannot be had, no stamp (zero). */
static void
stamp_take(const struct mail_index *idx, struct index_stamp *st)
{
	static const char *const sub[2] = { "new", "cur" };
	struct stat	 sb;
	size_t		 d;

	memset(st, 0, sizeof(*st));
	if (clock_gettime(CLOCK_REALTIME, &st->scan) == -1 ||
	    st->scan.tv_sec <= 0)
		goto none;
	for (d = 0; d < 2; d++) {
		if (fstatat(idx->dirfd, sub[d], &sb, AT_SYMLINK_NOFOLLOW) ==
		    -1 || !S_ISDIR(sb.st_mode) || sb.st_mtim.tv_sec < 0)
			goto none;
		st->dir[d].ino = sb.st_ino;
		st->dir[d].mtime = sb.st_mtim;
	}
	return;
none:
	memset(st, 0, sizeof(*st));
}

/* Whether a stamp can be trusted at all: taken, and both directories'
 * mtimes more than STAMP_GUARD before its listing began, so that a
 * change after that cannot leave the same mtime. */
static bool
stamp_settled(const struct index_stamp *st)
{
	size_t	 d;

	if (st->scan.tv_sec == 0)
		return false;
	for (d = 0; d < 2; d++)
		if (!time_before(&st->dir[d].mtime, STAMP_GUARD, &st->scan))
			return false;
	return true;
}

/* Whether the index's stamp old still holds now: settled, the clock not
 * gone back since, and new/ and cur/ the same inodes with the same
 * mtimes.  Any doubt is a no. */
static bool
stamp_holds(const struct index_stamp *old, const struct index_stamp *now)
{
	const struct index_dir *a, *b;
	size_t		 d;

	if (!stamp_settled(old) || now->scan.tv_sec == 0 ||
	    time_before(&now->scan, 0, &old->scan))
		return false;
	for (d = 0; d < 2; d++) {
		a = &old->dir[d];
		b = &now->dir[d];
		if (a->ino != b->ino || a->mtime.tv_sec != b->mtime.tv_sec ||
		    a->mtime.tv_nsec != b->mtime.tv_nsec)
			return false;
	}
	return true;
}

/* Lists idx as the table says, without reading new/ or cur/: the index
 * is the listing while its stamp holds.  -1 on ENOMEM. */
static int
list_known(struct mail_index *idx, const struct table *t)
{
	const struct known *k;
	struct mail	*out, *m;
	size_t		 i;

	if ((out = reallocarray(NULL, t->count + 1, sizeof(*out))) == NULL)
		return -1;
	for (i = 0; i < t->count; i++) {
		k = &t->k[i];
		m = &out[i];
		memset(m, 0, sizeof(*m));
		if ((m->name = arena_strndup(&idx->names, k->name,
		    k->namelen)) == NULL) {
			free(out);
			return -1;
		}
		m->baselen = k->baselen;
		m->uid = k->uid;
		m->gid = k->gid;
		m->size = k->size;
		m->time = k->time;
		maildir_mail_flags(m);
	}
	idx->mail = out;
	idx->count = t->count;
	idx->uidvalidity = t->uidvalidity;
	idx->nextuid = t->nextuid;
	return 0;
}

/* Lists the Maildir by reading new/ and cur/, begun under the stamp now.
 * Returns whether the index must be written, or -1 (logged). */
static int
list_scanned(struct mail_index *idx, struct table *t,
    const struct index_stamp *now, bool use_index)
{
	struct mail	*l = NULL;
	size_t		 n = 0, alloc = 0, i, missing = 0;
	int		 write;

	if (table_hash(t) == -1)
		goto nomem;
	if (maildir_scan(idx->dirfd, idx->path, &idx->names, &l, &n,
	    &alloc) == -1)
		goto fail;
	match_listing(idx, t, l, n);
	for (i = 0; i < t->count; i++)
		if (t->k[i].match == 0)
			missing++;
	if (missing > 0 && rescan_missing(idx, t, &l, &n, &alloc) == -1)
		goto nomem;
	if ((write = build_listing(idx, t, l, n, use_index)) == -1)
		goto nomem;
	mail_free(l, n);
	/* The stamp says the index lists every file there was. */
	if (!t->incomplete)
		idx->stamp = *now;
	/* One the next listing can trust is worth a write. */
	if (stamp_settled(&idx->stamp) && !stamp_holds(&t->stamp,
	    &idx->stamp))
		write = 1;
	return write;
nomem:
	log_warn("%s: listing", idx->path);
fail:
	mail_free(l, n);
	return -1;
}

static uint64_t	file_generation(const struct mail_index *);

/* Lists the Maildir into idx through its index; read_dirs reads new/
 * and cur/ whatever the stamp says; lazy takes the index lock (if not
 * held) only once the index is found to need a write.  0 or -1
 * (logged). */
static int
sync_index(struct mail_index *idx, const struct mail_opts *opts,
    bool read_dirs, bool lazy)
{
	struct table	 t;
	struct index_stamp now;
	bool		 use_index = !opts->no_index, fresh;
	int		 r = READ_MISSING, write = 0;

	index_free(idx);
	idx->saved = idx->ids_saved = false;
	memset(&idx->stamp, 0, sizeof(idx->stamp));
	memset(&t, 0, sizeof(t));
	memset(&now, 0, sizeof(now));
	if (use_index && (r = read_index(idx, &t)) == -1) {
		log_warn("%s: listing", idx->path);
		goto fail;
	}
	if (!use_index)
		t.uidvalidity = t.nextuid = 0;
	else if (r == READ_MISSING)
		log_info("%s: no %s yet, building it", idx->path, INDEX_FILE);
	if (use_index)
		stamp_take(idx, &now);
	/* Hints name files just put in: those are listed from the disk. */
	fresh = !read_dirs && r == READ_OK && t.version == INDEX_VERSION &&
	    idx->nhints == 0 && stamp_holds(&t.stamp, &now);
	lazy = lazy && use_index && idx->lockfd == -1;
	if (lazy && !fresh) {
		/* The directories are read and the index written: under
		 * the lock, from the index as it is once the lock is held
		 * (else, unlocked, the listing is not written). */
		lazy = false;
		if (index_lock(idx) == 0 &&
		    file_generation(idx) != idx->generation) {
			table_free(&t);
			return sync_index(idx, opts, read_dirs, false);
		}
		stamp_take(idx, &now);
	}
	if (fresh) {
		log_debug("%s: new/ and cur/ unchanged, listed from %s",
		    idx->path, INDEX_FILE);
		if (list_known(idx, &t) == -1) {
			log_warn("%s: listing", idx->path);
			goto fail;
		}
		idx->stamp = t.stamp;
	} else if ((write = list_scanned(idx, &t, &now, use_index)) == -1)
		goto fail;
	if (use_index && (r != READ_OK || t.version != INDEX_VERSION))
		write = 1;
	table_free(&t);
	if (!use_index)
		return 0;
	if (lazy && gids_to_give(idx, opts) && index_lock(idx) == 0)
		/* IDs to take: once, locked, for the listing then saved. */
		return sync_index(idx, opts, read_dirs, false);
	if (assign_gids(idx, opts))
		write = 1;
	if (!write) {
		idx->saved = true;
		return 0;
	}
	if (lazy && index_lock(idx) == 0)	/* IDs to save: again, locked */
		return sync_index(idx, opts, read_dirs, false);
	/* Without the lock: listed, but new UIDs and IDs may not last. */
	if (idx->lockfd != -1 && write_index(idx) == 0)
		idx->saved = true;
	else
		idx->ids_saved = false;
	return 0;
fail:
	table_free(&t);
	index_free(idx);
	return -1;
}

/* Lists the Maildir into idx through its index. */
int
index_sync(struct mail_index *idx, const struct mail_opts *opts)
{
	return sync_index(idx, opts, false, false);
}

int
index_sync_lazy(struct mail_index *idx, const struct mail_opts *opts)
{
	return sync_index(idx, opts, false, true);
}

/* Whether the listing lacks the lasting IDs opts asks for. */
bool
index_lacks(const struct mail_index *idx, const struct mail_opts *opts)
{
	if (opts->need_uids && (opts->no_index || !idx->saved)) {
		log_warnx("%s: UIDs could not be saved, and they are needed",
		    idx->path);
		return true;
	}
	if (opts->need_gids && (opts->no_index || !idx->ids_saved)) {
		log_warnx("%s: some messages have no global ID, and it is "
		    "needed", idx->path);
		return true;
	}
	return false;
}

/* The generation in the header of the index file as it is now: 0 when
 * there is none, it cannot be read, or it is not version 2's. */
static uint64_t
file_generation(const struct mail_index *idx)
{
	struct table	 t;
	char		 buf[HEADER_MAX], *nl;
	ssize_t		 n;
	int		 fd;

	fd = openat(idx->dirfd, INDEX_FILE, O_RDONLY | O_NOFOLLOW |
	    O_CLOEXEC | O_NONBLOCK);
	if (fd == -1)
		return 0;
	n = read(fd, buf, sizeof(buf) - 1);
	(void)close(fd);
	if (n <= 0)
		return 0;
	buf[n] = '\0';
	if ((nl = memchr(buf, '\n', (size_t)n)) == NULL)
		return 0;
	*nl = '\0';
	memset(&t, 0, sizeof(t));
	if (parse_header(&t, buf) < 0)
		return 0;
	return t.generation;
}

/* Writes idx less the messages gone, or syncs afresh when the index file
 * is no longer the generation idx read or wrote. */
int
index_commit(struct mail_index *idx, const struct mail_opts *opts)
{
	struct mail_index fresh;
	int		 rc;

	if (idx->lockfd == -1) {
		errno = ENOLCK;
		return -1;
	}
	if (idx->generation != 0 && file_generation(idx) == idx->generation)
		return write_index(idx);
	/* Someone else's listing is newer than ours: list afresh from the
	 * directories, which drops what is gone and keeps what they
	 * added. */
	log_debug("%s/%s: not the generation read, listed afresh", idx->path,
	    INDEX_FILE);
	index_init(&fresh, idx->dirfd, idx->path);
	fresh.lockfd = idx->lockfd;
	rc = sync_index(&fresh, opts, true, false);
	fresh.lockfd = -1;
	index_free(&fresh);
	return rc;
}
