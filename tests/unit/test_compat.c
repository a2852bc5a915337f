/*
 * test_compat.c: the system call filters (compat_sandbox()), each tried
 * in a child process, since a filter cannot be lifted once set: what
 * each kind must refuse, with EPERM (ENOSYS for clone3), and what its
 * processes still need; and that a child of a process that stays root,
 * whose filter it inherits, adds only what that one lacks.  And that a
 * worker's heap gives a large session's memory back (compat_shed_memory).
 */
#include "tests/unit/unit.h"

#include <sys/types.h>
#include <sys/socket.h>
#include <sys/wait.h>
#ifdef __linux__
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <linux/sched.h>
#endif

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <stdbool.h>
#include <string.h>
#include <unistd.h>

#include "server/compat.h"

/* As compat.c: AddressSanitizer's builds let ptrace and signals
 * through. */
#if defined(__SANITIZE_ADDRESS__)
#define TRACED	1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define TRACED	1
#endif
#endif

#if defined(__linux__) && (defined(__x86_64__) || defined(__aarch64__))
#define FILTERED	1
#endif

/* The checks, in the order the child makes them. */
enum check {
	C_NNP,			/* no_new_privs as the kind wants it */
	C_PTRACE,		/* every kind refuses these */
	C_UNSHARE,
	C_CLONE_NEWUSER,
	C_CLONE3,
	C_IO_URING,
	C_BPF,
	C_USERFAULTFD,
	C_KEYCTL,
	C_MOUNT,
	C_X32,
	C_SOCKET_INET,		/* pre-login refuses, sessions may */
	C_SOCKET_UNIX,
	C_CONNECT,
	C_BIND,
	C_LISTEN,
	C_EXECVE,
	C_KILL_OTHER,
	C_TGKILL_OTHER,
	C_PIDFD,
	C_SOCKETPAIR,		/* every kind allows these */
	C_PIPE,
	C_FORK,
	C_KILL_SELF,
	C_COUNT
};

static const char *const names[C_COUNT] = {
	"no_new_privs", "ptrace", "unshare", "clone(CLONE_NEWUSER)", "clone3",
	"io_uring_setup", "bpf", "userfaultfd", "keyctl", "mount",
	"x32 getpid", "socket(AF_INET)", "socket(AF_UNIX)", "connect", "bind",
	"listen", "execve", "kill(parent)", "tgkill(parent)",
	"pidfd_open(parent)", "socketpair", "pipe2 and a round trip", "fork",
	"signals to itself",
};

/* What the child reports. */
struct result {
	int	 rc;		/* compat_sandbox()'s */
	int	 err;		/* its errno */
	int	 filters;	/* Seccomp_filters of /proc/self/status */
	char	 ok[C_COUNT];
};

/* refused: whether a call's result r says the filter refused it. */
static char
refused(long r, int want)
{
	return r == -1 && errno == want;
}

/* allowed: whether a call's result r says the filter let it through: a
 * failure for another reason than EPERM counts. */
static char
allowed(long r)
{
	return r != -1 || errno != EPERM;
}

#ifdef FILTERED
/* spawned: whether a child that runs /bin/true (exec) or exits at once
 * is started and ends with status 0. */
static char
spawned(bool exec)
{
	char	*argv[] = { "true", NULL }, *envp[] = { NULL };
	pid_t	 pid;
	int	 st;

	if ((pid = fork()) == 0) {
		if (exec)
			execve("/bin/true", argv, envp);
		_exit(exec ? 127 : 0);
	}
	return pid > 0 && waitpid(pid, &st, 0) == pid && WIFEXITED(st) &&
	    WEXITSTATUS(st) == 0;
}

/* filters: how many filters this process runs under, -1 unknown. */
static int
filters(void)
{
	char	 line[128];
	FILE	*f = fopen("/proc/self/status", "r");
	int	 n = -1;

	while (f != NULL && fgets(line, sizeof(line), f) != NULL)
		if (strncmp(line, "Seccomp_filters:", 16) == 0) {
			n = (int)strtol(line + 16, NULL, 10);
			break;
		}
	if (f != NULL)
		fclose(f);
	return n;
}

/* try_common: the calls every kind refuses and allows; a process that
 * stays root may use keyrings. */
static void
try_common(char ok[C_COUNT], enum compat_sandbox kind)
{
	char	 c = 'x';
	int	 sv[2], p[2], st;
	long	 r;

#ifdef TRACED
	ok[C_PTRACE] = 1;	/* let through for the leak check */
#else
	ok[C_PTRACE] = refused(ptrace(PTRACE_TRACEME, 0, NULL, NULL), EPERM);
#endif
	ok[C_UNSHARE] = refused(unshare(CLONE_NEWUSER), EPERM);
	/* Were it let through, the new process ends at once. */
	if ((r = syscall(SYS_clone, CLONE_NEWUSER | SIGCHLD, 0, 0, 0, 0)) == 0)
		_exit(0);
	if (r > 0)
		(void)waitpid((pid_t)r, &st, 0);
	ok[C_CLONE_NEWUSER] = refused(r, EPERM);
	ok[C_CLONE3] = refused(syscall(SYS_clone3, NULL, 0), ENOSYS);
	ok[C_IO_URING] = refused(syscall(SYS_io_uring_setup, 1, NULL), EPERM);
	ok[C_BPF] = refused(syscall(SYS_bpf, 0, NULL, 0), EPERM);
	ok[C_USERFAULTFD] = refused(syscall(SYS_userfaultfd, 0), EPERM);
	r = syscall(SYS_keyctl, 0, 0, 0, 0, 0);
	ok[C_KEYCTL] = kind == SANDBOX_ROOT ? allowed(r) : refused(r, EPERM);
	ok[C_MOUNT] = refused(syscall(SYS_mount, "none", "/mnt", "tmpfs", 0,
	    NULL), EPERM);
#if defined(__x86_64__)
	ok[C_X32] = refused(syscall(0x40000000 | SYS_getpid), EPERM);
#else
	ok[C_X32] = 1;
#endif
	ok[C_SOCKETPAIR] = socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sv) == 0;
	ok[C_PIPE] = pipe2(p, O_CLOEXEC) == 0 && write(p[1], &c, 1) == 1 &&
	    read(p[0], &c, 1) == 1;
	ok[C_FORK] = spawned(false);
	ok[C_KILL_SELF] = kill(getpid(), 0) == 0 &&
	    syscall(SYS_tgkill, getpid(), getpid(), 0) == 0 && raise(0) == 0;
}

/* try_network: socket, connect, bind, listen, each refused or not. */
static void
try_network(char ok[C_COUNT], bool refuse)
{
	struct sockaddr_in	 sin;
	int			 fd;

	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	fd = socket(AF_INET, SOCK_STREAM, 0);
	ok[C_SOCKET_INET] = refuse ? refused(fd, EPERM) : fd >= 0;
	if (fd >= 0)
		close(fd);
	fd = socket(AF_UNIX, SOCK_DGRAM, 0);
	ok[C_SOCKET_UNIX] = refuse ? refused(fd, EPERM) : fd >= 0;
	if (fd >= 0)
		close(fd);
	/* On descriptor -1: EBADF if let through. */
	ok[C_CONNECT] = refuse ? refused(connect(-1, (struct sockaddr *)&sin,
	    sizeof(sin)), EPERM) : refused(connect(-1,
	    (struct sockaddr *)&sin, sizeof(sin)), EBADF);
	ok[C_BIND] = refuse ? refused(bind(-1, (struct sockaddr *)&sin,
	    sizeof(sin)), EPERM) : refused(bind(-1, (struct sockaddr *)&sin,
	    sizeof(sin)), EBADF);
	ok[C_LISTEN] = refuse ? refused(listen(-1, 1), EPERM) :
	    refused(listen(-1, 1), EBADF);
}

/* try_others: programs and signals to other processes. */
static void
try_others(char ok[C_COUNT], bool refuse)
{
#ifdef TRACED
	if (refuse) {
		ok[C_KILL_OTHER] = ok[C_TGKILL_OTHER] = ok[C_PIDFD] = 1;
		ok[C_EXECVE] = !spawned(true);
		return;
	}
#endif
	if (refuse) {
		ok[C_EXECVE] = !spawned(true);
		ok[C_KILL_OTHER] = refused(kill(getppid(), 0), EPERM);
		ok[C_TGKILL_OTHER] = refused(syscall(SYS_tgkill, getppid(),
		    getppid(), 0), EPERM);
		ok[C_PIDFD] = refused(syscall(SYS_pidfd_open, getppid(), 0),
		    EPERM);
	} else {
		ok[C_EXECVE] = spawned(true);
		ok[C_KILL_OTHER] = kill(getppid(), 0) == 0;
		ok[C_TGKILL_OTHER] = allowed(syscall(SYS_tgkill, getppid(),
		    getppid(), 0));
		ok[C_PIDFD] = allowed(syscall(SYS_pidfd_open, getppid(), 0));
	}
}

/* try_all: the checks, in a process that has set the filters of kind. */
static void
try_all(char ok[C_COUNT], enum compat_sandbox kind)
{
	bool	 pre = kind == SANDBOX_PRELOGIN;

	ok[C_NNP] = prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0) == (pre ? 1 : 0);
	try_common(ok, kind);
	try_network(ok, pre);
	try_others(ok, pre);
}
#endif

/* run_after: the checks' results from a child that set the filters of
 * first (-1: none), as the auth process does, then those of kind. */
static void
run_after(int first, enum compat_sandbox kind, struct result *res)
{
	int	 p[2], st;
	pid_t	 pid;

	assert_int_equal(pipe(p), 0);
	pid = fork();
	assert_true(pid != -1);
	if (pid == 0) {
		memset(res, 0, sizeof(*res));
		if (first != -1 &&
		    compat_sandbox((enum compat_sandbox)first) == -1)
			_exit(1);
		res->rc = compat_sandbox(kind);
		res->err = errno;
#ifdef FILTERED
		res->filters = filters();
#endif
#ifdef FILTERED
		if (res->rc == 0)
			try_all(res->ok, kind);
#endif
		_exit(write(p[1], res, sizeof(*res)) == (ssize_t)sizeof(*res) ?
		    0 : 1);
	}
	close(p[1]);
	assert_int_equal(read(p[0], res, sizeof(*res)), (ssize_t)sizeof(*res));
	close(p[0]);
	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
}

/* run: the checks' results from a child that set the filters of kind. */
static void
run(enum compat_sandbox kind, struct result *res)
{
	run_after(-1, kind, res);
}

/* expect: every check of res passed. */
static void
expect(const struct result *res, const char *kind)
{
	int	 i;

	assert_int_equal(res->rc, 0);
	for (i = 0; i < C_COUNT; i++) {
		if (!res->ok[i])
			print_error("%s: check failed: %s\n", kind, names[i]);
		assert_true(res->ok[i]);
	}
}

static void
test_prelogin(void **state)
{
	struct result	 res;

	(void)state;
	run(SANDBOX_PRELOGIN, &res);
#ifdef FILTERED
	expect(&res, "pre-login");
#else
	(void)expect;
	(void)names;
	assert_int_equal(res.rc, 1);	/* a documented no-op */
#endif
}

static void
test_session(void **state)
{
	struct result	 res;

	(void)state;
	run(SANDBOX_SESSION, &res);
#ifdef FILTERED
	if (geteuid() != 0) {
		/* Without no_new_privs only root may set it. */
		assert_int_equal(res.rc, -1);
		assert_int_equal(res.err, EACCES);
		skip();
	}
	expect(&res, "session");
#else
	assert_int_equal(res.rc, 1);
#endif
}

static void
test_root(void **state)
{
	struct result	 res;

	(void)state;
	run(SANDBOX_ROOT, &res);
#ifdef FILTERED
	if (geteuid() != 0) {
		assert_int_equal(res.rc, -1);
		assert_int_equal(res.err, EACCES);
		skip();
	}
	expect(&res, "root");
	if (res.filters != -1)
		assert_int_equal(res.filters, 1);
#else
	assert_int_equal(res.rc, 1);
#endif
}

/* A session process or mail worker forked from the auth process: its
 * own filter on top of the inherited one refuses the keyrings too, and
 * the larger one is not evaluated twice at every call. */
static void
test_session_after_auth(void **state)
{
	struct result	 res, alone;

	(void)state;
#ifdef FILTERED
	if (geteuid() != 0)
		skip();
	run_after(SANDBOX_ROOT, SANDBOX_SESSION, &res);
	expect(&res, "session after auth");
	run(SANDBOX_SESSION, &alone);
	if (res.filters != -1) {
		assert_int_equal(res.filters, 2);
		assert_int_equal(alone.filters, 2);
	}
#else
	run_after(SANDBOX_ROOT, SANDBOX_SESSION, &res);
	(void)alone;
	assert_int_equal(res.rc, 1);
#endif
}

/* The filters are the child's alone: this process still makes sockets. */
static void
test_parent_untouched(void **state)
{
	struct result	 res;
	int		 fd;

	(void)state;
	run(SANDBOX_PRELOGIN, &res);
	fd = socket(AF_INET, SOCK_STREAM, 0);
	assert_true(fd >= 0);
	close(fd);
}

/* resident_kb: this process's resident memory, from /proc (the second
 * field of statm, in pages); -1 if it cannot be read. */
static long
resident_kb(void)
{
	char	 line[128], *p, *end;
	long	 resident;
	FILE	*f;

	if ((f = fopen("/proc/self/statm", "r")) == NULL)
		return -1;
	p = fgets(line, sizeof(line), f);
	fclose(f);
	if (p == NULL || (p = strchr(line, ' ')) == NULL)
		return -1;
	errno = 0;
	resident = strtol(p + 1, &end, 10);
	if (errno != 0 || end == p + 1)
		return -1;
	return resident * (sysconf(_SC_PAGESIZE) / 1024);
}

/* big_session: what a session over a large maildrop does to the heap,
 * twice: 16 MiB allocated, written and freed. */
static void
big_session(void)
{
	size_t		 i;
	char *volatile	 p;	/* so that the compiler keeps it all */

	for (i = 0; i < 2; i++) {
		if ((p = malloc(16 << 20)) == NULL)
			_exit(2);
		memset(p, 'x', 16 << 20);
		free(p);
	}
}

/*
 * After compat_shed_memory(), a worker's memory is back near where it was
 * once a large session has ended.  Without it glibc keeps the second 16
 * MiB: freeing the first, a mapping of its own, raised its threshold, so
 * the second came from the heap, whose top it then kept.  In a child:
 * the thresholds stay set.
 */
static void
test_shed_heap(void **state)
{
	int	 st;
	pid_t	 pid;

	(void)state;
#if !defined(__GLIBC__) || defined(TRACED)
	skip();		/* glibc's thresholds; ASan has its own malloc */
#endif
	pid = fork();
	assert_true(pid != -1);
	if (pid == 0) {
		long	 before;

		compat_shed_memory();
		before = resident_kb();
		big_session();
		_exit(before > 0 && resident_kb() - before < 4096 ? 0 : 1);
	}
	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_true(WIFEXITED(st));
	assert_int_equal(WEXITSTATUS(st), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_prelogin),
		cmocka_unit_test(test_session),
		cmocka_unit_test(test_root),
		cmocka_unit_test(test_session_after_auth),
		cmocka_unit_test(test_parent_untouched),
		cmocka_unit_test(test_shed_heap),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
