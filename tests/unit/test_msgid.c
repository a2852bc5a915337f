/*
 * test_msgid.c: the global message ID counter: IDs from 1, strictly
 * ascending, never given twice, not even to processes allocating at
 * once; a corrupt or exhausted counter refuses; two Maildirs sharing a
 * state directory get disjoint, ascending IDs.  Works in its own
 * temporary directory.
 */
#include "tests/unit/unit.h"

#include <sys/types.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "storage/maildir.h"
#include "storage/msgid.h"
#include "tests/unit/fixture.h"

#define CHILDREN	4
#define ALLOCS		100

/* From 1, in order, kept across opens; the file is one fixed line. */
static void
test_sequence(void **state)
{
	struct fx_dir	*fx = *state;
	struct msgid	*m;
	uint32_t	 first;
	char		 buf[64];
	ssize_t		 n;
	int		 fd;

	assert_non_null(m = msgid_open(fx->dir));
	assert_int_equal(msgid_alloc(m, 0, &first), 0);
	assert_int_equal(first, MSGID_NONE);
	assert_int_equal(msgid_alloc(m, 1, &first), 0);
	assert_int_equal(first, 1);
	assert_int_equal(msgid_alloc(m, 10, &first), 0);
	assert_int_equal(first, 2);
	msgid_close(&m);
	assert_null(m);
	msgid_close(&m);
	assert_non_null(m = msgid_open(fx->dir));
	assert_int_equal(msgid_alloc(m, 1, &first), 0);
	assert_int_equal(first, 12);
	msgid_close(&m);
	fd = openat(fx->dirfd, MSGID_FILE, O_RDONLY);
	n = read(fd, buf, sizeof(buf) - 1);
	(void)close(fd);
	assert_true(n > 0);
	buf[n] = '\0';
	assert_string_equal(buf, "postern-msgid 1 0000000013\n");
}

/* A corrupt file stops allocation; the 32-bit space ends. */
static void
test_corrupt_and_exhausted(void **state)
{
	struct fx_dir	*fx = *state;
	struct msgid	*m;
	uint32_t	 first;

	put(fx->dirfd, MSGID_FILE, "postern-msgid 1 00000x0013\n");
	assert_non_null(m = msgid_open(fx->dir));
	assert_int_equal(msgid_alloc(m, 1, &first), -1);
	assert_int_equal(errno, EINVAL);
	put(fx->dirfd, MSGID_FILE, "postern-msgid 2 0000000013\n");
	assert_int_equal(msgid_alloc(m, 1, &first), -1);
	assert_int_equal(errno, EINVAL);
	put(fx->dirfd, MSGID_FILE, "garbage");
	assert_int_equal(msgid_alloc(m, 1, &first), -1);
	put(fx->dirfd, MSGID_FILE, "postern-msgid 1 4294967294\n");
	assert_int_equal(msgid_alloc(m, 3, &first), -1);
	assert_int_equal(errno, ERANGE);
	assert_int_equal(msgid_alloc(m, 2, &first), 0);
	assert_int_equal(first, 4294967294U);
	assert_int_equal(msgid_alloc(m, 1, &first), -1);
	assert_int_equal(errno, ERANGE);
	msgid_close(&m);
	/* no state directory */
	assert_int_equal(unlinkat(fx->dirfd, MSGID_FILE, 0), 0);
	assert_int_equal(mkdirat(fx->dirfd, "sub", 0700), 0);
	assert_int_equal(symlinkat("sub", fx->dirfd, "sub/" MSGID_FILE), 0);
	{
		char	 p[PATH_MAX + 8];

		(void)snprintf(p, sizeof(p), "%s/sub", fx->dir);
		assert_null(msgid_open(p));	/* a symlink: refused */
		(void)snprintf(p, sizeof(p), "%s/none", fx->dir);
		assert_null(msgid_open(p));
		assert_int_equal(errno, ENOENT);
	}
}

/* Processes allocating at once: every ID once, each process's in
 * ascending order. */
static void
test_concurrent(void **state)
{
	struct fx_dir	*fx = *state;
	static uint32_t	 seen[CHILDREN * ALLOCS * 3 + 2];
	uint32_t	 got[ALLOCS], first;
	int		 p[CHILDREN][2], c, i, k, status;
	pid_t		 pid[CHILDREN];
	size_t		 total = 0;
	ssize_t		 n;

	memset(seen, 0, sizeof(seen));
	for (c = 0; c < CHILDREN; c++) {
		assert_int_equal(pipe(p[c]), 0);
		if ((pid[c] = fork()) == 0) {
			struct msgid *m = msgid_open(fx->dir);

			for (i = 0; m != NULL && i < ALLOCS; i++) {
				/* batches of 1 to 3 */
				if (msgid_alloc(m, (uint32_t)(i % 3) + 1,
				    &first) == -1)
					_exit(1);
				got[i] = first;
			}
			if (write(p[c][1], got, sizeof(got)) !=
			    (ssize_t)sizeof(got))
				_exit(1);
			_exit(m == NULL);
		}
		assert_true(pid[c] > 0);
		(void)close(p[c][1]);
	}
	for (c = 0; c < CHILDREN; c++) {
		size_t len = 0;

		while (len < sizeof(got) && (n = read(p[c][0],
		    (char *)got + len, sizeof(got) - len)) > 0)
			len += (size_t)n;
		assert_int_equal(len, sizeof(got));
		(void)close(p[c][0]);
		assert_int_equal(waitpid(pid[c], &status, 0), pid[c]);
		assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
		for (i = 0; i < ALLOCS; i++) {
			if (i > 0)
				assert_true(got[i] > got[i - 1]);
			for (k = 0; k <= i % 3; k++) {
				assert_true(got[i] + k < sizeof(seen) /
				    sizeof(seen[0]));
				assert_int_equal(seen[got[i] + k], 0);
				seen[got[i] + k] = 1;
				total++;
			}
		}
	}
	/* 1..total, no gap: every allocation was written before the next */
	for (i = 1; (size_t)i <= total; i++)
		assert_int_equal(seen[i], 1);
}

/* Makes a Maildir dir/name with n messages. */
static void
maildir_with(struct fx_dir *fx, const char *name, int n)
{
	char	 p[128];
	int	 fd, i;

	assert_int_equal(mkdirat(fx->dirfd, name, 0700), 0);
	(void)snprintf(p, sizeof(p), "%s/new", name);
	assert_int_equal(mkdirat(fx->dirfd, p, 0700), 0);
	(void)snprintf(p, sizeof(p), "%s/cur", name);
	assert_int_equal(mkdirat(fx->dirfd, p, 0700), 0);
	(void)snprintf(p, sizeof(p), "%s/tmp", name);
	assert_int_equal(mkdirat(fx->dirfd, p, 0700), 0);
	for (i = 0; i < n; i++) {
		(void)snprintf(p, sizeof(p), "%s/new/%d.%s,W=3", name,
		    1000 + i, name);
		fd = openat(fx->dirfd, p, O_WRONLY | O_CREAT, 0600);
		assert_true(fd >= 0);
		assert_int_equal(write(fd, "x\n", 2), 2);
		(void)close(fd);
	}
}

/* Two Maildirs sharing a state directory, listed for the first time by
 * two processes at once: disjoint global IDs, each ascending with UIDs. */
static void
test_two_maildirs(void **state)
{
	struct fx_dir	*fx = *state;
	struct mail_opts opts;
	struct maildrop	*md;
	char		 path[2][PATH_MAX + 8];
	static uint8_t	 seen[2 * 300 + 2];
	pid_t		 pid[2];
	size_t		 i;
	int		 k, status;

	maildir_with(fx, "a", 300);
	maildir_with(fx, "b", 300);
	memset(&opts, 0, sizeof(opts));
	opts.state_dir = fx->dir;
	for (k = 0; k < 2; k++) {
		(void)snprintf(path[k], sizeof(path[k]), "%s/%s", fx->dir,
		    k == 0 ? "a" : "b");
		if ((pid[k] = fork()) == 0)
			_exit(maildrop_open(path[k], &opts, &md) != 0);
		assert_true(pid[k] > 0);
	}
	for (k = 0; k < 2; k++) {
		assert_int_equal(waitpid(pid[k], &status, 0), pid[k]);
		assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	}
	memset(seen, 0, sizeof(seen));
	for (k = 0; k < 2; k++) {
		assert_int_equal(maildrop_open(path[k], &opts, &md), 0);
		assert_int_equal(md->count, 300);
		for (i = 0; i < md->count; i++) {
			assert_true(md->mail[i].gid >= 1 &&
			    md->mail[i].gid <= 600);
			assert_int_equal(seen[md->mail[i].gid], 0);
			seen[md->mail[i].gid] = 1;
			if (i > 0)
				assert_true(md->mail[i].gid >
				    md->mail[i - 1].gid);
		}
		maildrop_close(&md);
	}
}

/* The daemon prepares the directory and the counter for its sessions'
 * users; an existing counter is kept. */
static void
test_prepare(void **state)
{
	struct fx_dir	*fx = *state;
	struct msgid	*m;
	struct stat	 st;
	char		 sd[PATH_MAX + 8];
	uint32_t	 first;

	(void)snprintf(sd, sizeof(sd), "%s/state", fx->dir);
	assert_int_equal(msgid_prepare(sd, getuid(), getgid(), 0640), 0);
	assert_int_equal(fstatat(fx->dirfd, "state", &st, 0), 0);
	assert_true(S_ISDIR(st.st_mode));
	assert_int_equal(fstatat(fx->dirfd, "state/" MSGID_FILE, &st, 0), 0);
	assert_int_equal(st.st_mode & 07777, 0640);
	assert_int_equal(st.st_uid, getuid());
	assert_non_null(m = msgid_open(sd));
	assert_int_equal(msgid_alloc(m, 5, &first), 0);
	msgid_close(&m);
	/* again, with another mode (an older version's 0666 made 0600):
	 * the file gets it and keeps its value */
	assert_int_equal(fchmodat(fx->dirfd, "state/" MSGID_FILE, 0666, 0), 0);
	assert_int_equal(msgid_prepare(sd, getuid(), getgid(), 0600), 0);
	assert_int_equal(fstatat(fx->dirfd, "state/" MSGID_FILE, &st, 0), 0);
	assert_int_equal(st.st_mode & 07777, 0600);
	assert_non_null(m = msgid_open(sd));
	assert_int_equal(msgid_alloc(m, 1, &first), 0);
	assert_int_equal(first, 6);
	msgid_close(&m);
	/* as root: a counter of another owner (an older version gave it
	 * to mail_user) is taken back, its value kept */
	if (geteuid() == 0) {
		assert_int_equal(fchownat(fx->dirfd, "state/" MSGID_FILE, 65534,
		    65534, 0), 0);
		assert_int_equal(fchmodat(fx->dirfd, "state/" MSGID_FILE, 0666,
		    0), 0);
		assert_int_equal(msgid_prepare(sd, 0, 0, 0600), 0);
		assert_int_equal(fstatat(fx->dirfd, "state/" MSGID_FILE, &st,
		    0), 0);
		assert_int_equal(st.st_uid, 0);
		assert_int_equal(st.st_mode & 07777, 0600);
		assert_non_null(m = msgid_open(sd));
		assert_int_equal(msgid_alloc(m, 1, &first), 0);
		assert_int_equal(first, 7);
		msgid_close(&m);
	}
	/* a directory in its place */
	assert_int_equal(unlinkat(fx->dirfd, "state/" MSGID_FILE, 0), 0);
	assert_int_equal(mkdirat(fx->dirfd, "state/" MSGID_FILE, 0700), 0);
	assert_int_equal(msgid_prepare(sd, getuid(), getgid(), 0600), -1);
	assert_int_equal(errno, EINVAL);
}

/* A FIFO planted as the counter is refused (EINVAL), not waited on. */
static void
test_open_fifo(void **state)
{
	struct fx_dir	*fx = *state;

	assert_int_equal(mkfifoat(fx->dirfd, MSGID_FILE, 0600), 0);
	errno = 0;
	assert_null(msgid_open(fx->dir));
	assert_int_equal(errno, EINVAL);
}

/* A counter line of valid form but an impossible value (0, or past the
 * "exhausted" mark) is corrupt: EINVAL. */
static void
test_counter_out_of_range(void **state)
{
	struct fx_dir	*fx = *state;
	struct msgid	*m;
	uint32_t	 first;

	put(fx->dirfd, MSGID_FILE, "postern-msgid 1 0000000000\n");
	assert_non_null(m = msgid_open(fx->dir));
	assert_int_equal(msgid_alloc(m, 1, &first), -1);
	assert_int_equal(errno, EINVAL);
	put(fx->dirfd, MSGID_FILE, "postern-msgid 1 4294967297\n");
	assert_int_equal(msgid_alloc(m, 1, &first), -1);
	assert_int_equal(errno, EINVAL);
	/* one past the last ID: exhausted, not corrupt */
	put(fx->dirfd, MSGID_FILE, "postern-msgid 1 4294967296\n");
	assert_int_equal(msgid_alloc(m, 1, &first), -1);
	assert_int_equal(errno, ERANGE);
	msgid_close(&m);
}

/* A state directory that cannot be made (its parent missing) or is a
 * file is an error, and nothing is created. */
static void
test_prepare_bad_dir(void **state)
{
	struct fx_dir	*fx = *state;
	struct stat	 st;
	char		 sd[PATH_MAX + 16];

	(void)snprintf(sd, sizeof(sd), "%s/none/state", fx->dir);
	assert_int_equal(msgid_prepare(sd, getuid(), getgid(), 0600), -1);
	assert_int_equal(errno, ENOENT);
	assert_int_equal(fstatat(fx->dirfd, "none", &st, 0), -1);
	put(fx->dirfd, "file", "");
	(void)snprintf(sd, sizeof(sd), "%s/file", fx->dir);
	assert_int_equal(msgid_prepare(sd, getuid(), getgid(), 0600), -1);
	assert_int_equal(errno, ENOTDIR);
	assert_int_equal(fstatat(fx->dirfd, "file", &st, 0), 0);
	assert_true(S_ISREG(st.st_mode));
	assert_int_equal(st.st_size, 0);
}

int
main(void)
{
#define T(f)	cmocka_unit_test_setup_teardown(f, fx_dir_setup, \
		    fx_dir_teardown)
	const struct CMUnitTest tests[] = {
		T(test_sequence),
		T(test_corrupt_and_exhausted),
		T(test_concurrent),
		T(test_two_maildirs),
		T(test_prepare),
		T(test_open_fifo),
		T(test_counter_out_of_range),
		T(test_prepare_bad_dir),
	};
#undef T

	return cmocka_run_group_tests(tests, NULL, NULL);
}
