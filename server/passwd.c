/*
 * passwd.c: the passwd-file (Dovecot's layout): parses its lines and
 * finds a user in it, from a copy of the file kept in memory and checked
 * against stat(2) at every lookup, so that a login costs a binary search
 * and not a read of the whole file.  It never checks passwords, and
 * every buffer that held a hash is wiped before it is freed.
 */
#include <sys/types.h>
#include <sys/mman.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "server/auth.h"
#include "server/log.h"
#include "server/passwd.h"

/* Longest line read; longer lines are malformed and skipped. */
#define PASSWD_LINE_MAX	4096

/* Largest uid or gid accepted: 2^31 - 1. */
#define PASSWD_ID_MAX	2147483647L

/* Reads of a file that grows or shrinks meanwhile before it is scanned
 * instead. */
#define PASSWD_READ_TRIES 3

_Static_assert(PASSWD_COPY_MAX < UINT32_MAX, "offsets of 32 bits");

/* A line of the copy that may be an entry: neither blank nor a comment.
 * Its text is NUL-terminated in place, line end stripped. */
struct passwd_ent {
	uint32_t	 off;		/* where it starts in the text */
	uint32_t	 len;		/* its length */
	uint32_t	 ulen;		/* its user field's: up to ':' or NUL */
	uint32_t	 lineno;	/* from 1, for the log */
};

/*
 * The cache, the one piece of process state in this file: a copy of one
 * passwd-file with its lines sorted by user, so that a lookup is a
 * binary search.  It is checked against stat(2) at every lookup and read
 * again when the path, or the file's device, inode, size, modification
 * or status change time differ from what fstat(2) said of the
 * descriptor it was read from.  It holds password hashes: it is wiped
 * with explicit_bzero before it is unmapped or replaced, kept out of
 * core dumps, and reads as zeros in any child forked since
 * (MADV_WIPEONFORK), so that a session forked from the auth process
 * holds no hash (it unmaps the zeros at its first lookup).  Only a
 * process that called passwd_keep() fills it: the auth process (root,
 * never reads client bytes), which looks up every login.  The others
 * that look users up (without privilege separation, the workers, many
 * and each with few lookups; LMTP's workers and PAPM's sessions, for
 * recipients; `postern deliver`) read the file each time, rather than
 * each hold a copy.  A process that gives up the privileges it read the
 * file with calls passwd_forget() first, which also ends the keeping.
 * Postern's processes have one thread.
 */
static struct {
	char			*path;	/* of the copy; NULL: none */
	dev_t			 dev;	/* what fstat said when it was read */
	ino_t			 ino;
	off_t			 size;
	struct timespec		 mtim;
	struct timespec		 ctim;
	int			 racy;	/* read too soon after a change */
	int			 keep;	/* passwd_keep() called: copies made */
	int			 nocopy; /* no zeroing on fork: none kept */
	char			*map;	/* a flag octet (1; 0 in a child
					   forked since), then the text */
	size_t			 maplen;
	struct passwd_ent	*ent;	/* the entries sorted by user */
	size_t			 entlen;	/* octets mapped for them */
	size_t			 nent;
} pwc;

/* Fields of a line, in order. */
enum {
	F_USER,
	F_PASSWORD,
	F_UID,
	F_GID,
	F_GECOS,
	F_HOME,
	F_COUNT			/* shell and extra fields are ignored */
};

/* Whether line holds nothing but spaces, or is a comment. */
static int
passwd_skippable(const char *line)
{
	line += strspn(line, " \t");
	return *line == '\0' || *line == '#';
}

/* Parses a uid or gid field: "" is -1, else decimal digits only. */
static int
passwd_parse_id(const char *s, size_t len, long *id)
{
	long	 v = 0;
	size_t	 i;

	if (len == 0) {
		*id = -1;
		return 0;
	}
	for (i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (s[i] - '0');
		if (v > PASSWD_ID_MAX)
			return -1;
	}
	*id = v;
	return 0;
}

/* Copies a field of len octets into dst of size dstlen, if it fits. */
static int
passwd_copy(char *dst, size_t dstlen, const char *s, size_t len)
{
	if (len >= dstlen)
		return -1;
	memcpy(dst, s, len);
	dst[len] = '\0';
	return 0;
}

/* Splits line at ':' into up to F_COUNT fields; returns how many. */
static int
passwd_split(const char *line, const char *field[F_COUNT],
    size_t len[F_COUNT])
{
	const char	*p = line, *colon;
	int		 n;

	for (n = 0; n < F_COUNT; n++) {
		field[n] = p;
		if ((colon = strchr(p, ':')) == NULL) {
			len[n] = strlen(p);
			return n + 1;
		}
		len[n] = colon - p;
		p = colon + 1;
	}
	return n;
}

/* Parses one passwd-file line into *e: 1 entry, 0 skip, -1 malformed. */
int
passwd_parse_line(const char *line, struct passwd_entry *e,
    const char **why_r)
{
	const char	*field[F_COUNT];
	size_t		 len[F_COUNT];
	int		 n, i;

	*why_r = NULL;
	if (passwd_skippable(line))
		return 0;
	memset(e, 0, sizeof(*e));
	e->uid = e->gid = -1;

	n = passwd_split(line, field, len);
	for (i = n; i < F_COUNT; i++) {
		field[i] = "";
		len[i] = 0;
	}
	if (n < 2) {
		*why_r = "no password field";
		return -1;
	}
	if (len[F_USER] > USER_MAX ||
	    passwd_copy(e->user, sizeof(e->user), field[F_USER],
	    len[F_USER]) == -1 || !auth_valid_user(e->user)) {
		*why_r = "invalid user name";
		goto bad;
	}
	if (passwd_copy(e->hash, sizeof(e->hash), field[F_PASSWORD],
	    len[F_PASSWORD]) == -1) {
		*why_r = "password hash too long";
		goto bad;
	}
	if (passwd_parse_id(field[F_UID], len[F_UID], &e->uid) == -1) {
		*why_r = "invalid uid";
		goto bad;
	}
	if (passwd_parse_id(field[F_GID], len[F_GID], &e->gid) == -1) {
		*why_r = "invalid gid";
		goto bad;
	}
	if (passwd_copy(e->home, sizeof(e->home), field[F_HOME],
	    len[F_HOME]) == -1) {
		*why_r = "home too long";
		goto bad;
	}
	if (e->home[0] != '\0' && e->home[0] != '/') {
		*why_r = "home is not an absolute path";
		goto bad;
	}
	return 1;
bad:
	explicit_bzero(e, sizeof(*e));
	return -1;
}

/* Opens path for reading, refusing anything but a file; *st is what
 * fstat says of it.  The descriptor, or -1 (logged). */
static int
passwd_open_fd(const char *path, struct stat *st)
{
	int	 fd, saved;

	/* No O_NOFOLLOW: the path comes from the admin's configuration,
	 * and a symlink to the real file is a legitimate choice. */
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1) {
		log_warn("%s", path);
		return -1;
	}
	if (fstat(fd, st) == -1) {
		saved = errno;
		log_warn("%s: fstat", path);
		close(fd);
		errno = saved;
		return -1;
	}
	if (!S_ISREG(st->st_mode)) {
		close(fd);
		errno = EINVAL;
		log_warnx("%s: not a regular file", path);
		return -1;
	}
	return fd;
}

/* Opens path for reading as a stream, refusing anything but a file. */
static FILE *
passwd_open(const char *path)
{
	struct stat	 st;
	FILE		*fp;
	int		 fd;

	if ((fd = passwd_open_fd(path, &st)) == -1)
		return NULL;
	if ((fp = fdopen(fd, "r")) == NULL) {
		log_warn("%s: fdopen", path);
		close(fd);
		return NULL;
	}
	return fp;
}

/* Strips the line ending (LF or CRLF) of a line getline read. */
static void
passwd_chomp(char *line, ssize_t *len)
{
	if (*len > 0 && line[*len - 1] == '\n')
		line[--*len] = '\0';
	if (*len > 0 && line[*len - 1] == '\r')
		line[--*len] = '\0';
}

/* passwd_owned: whether a line (its first len octets) is user's, its
 * first field being user; NULL user: every line is. */
static int
passwd_owned(const char *line, size_t len, const char *user)
{
	size_t	 ulen;

	if (user == NULL)
		return 1;
	ulen = strlen(user);
	return len >= ulen && memcmp(line, user, ulen) == 0 &&
	    (len == ulen || line[ulen] == ':' || line[ulen] == '\0');
}

/*
 * passwd_scan: reads the file at path for user's entry (NULL: checks
 * every line), logging each malformed line it owns.  Returns 1 and fills
 * *e when found, 0 when not, -1 when unreadable; *bad_r counts the
 * malformed lines logged.  Lines of other users are not parsed, so that
 * one bad entry is not logged at every login of every user below it.
 * passwd_check's reader, and passwd_lookup's for a file it keeps no copy
 * of; passwd_find gives the same results and logs from the copy.
 */
static int
passwd_scan(const char *path, const char *user, struct passwd_entry *e,
    unsigned long *bad_r)
{
	struct passwd_entry	 cur;
	FILE			*fp;
	char			 iobuf[8192];
	char			*line;
	size_t			 cap = PASSWD_LINE_MAX + 2;
	unsigned long		 lineno = 0;
	ssize_t			 len;
	const char		*why;
	int			 found = 0, saved = 0;

	*bad_r = 0;
	/* Sized so that getline never moves a valid line: a realloc would
	 * free the old buffer, hashes and all, without wiping it. */
	if ((line = malloc(cap)) == NULL) {
		log_warn("%s: malloc", path);
		return -1;
	}
	if ((fp = passwd_open(path)) == NULL) {
		free(line);
		return -1;
	}
	/* Our own stdio buffer, so that it can be wiped too. */
	setvbuf(fp, iobuf, _IOFBF, sizeof(iobuf));
	while ((len = getline(&line, &cap, fp)) != -1) {
		lineno++;
		passwd_chomp(line, &len);
		if (!passwd_owned(line, (size_t)len, user))
			continue;
		why = NULL;
		if (len > PASSWD_LINE_MAX)
			why = "line too long";
		else if (strlen(line) != (size_t)len)
			why = "NUL in line";
		else if (passwd_parse_line(line, &cur, &why) == 1 &&
		    user != NULL && strcmp(cur.user, user) == 0) {
			*e = cur;
			found = 1;
			break;
		}
		if (why != NULL) {
			log_warnx("%s:%lu: %s", path, lineno, why);
			++*bad_r;
		}
	}
	if (!found && ferror(fp)) {
		saved = errno;
		log_warn("%s: read", path);
		found = -1;
	}
	explicit_bzero(&cur, sizeof(cur));
	explicit_bzero(line, cap);
	free(line);
	fclose(fp);
	explicit_bzero(iobuf, sizeof(iobuf));
	if (found == -1)
		errno = saved;
	return found;
}

/* Maps len octets for the copy: zeroed in children forked since, and
 * kept out of core dumps.  NULL when it cannot (logged; *nocopy_r set
 * when the system cannot zero them on fork). */
static void *
passwd_map(const char *path, size_t len, int *nocopy_r)
{
	void	*p;
	int	 r;

	*nocopy_r = 0;
	p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
	    -1, 0);
	if (p == MAP_FAILED) {
		log_warn("%s: mmap", path);
		return NULL;
	}
#if defined(MADV_WIPEONFORK)
	r = madvise(p, len, MADV_WIPEONFORK);
#elif defined(MAP_INHERIT_ZERO)
	r = minherit(p, len, MAP_INHERIT_ZERO);		/* OpenBSD */
#elif defined(INHERIT_ZERO)
	r = minherit(p, len, INHERIT_ZERO);		/* FreeBSD */
#else
	r = -1;
	errno = ENOSYS;
#endif
	if (r == -1) {
		log_warn("%s: no copy kept in memory: read at every lookup",
		    path);
		munmap(p, len);
		*nocopy_r = 1;
		return NULL;
	}
#ifdef MADV_DONTDUMP
	(void)madvise(p, len, MADV_DONTDUMP);
#endif
	return p;
}

/* passwd_drop: wipes and frees the copy of the passwd-file, if any. */
static void
passwd_drop(void)
{
	int	 saved = errno, live;

	/* In a child forked since, the pages are zeros already. */
	live = pwc.map != NULL && pwc.map[0] != 0;
	if (pwc.ent != NULL) {
		if (live)
			explicit_bzero(pwc.ent, pwc.entlen);
		munmap(pwc.ent, pwc.entlen);
	}
	if (pwc.map != NULL) {
		if (live)
			explicit_bzero(pwc.map, pwc.maplen);
		munmap(pwc.map, pwc.maplen);
	}
	free(pwc.path);
	pwc.path = NULL;
	pwc.map = NULL;
	pwc.ent = NULL;
	pwc.maplen = pwc.entlen = pwc.nent = 0;
	errno = saved;
}

void
passwd_keep(void)
{
	pwc.keep = 1;
}

void
passwd_forget(void)
{
	passwd_drop();
	pwc.keep = 0;
}

/* Reads fd to its end or until len octets: how many, or -1. */
static ssize_t
passwd_read(int fd, char *buf, size_t len)
{
	size_t	 got = 0;
	ssize_t	 n;

	while (got < len) {
		if ((n = read(fd, buf + got, len - got)) == -1) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		if (n == 0)
			break;
		got += (size_t)n;
	}
	return (ssize_t)got;
}

/* The next line of the text of size octets from *pos: its start and its
 * length without its line end (LF or CRLF, as passwd_chomp strips);
 * *pos moves past it.  0 at the end of the text. */
static int
passwd_next(const char *text, size_t size, size_t *pos, size_t *start,
    size_t *len)
{
	const char	*nl;
	size_t		 end;

	if (*pos >= size)
		return 0;
	*start = *pos;
	if ((nl = memchr(text + *pos, '\n', size - *pos)) != NULL) {
		end = (size_t)(nl - text);
		*pos = end + 1;
	} else
		end = *pos = size;
	if (end > *start && text[end - 1] == '\r')
		end--;
	*len = end - *start;
	return 1;
}

/* Whether a line may be an entry: passwd_scan skips it silently when
 * not (blank or a comment, within the length, without a NUL). */
static int
passwd_indexed(const char *line, size_t len)
{
	size_t	 i;

	if (len > PASSWD_LINE_MAX || memchr(line, '\0', len) != NULL)
		return 1;
	for (i = 0; i < len && (line[i] == ' ' || line[i] == '\t'); i++)
		;
	return i < len && line[i] != '#';
}

/* Compares the user field of entry p of the copy with the name of ulen
 * octets at user, as memcmp does. */
static int
passwd_keycmp(const struct passwd_ent *p, const char *user, size_t ulen)
{
	int	 r;

	r = memcmp(pwc.map + 1 + p->off, user, p->ulen < ulen ? p->ulen :
	    ulen);
	if (r != 0)
		return r;
	return (p->ulen > ulen) - (p->ulen < ulen);
}

/* qsort's order of the entries of the copy: by user field, then as in
 * the file. */
static int
passwd_entcmp(const void *va, const void *vb)
{
	const struct passwd_ent	*a = va, *b = vb;
	int			 r;

	if ((r = passwd_keycmp(a, pwc.map + 1 + b->off, b->ulen)) != 0)
		return r;
	return (a->off > b->off) - (a->off < b->off);
}

/* Indexes the text of the copy, size octets: each line NUL-terminated in
 * place, and those that may be entries listed and sorted.  0, or -1
 * when the index cannot be mapped (logged). */
static int
passwd_index(const char *path, size_t size)
{
	struct passwd_ent	*p;
	char			*text = pwc.map + 1;
	size_t			 pos = 0, start, len, n = 0, i = 0;
	uint32_t		 lineno = 0;
	int			 nocopy;

	while (passwd_next(text, size, &pos, &start, &len))
		if (passwd_indexed(text + start, len))
			n++;
	if (n > 0) {
		if ((pwc.ent = passwd_map(path, n * sizeof(*pwc.ent),
		    &nocopy)) == NULL) {
			pwc.nocopy = nocopy;
			return -1;
		}
		pwc.entlen = n * sizeof(*pwc.ent);
	}
	/* The same lines again (i < n holds for each: they were counted). */
	pos = 0;
	while (passwd_next(text, size, &pos, &start, &len)) {
		lineno++;
		text[start + len] = '\0';	/* the LF or CR, or past the end */
		if (i == n || !passwd_indexed(text + start, len))
			continue;
		p = &pwc.ent[i++];
		p->off = (uint32_t)start;
		p->len = (uint32_t)len;
		p->ulen = (uint32_t)strcspn(text + start, ":");
		p->lineno = lineno;
	}
	pwc.nent = i;
	if (i > 1)
		qsort(pwc.ent, i, sizeof(*pwc.ent), passwd_entcmp);
	return 0;
}

/*
 * Reads the file at path into the cache, in place of what it held.
 * Returns 1 when it holds the file, 0 when no copy was kept (too large,
 * changing as it was read, no memory; the caller scans the file), -1
 * when it cannot be read (logged, errno set).
 */
static int
passwd_load(const char *path)
{
	struct timespec	 now;
	struct stat	 st;
	ssize_t		 got;
	size_t		 len;
	int		 fd, try, saved, nocopy;

	passwd_drop();
	if (pwc.nocopy)
		return 0;
	/* Before the fstat: a change after it gets a later status change
	 * time than the copy's, unless both fall within PASSWD_RACY_SEC. */
	clock_gettime(CLOCK_REALTIME, &now);
	for (try = 0; try < PASSWD_READ_TRIES; try++) {
		if ((fd = passwd_open_fd(path, &st)) == -1)
			return -1;
		if (st.st_size > PASSWD_COPY_MAX) {
			close(fd);
			return 0;
		}
		/* The flag, the text, and an octet to see it grow. */
		len = (size_t)st.st_size + 2;
		if ((pwc.map = passwd_map(path, len, &nocopy)) == NULL) {
			pwc.nocopy = nocopy;
			close(fd);
			return 0;
		}
		pwc.maplen = len;
		pwc.map[0] = 1;
		got = passwd_read(fd, pwc.map + 1, len - 1);
		saved = errno;
		close(fd);
		if (got == -1) {
			log_warn("%s: read", path);
			passwd_drop();
			errno = saved;
			return -1;
		}
		if (got == st.st_size)
			break;
		passwd_drop();
	}
	if (try == PASSWD_READ_TRIES)
		return 0;
	pwc.map[1 + st.st_size] = '\0';
	if (passwd_index(path, (size_t)st.st_size) == -1) {
		passwd_drop();
		return 0;
	}
	if ((pwc.path = strdup(path)) == NULL) {
		log_warn("%s: strdup", path);
		passwd_drop();
		return 0;
	}
	pwc.dev = st.st_dev;
	pwc.ino = st.st_ino;
	pwc.size = st.st_size;
	pwc.mtim = st.st_mtim;
	pwc.ctim = st.st_ctim;
	now.tv_sec -= PASSWD_RACY_SEC;
	pwc.racy = st.st_ctim.tv_sec > now.tv_sec ||
	    (st.st_ctim.tv_sec == now.tv_sec &&
	    st.st_ctim.tv_nsec >= now.tv_nsec);
	return 1;
}

/* Whether the cache holds the file at path as stat says it is now. */
static int
passwd_fresh(const char *path, const struct stat *st)
{
	return pwc.path != NULL && pwc.map[0] != 0 && !pwc.racy &&
	    strcmp(pwc.path, path) == 0 &&
	    st->st_dev == pwc.dev && st->st_ino == pwc.ino &&
	    st->st_size == pwc.size &&
	    st->st_mtim.tv_sec == pwc.mtim.tv_sec &&
	    st->st_mtim.tv_nsec == pwc.mtim.tv_nsec &&
	    st->st_ctim.tv_sec == pwc.ctim.tv_sec &&
	    st->st_ctim.tv_nsec == pwc.ctim.tv_nsec;
}

/*
 * passwd_find: user's entry in the cache, as passwd_scan finds it in the
 * file: a binary search for the first line whose user field is user,
 * then the lines of that user in file order, each malformed one logged
 * with its line number, until a valid one.  1 found, 0 not.  A name with
 * ':' is no line's user field: passwd_scan would log the malformed lines
 * it prefixes, but find none either.
 */
static int
passwd_find(const char *path, const char *user, struct passwd_entry *e)
{
	struct passwd_entry	 cur;
	const struct passwd_ent	*p;
	const char		*line, *why;
	size_t			 lo = 0, hi = pwc.nent, mid, ulen;
	int			 found = 0;

	ulen = strlen(user);
	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		if (passwd_keycmp(&pwc.ent[mid], user, ulen) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	for (; lo < pwc.nent && passwd_keycmp(&pwc.ent[lo], user, ulen) == 0;
	    lo++) {
		p = &pwc.ent[lo];
		line = pwc.map + 1 + p->off;
		why = NULL;
		if (p->len > PASSWD_LINE_MAX)
			why = "line too long";
		else if (strlen(line) != p->len)
			why = "NUL in line";
		else if (passwd_parse_line(line, &cur, &why) == 1 &&
		    strcmp(cur.user, user) == 0) {
			*e = cur;
			found = 1;
			break;
		}
		if (why != NULL)
			log_warnx("%s:%lu: %s", path, (unsigned long)p->lineno,
			    why);
	}
	explicit_bzero(&cur, sizeof(cur));
	return found;
}

/* Finds user in the passwd-file at path: 1 found, 0 not, -1 unreadable.
 * From the cache, read again first when stat says the file changed. */
int
passwd_lookup(const char *path, const char *user, struct passwd_entry *e)
{
	struct stat	 st;
	unsigned long	 bad;
	int		 saved;

	if (!pwc.keep)
		return passwd_scan(path, user, e, &bad);
	if (stat(path, &st) == -1) {
		saved = errno;
		log_warn("%s", path);
		passwd_drop();
		errno = saved;
		return -1;
	}
	if (!passwd_fresh(path, &st)) {
		switch (passwd_load(path)) {
		case -1:
			return -1;
		case 0:
			return passwd_scan(path, user, e, &bad);
		default:
			break;
		}
	}
	return passwd_find(path, user, e);
}

/* Checks every line of the passwd-file at path: the malformed lines, -1
 * when unreadable. */
long
passwd_check(const char *path)
{
	struct passwd_entry	 e;
	unsigned long		 bad;

	if (passwd_scan(path, NULL, &e, &bad) == -1)
		return -1;
	return (long)bad;
}
