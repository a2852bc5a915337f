/*
 * failio.c: an LD_PRELOAD shim for tests/integration/test_safety.py that
 * makes write(2) or fsync(2) fail with EIO on files under one directory,
 * after a number of successful calls.  Test code only: never installed.
 *
 * FAILIO_DIR	the directory (an absolute path, as /proc/self/fd shows it)
 * FAILIO_CALL	"write" or "fsync": the call that fails
 * FAILIO_AFTER	how many such calls on files under FAILIO_DIR succeed first
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static long	calls;

/* Whether fd is a file under FAILIO_DIR and call is the one to fail. */
static int
should_fail(int fd, const char *call)
{
	const char	*dir = getenv("FAILIO_DIR");
	const char	*which = getenv("FAILIO_CALL");
	const char	*after = getenv("FAILIO_AFTER");
	char		 link[64], path[4096];
	ssize_t		 n;
	size_t		 len;

	if (dir == NULL || which == NULL || strcmp(which, call) != 0)
		return 0;
	snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
	if ((n = readlink(link, path, sizeof(path) - 1)) == -1)
		return 0;
	path[n] = '\0';
	len = strlen(dir);
	if (strncmp(path, dir, len) != 0 || path[len] != '/')
		return 0;
	return calls++ >= (after != NULL ? atol(after) : 0);
}

/* write(2), failing with EIO when should_fail() says so. */
ssize_t
write(int fd, const void *buf, size_t count)
{
	static ssize_t	(*real)(int, const void *, size_t);

	if (real == NULL)
		real = (ssize_t (*)(int, const void *, size_t))
		    dlsym(RTLD_NEXT, "write");
	if (should_fail(fd, "write")) {
		errno = EIO;
		return -1;
	}
	return real(fd, buf, count);
}

/* fsync(2), failing with EIO when should_fail() says so. */
int
fsync(int fd)
{
	static int	(*real)(int);

	if (real == NULL)
		real = (int (*)(int))dlsym(RTLD_NEXT, "fsync");
	if (should_fail(fd, "fsync")) {
		errno = EIO;
		return -1;
	}
	return real(fd);
}
