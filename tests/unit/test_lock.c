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
#include "tests/unit/fixture.h"

/* Child exit codes. */
#define CHILD_GOT_LOCK	10
#define CHILD_HELD	11
#define CHILD_ERROR	12

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
	struct fx_dir	*fx = *state;
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
	struct fx_dir	*fx = *state;
	pid_t		 pid;
	int		 status, fd;

	pid = lock_holder(fx->dirfd, -1);

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
	struct fx_dir	*fx = *state;
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
	struct fx_dir	*fx = *state;

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
	struct fx_dir	*fx = *state;
	struct timespec	 a;
	pid_t		 pid;
	int		 status, fd;

	pid = lock_holder(fx->dirfd, 400);

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

/* A FIFO planted as the lock file is refused at once, not opened for
 * good nor waited on. */
static void
test_lock_fifo(void **state)
{
	struct fx_dir	*fx = *state;

	assert_int_equal(mkfifoat(fx->dirfd, LOCK_FILE, 0600), 0);
	errno = 0;
	assert_int_equal(lock_take(fx->dirfd, LOCK_FILE), -1);
	assert_int_equal(errno, EINVAL);
	assert_int_equal(lock_wait(fx->dirfd, LOCK_FILE, 10000), -1);
	assert_int_equal(errno, EINVAL);
}

/* lock_fd() gives up at once on an error that waiting cannot cure (a
 * descriptor not open for writing), instead of polling to the end. */
static void
test_lock_fd_error(void **state)
{
	struct fx_dir	*fx = *state;
	struct timespec	 a;
	int		 fd;

	put(fx->dirfd, LOCK_FILE, "");
	fd = openat(fx->dirfd, LOCK_FILE, O_RDONLY);
	assert_true(fd >= 0);
	clock_gettime(CLOCK_MONOTONIC, &a);
	assert_int_equal(lock_fd(fd, 10000), -1);
	assert_int_equal(errno, EBADF);
	assert_true(ms_since(&a) < 5000);
	(void)close(fd);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_lock_exclusive,
		    fx_dir_setup, fx_dir_teardown),
		cmocka_unit_test_setup_teardown(test_lock_holder_killed,
		    fx_dir_setup, fx_dir_teardown),
		cmocka_unit_test_setup_teardown(test_lock_symlink,
		    fx_dir_setup, fx_dir_teardown),
		cmocka_unit_test_setup_teardown(test_lock_not_regular,
		    fx_dir_setup, fx_dir_teardown),
		cmocka_unit_test_setup_teardown(test_lock_wait,
		    fx_dir_setup, fx_dir_teardown),
		cmocka_unit_test_setup_teardown(test_lock_fifo,
		    fx_dir_setup, fx_dir_teardown),
		cmocka_unit_test_setup_teardown(test_lock_fd_error,
		    fx_dir_setup, fx_dir_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
