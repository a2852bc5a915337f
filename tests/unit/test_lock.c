/*
 * test_lock.c: the maildrop lock against other processes: held, released,
 * and freed by the death of its holder.  Works in its own temporary
 * directory and must never touch anything outside it.
 */
#include "tests/unit/unit.h"

#include <sys/types.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "storage/lock.h"

/* Child exit codes. */
#define CHILD_GOT_LOCK	10
#define CHILD_HELD	11
#define CHILD_ERROR	12

struct fixture {
	char	 dir[PATH_MAX];
	int	 dirfd;
};

/* Makes an empty temporary directory. */
static int
setup(void **state)
{
	struct fixture	*fx;
	const char	*tmp = getenv("TMPDIR");
	int		 n;

	if ((fx = calloc(1, sizeof(*fx))) == NULL)
		return -1;
	if (tmp == NULL || *tmp == '\0')
		tmp = "/tmp";
	n = snprintf(fx->dir, sizeof(fx->dir), "%s/test_lock.XXXXXX", tmp);
	if (n < 0 || (size_t)n >= sizeof(fx->dir) || mkdtemp(fx->dir) == NULL ||
	    (fx->dirfd = open(fx->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) ==
	    -1) {
		free(fx);
		return -1;
	}
	*state = fx;
	return 0;
}

/* Removes the temporary directory and what the tests left in it. */
static int
teardown(void **state)
{
	struct fixture	*fx = *state;

	(void)unlinkat(fx->dirfd, LOCK_FILE, 0);
	(void)unlinkat(fx->dirfd, "target", 0);
	(void)close(fx->dirfd);
	(void)rmdir(fx->dir);
	free(fx);
	return 0;
}

/* In a child: tries the lock once and reports through the exit status. */
static int
child_try(int dirfd)
{
	pid_t	 pid;
	int	 status, fd;

	if ((pid = fork()) == -1)
		return -1;
	if (pid == 0) {
		fd = lock_take(dirfd, LOCK_FILE);
		if (fd >= 0)
			_exit(CHILD_GOT_LOCK);
		_exit(errno == EAGAIN ? CHILD_HELD : CHILD_ERROR);
	}
	if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status))
		return -1;
	return WEXITSTATUS(status);
}

/* Another process cannot take a held lock, and can once it is released. */
static void
test_lock_exclusive(void **state)
{
	struct fixture	*fx = *state;
	struct stat	 st;
	int		 fd;

	assert_int_equal(child_try(fx->dirfd), CHILD_GOT_LOCK);
	fd = lock_take(fx->dirfd, LOCK_FILE);
	assert_true(fd >= 0);
	assert_int_equal(fstatat(fx->dirfd, LOCK_FILE, &st, 0), 0);
	assert_true(S_ISREG(st.st_mode));
	assert_int_equal(st.st_mode & 07777, 0600);
	assert_int_equal(child_try(fx->dirfd), CHILD_HELD);
	lock_release(fd);
	assert_int_equal(child_try(fx->dirfd), CHILD_GOT_LOCK);
	lock_release(-1);	/* harmless */
}

/* A lock dies with its holder: SIGKILL leaves no stale lock. */
static void
test_lock_holder_killed(void **state)
{
	struct fixture	*fx = *state;
	pid_t		 pid;
	int		 p[2], status, fd;
	char		 c;

	assert_int_equal(pipe(p), 0);
	pid = fork();
	assert_true(pid != -1);
	if (pid == 0) {
		(void)close(p[0]);
		c = lock_take(fx->dirfd, LOCK_FILE) >= 0 ? 'y' : 'n';
		if (write(p[1], &c, 1) != 1)
			_exit(1);
		for (;;)
			pause();
	}
	(void)close(p[1]);
	assert_int_equal(read(p[0], &c, 1), 1);
	(void)close(p[0]);
	assert_int_equal(c, 'y');

	errno = 0;
	assert_int_equal(lock_take(fx->dirfd, LOCK_FILE), -1);
	assert_int_equal(errno, EAGAIN);

	assert_int_equal(kill(pid, SIGKILL), 0);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFSIGNALED(status));
	fd = lock_take(fx->dirfd, LOCK_FILE);
	assert_true(fd >= 0);
	lock_release(fd);
}

/* A symlink planted as the lock file is not followed. */
static void
test_lock_symlink(void **state)
{
	struct fixture	*fx = *state;
	struct stat	 st;

	assert_int_equal(symlinkat("target", fx->dirfd, LOCK_FILE), 0);
	assert_int_equal(lock_take(fx->dirfd, LOCK_FILE), -1);
	assert_true(errno != EAGAIN);
	assert_int_equal(fstatat(fx->dirfd, "target", &st, 0), -1);
	assert_int_equal(errno, ENOENT);
}

/* A directory under the lock file's name is refused. */
static void
test_lock_not_regular(void **state)
{
	struct fixture	*fx = *state;

	assert_int_equal(mkdirat(fx->dirfd, LOCK_FILE, 0700), 0);
	assert_int_equal(lock_take(fx->dirfd, LOCK_FILE), -1);
	assert_true(errno != EAGAIN);
	assert_int_equal(unlinkat(fx->dirfd, LOCK_FILE, AT_REMOVEDIR), 0);
}

/* Milliseconds since a. */
static long
ms_since(const struct timespec *a)
{
	struct timespec	 b;

	clock_gettime(CLOCK_MONOTONIC, &b);
	return (long)((b.tv_sec - a->tv_sec) * 1000 +
	    (b.tv_nsec - a->tv_nsec) / 1000000);
}

/* lock_wait() waits for a holder that lets go, and gives up on one that
 * does not, after its time; lock_fd() the same on an open file. */
static void
test_lock_wait(void **state)
{
	struct fixture	*fx = *state;
	struct timespec	 a;
	pid_t		 pid;
	int		 p[2], status, fd;
	char		 c;

	assert_int_equal(pipe(p), 0);
	pid = fork();
	assert_true(pid != -1);
	if (pid == 0) {
		(void)close(p[0]);
		c = lock_take(fx->dirfd, LOCK_FILE) >= 0 ? 'y' : 'n';
		if (write(p[1], &c, 1) != 1)
			_exit(1);
		usleep(400000);
		_exit(0);
	}
	(void)close(p[1]);
	assert_int_equal(read(p[0], &c, 1), 1);
	(void)close(p[0]);
	assert_int_equal(c, 'y');

	clock_gettime(CLOCK_MONOTONIC, &a);
	errno = 0;
	assert_int_equal(lock_wait(fx->dirfd, LOCK_FILE, 50), -1);
	assert_int_equal(errno, EAGAIN);
	assert_true(ms_since(&a) >= 50);
	fd = openat(fx->dirfd, LOCK_FILE, O_RDWR);
	assert_true(fd >= 0);
	assert_int_equal(lock_fd(fd, 20), -1);
	assert_int_equal(errno, EAGAIN);
	(void)close(fd);

	clock_gettime(CLOCK_MONOTONIC, &a);
	fd = lock_wait(fx->dirfd, LOCK_FILE, 10000);
	assert_true(fd >= 0);
	assert_true(ms_since(&a) < 5000);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_int_equal(child_try(fx->dirfd), CHILD_HELD);
	lock_release(fd);
	/* not a regular file: refused at once */
	assert_int_equal(unlinkat(fx->dirfd, LOCK_FILE, 0), 0);
	assert_int_equal(mkdirat(fx->dirfd, LOCK_FILE, 0700), 0);
	clock_gettime(CLOCK_MONOTONIC, &a);
	assert_int_equal(lock_wait(fx->dirfd, LOCK_FILE, 10000), -1);
	assert_true(errno != EAGAIN);
	assert_true(ms_since(&a) < 5000);
	assert_int_equal(unlinkat(fx->dirfd, LOCK_FILE, AT_REMOVEDIR), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_lock_exclusive, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_lock_holder_killed, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_lock_symlink, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_lock_not_regular, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_lock_wait, setup,
		    teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
