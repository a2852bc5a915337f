/*
 * passwd.c: reads the passwd-file (Dovecot's layout) one line at a time
 * and finds a user in it.  It never checks passwords and never keeps a
 * hash in memory longer than a lookup: buffers that held one are wiped.
 */
#include <sys/types.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "server/auth.h"
#include "server/log.h"
#include "server/passwd.h"

/* Longest line read; longer lines are malformed and skipped. */
#define PASSWD_LINE_MAX	4096

/* Largest uid or gid accepted: 2^31 - 1. */
#define PASSWD_ID_MAX	2147483647L

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

/* Opens path for reading as a stream, refusing anything but a file. */
static FILE *
passwd_open(const char *path)
{
	struct stat	 st;
	FILE		*fp;
	int		 fd;

	/* No O_NOFOLLOW: the path comes from the admin's configuration,
	 * and a symlink to the real file is a legitimate choice. */
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1) {
		log_warn("%s", path);
		return NULL;
	}
	if (fstat(fd, &st) == -1) {
		log_warn("%s: fstat", path);
		close(fd);
		return NULL;
	}
	if (!S_ISREG(st.st_mode)) {
		close(fd);
		errno = EINVAL;
		log_warnx("%s: not a regular file", path);
		return NULL;
	}
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
 * a lookup costs a comparison a line and one bad entry is not logged at
 * every login of every user below it.
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

/* Finds user in the passwd-file at path: 1 found, 0 not, -1 unreadable. */
int
passwd_lookup(const char *path, const char *user, struct passwd_entry *e)
{
	unsigned long	 bad;

	return passwd_scan(path, user, e, &bad);
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
