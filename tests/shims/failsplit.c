/*
 * failsplit.c: an LD_PRELOAD shim for tests/integration/test_lmtp.py that
 * makes one step of a root local worker's split (server/worker.c) fail:
 * the socketpair(2) or the fork(2) of the worker, or the setgroups(2)
 * with which its session's child gives up root, in a process titled
 * "posternd: local idle" (the worker, and its child until that names its
 * session); or makes that child break the rules of its channel to the
 * worker ("garble": its send(2)s on a SOCK_SEQPACKET socket lose their
 * last octet, unknown to it), once titled "posternd: lmtp idle".  Only while a flag
 * file exists, so that a test fails one connection and watches the
 * next.  Test code only: never installed.
 *
 * FAILSPLIT_CALL	"socketpair", "fork", "setgroups" or "garble"
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

#define LOCAL_IDLE	"posternd: local idle"
#define SESSION_IDLE	"posternd: lmtp idle"

/* Whether call is to fail now, in this process, whose title must
 * begin with title. */
static int
should_fail(const char *call, const char *title)
{
	const char	*which = getenv("FAILSPLIT_CALL");
	const char	*flag = getenv("FAILSPLIT_FLAG");
	char		 buf[64];
	size_t		 len = strlen(title);
	ssize_t		 n;
	int		 fd;

	if (which == NULL || flag == NULL || strcmp(which, call) != 0 ||
	    access(flag, F_OK) == -1 || len >= sizeof(buf))
		return 0;
	if ((fd = open("/proc/self/cmdline", O_RDONLY | O_CLOEXEC)) == -1)
		return 0;
	n = read(fd, buf, len);
	close(fd);
	return n == (ssize_t)len && memcmp(buf, title, len) == 0;
}

int
socketpair(int domain, int type, int protocol, int sv[2])
{
	static int	(*real)(int, int, int, int *);

	if (real == NULL)
		real = (int (*)(int, int, int, int *))dlsym(RTLD_NEXT,
		    "socketpair");
	if (should_fail("socketpair", LOCAL_IDLE)) {
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
	if (should_fail("fork", LOCAL_IDLE)) {
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
	if (should_fail("setgroups", LOCAL_IDLE)) {
		errno = EPERM;
		return -1;
	}
	return real(size, list);
}

ssize_t
send(int fd, const void *buf, size_t len, int flags)
{
	static ssize_t	(*real)(int, const void *, size_t, int);
	int		 type = 0;
	socklen_t	 tlen = sizeof(type);
	ssize_t		 n;

	if (real == NULL)
		real = (ssize_t (*)(int, const void *, size_t, int))dlsym(
		    RTLD_NEXT, "send");
	if (len > 1 && getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &tlen) == 0 &&
	    type == SOCK_SEQPACKET && should_fail("garble", SESSION_IDLE)) {
		/* Short by an octet, as the sender does not see: it waits
		 * for the answer as a corrupted child would. */
		n = real(fd, buf, len - 1, flags);
		return n == (ssize_t)len - 1 ? (ssize_t)len : n;
	}
	return real(fd, buf, len, flags);
}
