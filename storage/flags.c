/*
 * flags.c: the flag letters of a Maildir file name's information part
 * and the keywords file that names the small letters.  It must never
 * touch a message, never write the keywords file but by an atomic
 * rename (under the caller's index lock), and never write Dovecot's file.
 */
#include <sys/types.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "server/log.h"
#include "storage/flags.h"
#include "storage/index.h"

/* A keywords file larger than this is not a keywords file. */
#define KEYWORDS_FILE_MAX	(KEYWORDS_MAX * (KEYWORD_LEN_MAX + 8))

/* Parses an information part into flag and keyword bits. */
int
flags_parse(const char *info, uint32_t *flags_r, uint32_t *keywords_r)
{
	uint32_t	 flags = 0, kw = 0;
	const char	*p;

	*flags_r = *keywords_r = 0;
	if (*info == '\0')
		return 0;
	if (strncmp(info, ":2,", 3) != 0)
		return -1;
	for (p = info + 3; *p != '\0'; p++) {
		if (*p >= 'A' && *p <= 'Z')
			flags |= FLAG_BIT(*p);
		else if (*p >= 'a' && *p <= 'z')
			kw |= KEYWORD_BIT(*p - 'a');
		else
			return -1;
	}
	*flags_r = flags;
	*keywords_r = kw;
	return 0;
}

/* Writes ":2," and the letters in ASCII order. */
size_t
flags_format(uint32_t flags, uint32_t keywords, char *out)
{
	size_t	 n = 0;
	int	 i;

	out[n++] = ':';
	out[n++] = '2';
	out[n++] = ',';
	for (i = 0; i < 26; i++)
		if (flags & ((uint32_t)1 << i))
			out[n++] = (char)('A' + i);
	for (i = 0; i < KEYWORDS_MAX; i++)
		if (keywords & KEYWORD_BIT(i))
			out[n++] = (char)('a' + i);
	out[n] = '\0';
	return n;
}

/* Whether s may be a keyword. */
bool
keyword_valid(const char *s)
{
	size_t	 i;

	if (s[0] == '\0' || s[0] == '\\')
		return false;
	for (i = 0; s[i] != '\0'; i++) {
		if (i >= KEYWORD_LEN_MAX)
			return false;
		if (s[i] <= 0x20 || s[i] >= 0x7f ||
		    strchr("(){%*\"\\]", s[i]) != NULL)
			return false;
	}
	return true;
}

/* Reads the whole of a small file name in dirfd into buf (NUL-ended).
 * Returns the length, or -1 (errno; ENOENT when it does not exist). */
static ssize_t
read_small(int dirfd, const char *name, char *buf, size_t bufsz)
{
	ssize_t	 n;
	size_t	 len = 0;
	int	 fd, saved;

	fd = openat(dirfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC |
	    O_NONBLOCK);
	if (fd == -1)
		return -1;
	for (;;) {
		n = read(fd, buf + len, bufsz - 1 - len);
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		len += (size_t)n;
		if (len == bufsz - 1) {
			n = -1;
			errno = EFBIG;
			break;
		}
	}
	saved = errno;
	(void)close(fd);
	if (n == -1) {
		errno = saved;
		return -1;
	}
	buf[len] = '\0';
	return (ssize_t)len;
}

/* Takes one "N name" line into kw; false when it is not one. */
static bool
keywords_line(struct keywords *kw, char *line)
{
	char		*end;
	unsigned long	 i;

	if (line[0] < '0' || line[0] > '9')
		return false;
	i = strtoul(line, &end, 10);
	if (*end != ' ' || i >= KEYWORDS_MAX || kw->name[i] != NULL ||
	    !keyword_valid(end + 1) || keywords_find(kw, end + 1) != -1)
		return false;
	if ((kw->name[i] = strdup(end + 1)) == NULL)
		return false;
	return true;
}

/* Reads the keywords file of dirfd. */
int
keywords_read(int dirfd, const char *path, struct keywords *kw)
{
	char		*buf, *line, *nl;
	const char	*name = KEYWORDS_FILE;
	ssize_t		 len;
	size_t		 lineno = 0;

	memset(kw, 0, sizeof(*kw));
	if ((buf = malloc(KEYWORDS_FILE_MAX + 1)) == NULL) {
		log_warn("%s", path);
		return -1;
	}
	len = read_small(dirfd, name, buf, KEYWORDS_FILE_MAX + 1);
	if (len == -1 && errno == ENOENT) {
		name = KEYWORDS_DOVECOT;
		len = read_small(dirfd, name, buf, KEYWORDS_FILE_MAX + 1);
	}
	if (len == -1) {
		free(buf);
		if (errno == ENOENT)
			return 0;
		log_warn("%s/%s", path, name);
		return -1;
	}
	for (line = buf; *line != '\0'; line = nl + 1) {
		lineno++;
		if ((nl = strchr(line, '\n')) == NULL)
			nl = line + strlen(line) - 1;	/* last, unended */
		else
			*nl = '\0';
		if (*line != '\0' && !keywords_line(kw, line))
			log_warnx("%s/%s:%zu: not a keyword line, skipped",
			    path, name, lineno);
	}
	free(buf);
	return 0;
}

/* Writes the keywords file. */
int
keywords_write(int dirfd, const char *path, const struct keywords *kw)
{
	struct afile	*af;
	char		 line[KEYWORD_LEN_MAX + 8];
	int		 i, n;

	if ((af = afile_begin(dirfd, path, KEYWORDS_FILE)) == NULL)
		return -1;
	for (i = 0; i < KEYWORDS_MAX; i++) {
		if (kw->name[i] == NULL)
			continue;
		n = snprintf(line, sizeof(line), "%d %s\n", i, kw->name[i]);
		if (n < 0 || (size_t)n >= sizeof(line)) {
			errno = ENAMETOOLONG;
			log_warn("%s/%s", path, KEYWORDS_FILE);
			afile_abort(&af);
			return -1;
		}
		if (afile_write(af, line, (size_t)n) == -1) {
			afile_abort(&af);
			return -1;
		}
	}
	return afile_commit(&af);
}

/* The letter index of name, or -1. */
int
keywords_find(const struct keywords *kw, const char *name)
{
	int	 i;

	for (i = 0; i < KEYWORDS_MAX; i++)
		if (kw->name[i] != NULL && strcasecmp(kw->name[i], name) == 0)
			return i;
	return -1;
}

/* The letter index of name, adding it if need be. */
int
keywords_add(struct keywords *kw, const char *name, bool *added_r)
{
	int	 i;

	*added_r = false;
	if (!keyword_valid(name)) {
		errno = EINVAL;
		return -1;
	}
	if ((i = keywords_find(kw, name)) != -1)
		return i;
	for (i = 0; i < KEYWORDS_MAX; i++)
		if (kw->name[i] == NULL)
			break;
	if (i == KEYWORDS_MAX) {
		errno = ENOSPC;
		return -1;
	}
	if ((kw->name[i] = strdup(name)) == NULL)
		return -1;
	*added_r = true;
	return i;
}

/* Frees the names. */
void
keywords_free(struct keywords *kw)
{
	int	 i;

	for (i = 0; i < KEYWORDS_MAX; i++) {
		free(kw->name[i]);
		kw->name[i] = NULL;
	}
}
