/*
 * authfile.c: opens apop_secrets and rpop_trust_file only when their
 * owner and mode are safe, and reads their lines with a fixed buffer.
 * It never interprets a line and never logs a line's content, which may
 * be a secret.
 */
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "server/authfile.h"
#include "server/limits.h"
#include "server/log.h"

/* Opens a credential file whose owner and mode are safe. */
FILE *
authfile_open(const char *setting, const char *path, bool secret)
{
	struct stat	 st;
	FILE		*fp;
	int		 fd;
	mode_t		 bad = secret ? 0077 : 0022;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK))
	    == -1) {
		if (errno == ELOOP)
			log_warnx("%s %s: a symbolic link; not used", setting,
			    path);
		else
			log_warn("%s %s", setting, path);
		return NULL;
	}
	if (fstat(fd, &st) == -1) {
		log_warn("%s %s: fstat", setting, path);
		close(fd);
		return NULL;
	}
	if (!S_ISREG(st.st_mode)) {
		log_warnx("%s %s: not a regular file; not used", setting, path);
		goto unsafe;
	}
	if (st.st_uid != 0 && st.st_uid != geteuid()) {
		log_warnx("%s %s: owned by uid %lu, neither root nor us; not "
		    "used", setting, path, (unsigned long)st.st_uid);
		goto unsafe;
	}
	if (st.st_mode & bad) {
		log_warnx("%s %s: mode %04o lets others %s it (want %s); not "
		    "used", setting, path, (unsigned)(st.st_mode & 07777),
		    secret ? "read or write" : "write",
		    secret ? "0600 or 0400" : "no group or other write");
		goto unsafe;
	}
	if ((fp = fdopen(fd, "r")) == NULL) {
		log_warn("%s %s: fdopen", setting, path);
		close(fd);
		return NULL;
	}
	return fp;
unsafe:
	close(fd);
	errno = EPERM;
	return NULL;
}

/* Reads the next meaningful line of a credential file. */
int
authfile_line(FILE *fp, const char *path, char *buf, size_t buflen,
    unsigned *lineno)
{
	size_t	 len, skip;
	bool	 nul, toolong;
	int	 c;

	for (;;) {
		len = 0;
		nul = toolong = false;
		while ((c = getc(fp)) != EOF && c != '\n') {
			if (c == '\0')
				nul = true;
			if (len + 1 < buflen)
				buf[len++] = (char)c;
			else
				toolong = true;
		}
		if (c == EOF && ferror(fp)) {
			log_warn("%s: read", path);
			return -1;
		}
		if (c == EOF && len == 0 && !nul && !toolong)
			return 0;
		(*lineno)++;
		buf[len] = '\0';
		if (len > 0 && buf[len - 1] == '\r')
			buf[--len] = '\0';
		if (nul || toolong) {
			log_warnx("%s:%u: line %s; skipped", path, *lineno,
			    nul ? "holds a NUL" : "too long");
			continue;
		}
		skip = strspn(buf, " \t");
		if (buf[skip] == '\0' || buf[skip] == '#')
			continue;
		return 1;
	}
}

/* Wipes the line buffer and closes the file. */
void
authfile_close(FILE *fp, char *buf, size_t buflen)
{
	explicit_bzero(buf, buflen);
	if (fp != NULL)
		fclose(fp);
}
