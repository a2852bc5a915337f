/*
 * failsplit.c: an LD_PRELOAD shim for tests/integration/test_lmtp.py that
 * makes one step of a root local worker's split (server/worker.c) fail:
 * the socketpair(2) or the fork(2) of the worker, or the setgroups(2)
 * with which its session's child gives up root.  It acts only in a
 * process titled "posternd: local idle" (the worker, and its child until
 * that names its session) and only while a flag file exists, so that a
 * test fails one connection and watches the next.  Test code only:
 * never installed.
 *
 * FAILSPLIT_CALL	"socketpair", "fork" or "setgroups": the call that fails
 * FAILSPLIT_FLAG	the flag file's path
 */
#define _GNU_SOURCE
#include <sys/types.h>
#include <sys/socket.h>

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Whether call is to fail now, in this process. */
static int
should_fail(const char *call)
{
	static const char	 title[] = "posternd: local idle";
	const char		*which = getenv("FAILSPLIT_CALL");
	const char		*flag = getenv("FAILSPLIT_FLAG");
	char			 buf[sizeof(title)];
	ssize_t			 n;
	int			 fd;

	if (which == NULL || flag == NULL || strcmp(which, call) != 0 ||
	    access(flag, F_OK) == -1)
		return 0;
	if ((fd = open("/proc/self/cmdline", O_RDONLY | O_CLOEXEC)) == -1)
		return 0;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n != (ssize_t)sizeof(buf) - 1)
		return 0;
	return memcmp(buf, title, sizeof(buf) - 1) == 0;
}

int
socketpair(int domain, int type, int protocol, int sv[2])
{
	static int	(*real)(int, int, int, int *);

	if (real == NULL)
		real = (int (*)(int, int, int, int *))dlsym(RTLD_NEXT,
		    "socketpair");
	if (should_fail("socketpair")) {
		errno = EMFILE;
		return -1;
	}
	return real(domain, type, protocol, sv);
}

pid_t
fork(void)
{
	static pid_t	(*real)(void);

	if (real == NULL)
		real = (pid_t (*)(void))dlsym(RTLD_NEXT, "fork");
	if (should_fail("fork")) {
		errno = EAGAIN;
		return -1;
	}
	return real();
}

int
setgroups(size_t size, const gid_t *list)
{
	static int	(*real)(size_t, const gid_t *);

	if (real == NULL)
		real = (int (*)(size_t, const gid_t *))dlsym(RTLD_NEXT,
		    "setgroups");
	if (should_fail("setgroups")) {
		errno = EPERM;
		return -1;
	}
	return real(size, list);
}
