/*
 * test_compat.c: the system call filter of pre-login workers
 * (compat_sandbox()), tried in a child process, since it cannot be
 * lifted once set: what it must refuse, with EPERM (ENOSYS for clone3),
 * and what a worker still needs.
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
#include <string.h>
#include <unistd.h>

#include "server/compat.h"

/* As compat.c: AddressSanitizer's builds let ptrace through. */
#if defined(__SANITIZE_ADDRESS__)
#define TRACED	1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define TRACED	1
#endif
#endif

/* The checks, in the order the child makes them. */
enum check {
	C_SET,			/* compat_sandbox() returned 0 */
	C_NNP,			/* no_new_privs is on */
	C_SOCKET_INET,
	C_SOCKET_UNIX,
	C_CONNECT,
	C_BIND,
	C_LISTEN,
	C_EXECVE,
	C_PTRACE,
	C_UNSHARE,
	C_CLONE_NEWUSER,
	C_CLONE3,
	C_IO_URING,
	C_X32,
	C_KILL_OTHER,
	C_TGKILL_OTHER,
	C_PIDFD,
	C_SOCKETPAIR,		/* still allowed from here */
	C_PIPE,
	C_FORK,
	C_GETPID,
	C_KILL_SELF,
	C_COUNT
};

static const char *const names[C_COUNT] = {
	"filter set", "no_new_privs", "socket(AF_INET)", "socket(AF_UNIX)",
	"connect", "bind", "listen", "execve", "ptrace", "unshare",
	"clone(CLONE_NEWUSER)", "clone3", "io_uring_setup", "x32 getpid",
	"kill(parent)", "tgkill(parent)", "pidfd_open(parent)", "socketpair",
	"pipe2 and a round trip", "fork", "getpid", "signals to itself",
};

/* refused: whether a call's result r says the filter refused it. */
static char
refused(long r, int want)
{
	return r == -1 && errno == want;
}

#ifdef __linux__
/* try_all: the checks, in a process that has set the filter. */
static void
try_all(char ok[C_COUNT])
{
	struct sockaddr_in	 sin;
	char			*argv[] = { "true", NULL }, *envp[] = { NULL };
	char			 c = 'x';
	int			 sv[2], p[2], st;
	long			 r;
	pid_t			 pid;

	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ok[C_NNP] = prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0) == 1;
	ok[C_SOCKET_INET] = refused(socket(AF_INET, SOCK_STREAM, 0), EPERM);
	ok[C_SOCKET_UNIX] = refused(socket(AF_UNIX, SOCK_DGRAM, 0), EPERM);
	ok[C_CONNECT] = refused(connect(0, (struct sockaddr *)&sin,
	    sizeof(sin)), EPERM);
	ok[C_BIND] = refused(bind(0, (struct sockaddr *)&sin, sizeof(sin)),
	    EPERM);
	ok[C_LISTEN] = refused(listen(0, 1), EPERM);
	ok[C_EXECVE] = refused(execve("/bin/true", argv, envp), EPERM);
#ifdef TRACED
	ok[C_PTRACE] = 1;	/* let through for the leak check (compat.c) */
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
#ifdef SYS_clone3
	ok[C_CLONE3] = refused(syscall(SYS_clone3, NULL, 0), ENOSYS);
#else
	ok[C_CLONE3] = 1;
#endif
#ifdef SYS_io_uring_setup
	ok[C_IO_URING] = refused(syscall(SYS_io_uring_setup, 1, NULL), EPERM);
#else
	ok[C_IO_URING] = 1;
#endif
#if defined(__x86_64__)
	ok[C_X32] = refused(syscall(0x40000000 | SYS_getpid), EPERM);
#else
	ok[C_X32] = 1;
#endif
#ifdef TRACED
	ok[C_KILL_OTHER] = ok[C_TGKILL_OTHER] = ok[C_PIDFD] = 1;
#else
	ok[C_KILL_OTHER] = refused(kill(getppid(), 0), EPERM);
	ok[C_TGKILL_OTHER] = refused(syscall(SYS_tgkill, getppid(),
	    getppid(), 0), EPERM);
#ifdef SYS_pidfd_open
	ok[C_PIDFD] = refused(syscall(SYS_pidfd_open, getppid(), 0), EPERM);
#else
	ok[C_PIDFD] = 1;
#endif
#endif
	ok[C_KILL_SELF] = kill(getpid(), 0) == 0 &&
	    syscall(SYS_tgkill, getpid(), getpid(), 0) == 0 && raise(0) == 0;
	ok[C_SOCKETPAIR] = socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sv) == 0;
	ok[C_PIPE] = pipe2(p, O_CLOEXEC) == 0 && write(p[1], &c, 1) == 1 &&
	    read(p[0], &c, 1) == 1;
	if ((pid = fork()) == 0)
		_exit(7);
	ok[C_FORK] = pid > 0 && waitpid(pid, &st, 0) == pid &&
	    WIFEXITED(st) && WEXITSTATUS(st) == 7;
	ok[C_GETPID] = getpid() > 0;
}
#endif

/* What the child reports. */
struct result {
	int	 rc;		/* compat_sandbox()'s */
	char	 ok[C_COUNT];
};

/* run: the checks' results from a child that set the filter. */
static void
run(struct result *res)
{
	int	 p[2], st;
	pid_t	 pid;

	assert_int_equal(pipe(p), 0);
	pid = fork();
	assert_true(pid != -1);
	if (pid == 0) {
		memset(res, 0, sizeof(*res));
		res->rc = compat_sandbox();
		res->ok[C_SET] = res->rc == 0;
#ifdef __linux__
		if (res->ok[C_SET])
			try_all(res->ok);
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

static void
test_sandbox(void **state)
{
	struct result	 res;
	int		 i;

	(void)state;
	run(&res);
#if defined(__linux__) && (defined(__x86_64__) || defined(__aarch64__))
	assert_int_equal(res.rc, 0);
	for (i = 0; i < C_COUNT; i++) {
		if (!res.ok[i])
			print_error("check failed: %s\n", names[i]);
		assert_true(res.ok[i]);
	}
#else
	(void)i;
	(void)names;
	assert_int_equal(res.rc, 1);	/* a documented no-op */
#endif
}

/* The filter is the child's alone: this process still makes sockets. */
static void
test_parent_untouched(void **state)
{
	struct result	 res;
	int		 fd;

	(void)state;
	run(&res);
	fd = socket(AF_INET, SOCK_STREAM, 0);
	assert_true(fd >= 0);
	close(fd);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sandbox),
		cmocka_unit_test(test_parent_untouched),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
