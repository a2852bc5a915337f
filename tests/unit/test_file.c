/*
 * test_file.c: file_write_all (storage/file.c): a buffer larger than a
 * pipe holds goes whole to a reader that takes it in pieces; a reader
 * gone is EPIPE with the octets written so far; nothing to write is
 * done at once.
 */
#include "tests/unit/unit.h"

#include <sys/types.h>
#include <sys/wait.h>

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "storage/file.h"

#define BIG	(256 * 1024)	/* more than a pipe holds */

static void
test_whole(void **state)
{
	char	*buf = malloc(BIG), *got = malloc(BIG);
	size_t	 done = 0, have = 0;
	ssize_t	 n;
	pid_t	 pid;
	int	 p[2], status, i;

	(void)state;
	assert_non_null(buf);
	assert_non_null(got);
	for (i = 0; i < BIG; i++)
		buf[i] = (char)(i * 7);
	assert_int_equal(pipe(p), 0);
	if ((pid = fork()) == 0) {
		close(p[1]);
		while (have < BIG && (n = read(p[0], got + have, 1000)) > 0)
			have += (size_t)n;
		_exit(have == BIG && memcmp(got, buf, BIG) == 0 ? 0 : 1);
	}
	assert_true(pid > 0);
	close(p[0]);
	assert_int_equal(file_write_all(p[1], buf, BIG, &done), 0);
	assert_int_equal(done, BIG);
	close(p[1]);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	assert_int_equal(file_write_all(1, buf, 0, &done), 0);
	assert_int_equal(done, 0);
	free(buf);
	free(got);
}

static void
test_reader_gone(void **state)
{
	char		 buf[4096];
	struct sigaction sa, old;
	size_t		 done = 1;
	int		 p[2];

	(void)state;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = SIG_IGN;
	assert_int_equal(sigaction(SIGPIPE, &sa, &old), 0);
	memset(buf, 'x', sizeof(buf));
	assert_int_equal(pipe(p), 0);
	close(p[0]);
	assert_int_equal(file_write_all(p[1], buf, sizeof(buf), &done), -1);
	assert_int_equal(errno, EPIPE);
	assert_int_equal(done, 0);
	close(p[1]);
	assert_int_equal(sigaction(SIGPIPE, &old, NULL), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_whole),
		cmocka_unit_test(test_reader_gone),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
