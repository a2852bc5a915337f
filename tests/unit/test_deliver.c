/*
 * test_deliver.c: Maildir delivery: unique names, the ,S= and ,W= sizes
 * and the stored text, folders, and that no failure (a missing tmp/, a
 * symlinked one, a closed file, a file size limit, a full file system)
 * leaves a file in tmp/, new/ or cur/.  Also streams 20 MiB and checks
 * that memory stays bounded.
 */
#include <sys/types.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#ifdef __linux__
#include <sched.h>		/* unshare(2) */
#include <sys/mount.h>		/* a small tmpfs */
#endif

#include "tests/unit/unit.h"

#include "storage/deliver.h"
#include "storage/maildir.h"

struct fixture {
	char	 dir[64];
	char	 md[128];
};

/* mkmaildir: a Maildir with new/, cur/ and tmp/ at path. */
static void
mkmaildir(const char *path)
{
	char	 sub[512];

	assert_int_equal(mkdir(path, 0700), 0);
	snprintf(sub, sizeof(sub), "%s/new", path);
	assert_int_equal(mkdir(sub, 0700), 0);
	snprintf(sub, sizeof(sub), "%s/cur", path);
	assert_int_equal(mkdir(sub, 0700), 0);
	snprintf(sub, sizeof(sub), "%s/tmp", path);
	assert_int_equal(mkdir(sub, 0700), 0);
}

/* count: the entries of md/sub other than "." and "..". */
static int
count(const char *md, const char *sub)
{
	char		 path[512];
	DIR		*d;
	struct dirent	*e;
	int		 n = 0;

	snprintf(path, sizeof(path), "%s/%s", md, sub);
	assert_non_null(d = opendir(path));
	while ((e = readdir(d)) != NULL)
		if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0)
			n++;
	closedir(d);
	return n;
}

/* nothing_left: no file in tmp/, new/ or cur/ of md. */
static void
nothing_left(const char *md)
{
	assert_int_equal(count(md, "tmp"), 0);
	assert_int_equal(count(md, "new"), 0);
	assert_int_equal(count(md, "cur"), 0);
}

/* slurp: the file md/new/name, NUL-terminated, and its length. */
static char *
slurp(const char *md, const char *name, size_t *len_r)
{
	char	 path[1024];
	char	*buf;
	ssize_t	 n;
	int	 fd;

	snprintf(path, sizeof(path), "%s/new/%s", md, name);
	assert_true((fd = open(path, O_RDONLY)) != -1);
	assert_non_null(buf = malloc(65536));
	n = read(fd, buf, 65535);
	assert_true(n >= 0);
	buf[n] = '\0';
	close(fd);
	*len_r = (size_t)n;
	return buf;
}

/* rm_entry: removes one entry of a tree (nftw callback). */
static int
rm_entry(const char *p, const struct stat *st, int type, struct FTW *ftw)
{
	return remove(p);
}

/* rmtree: removes a test directory. */
static void
rmtree(const char *dir)
{
	assert_int_equal(nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS), 0);
}

/* make_fixture: a Maildir in a new directory under base. */
static int
make_fixture(void **state, const char *base)
{
	struct fixture	*f = calloc(1, sizeof(*f));

	assert_non_null(f);
	snprintf(f->dir, sizeof(f->dir), "%s/postern-deliver-XXXXXX", base);
	assert_non_null(mkdtemp(f->dir));
	snprintf(f->md, sizeof(f->md), "%s/Maildir", f->dir);
	mkmaildir(f->md);
	*state = f;
	return 0;
}

static int
setup(void **state)
{
	return make_fixture(state, "/tmp");
}

/* setup_shm: on a memory file system where there is one, whose fsync
 * costs nothing: for many deliveries in little time. */
static int
setup_shm(void **state)
{
	struct stat	 st;

	if (stat("/dev/shm", &st) == 0 && S_ISDIR(st.st_mode) &&
	    access("/dev/shm", W_OK) == 0)
		return make_fixture(state, "/dev/shm");
	return make_fixture(state, "/tmp");
}

static int
teardown(void **state)
{
	struct fixture	*f = *state;

	rmtree(f->dir);
	free(f);
	return 0;
}

/*
 * deliver_parts: delivers the parts (NULL-terminated, each written with
 * its own deliver_write) and checks the stored text, ,S=, ,W=, that ,W=
 * is what maildir_count_size() counts, and that tmp/ is empty after.
 */
static void
deliver_parts(struct fixture *f, const char *const *parts,
    const char *stored, off_t want_w)
{
	struct delivery	*d;
	char		 name[DELIVER_NAME_MAX], path[1024];
	char		*text;
	size_t		 len;
	off_t		 s, w, ns, nw, counted;
	int		 fd;

	assert_non_null(d = deliver_begin(f->md, NULL));
	for (; *parts != NULL; parts++)
		assert_int_equal(deliver_write(d, *parts, strlen(*parts)), 0);
	assert_int_equal(deliver_commit(&d, name, sizeof(name), &s, &w), 0);
	assert_null(d);
	text = slurp(f->md, name, &len);
	assert_int_equal(len, strlen(stored));
	assert_memory_equal(text, stored, len);
	free(text);
	assert_int_equal(s, (off_t)strlen(stored));
	assert_int_equal(w, want_w);
	maildir_name_sizes(name, strlen(name), &ns, &nw);
	assert_int_equal(ns, s);
	assert_int_equal(nw, w);
	snprintf(path, sizeof(path), "%s/new/%s", f->md, name);
	assert_true((fd = open(path, O_RDONLY)) != -1);
	assert_int_equal(maildir_count_size(fd, &counted), 0);
	close(fd);
	assert_int_equal(counted, w);
	assert_int_equal(count(f->md, "tmp"), 0);
	assert_int_equal(unlink(path), 0);
}

/* The stored text and both sizes, for LF, CRLF and odd line ends. */
static void
test_sizes(void **state)
{
	struct fixture	*f = *state;
	const char	*lf[] = { "Subject: x\n\nbody\n", NULL };
	const char	*crlf[] = { "Subject: x\r\n\r\nbody\r\n", NULL };
	const char	*split[] = { "a\r", "\nb\r", "\r\n", "c\r", NULL };
	const char	*nonl[] = { "abc", NULL };
	const char	*empty[] = { NULL };
	const char	*lone[] = { "a\rb\n", "\r", NULL };
	const char	*many[] = { "x", "", "y\n", "\n", NULL };

	deliver_parts(f, lf, "Subject: x\n\nbody\n", 20);
	deliver_parts(f, crlf, "Subject: x\n\nbody\n", 20);
	/* "\r\r\n" keeps its first CR; a final CR is kept. */
	deliver_parts(f, split, "a\nb\r\nc\r", 7 + 1 + 2);
	deliver_parts(f, nonl, "abc", 5);
	deliver_parts(f, empty, "", 0);
	deliver_parts(f, lone, "a\rb\n\r", 5 + 1 + 2);
	deliver_parts(f, many, "xy\n\n", 6);
}

/* Unique names have the documented shape and never repeat. */
static void
test_unique(void **state)
{
	struct fixture	*f = *state;
	struct delivery	*d;
	char		 name[DELIVER_NAME_MAX], want[64];
	char		*p;
	int		 i;

	for (i = 0; i < 1000; i++) {
		assert_non_null(d = deliver_begin(f->md, NULL));
		assert_int_equal(deliver_write(d, "x\n", 2), 0);
		assert_int_equal(deliver_commit(&d, name, sizeof(name), NULL,
		    NULL), 0);
		/* SECONDS.MusecPpidQn.HOST,S=2,W=3 */
		p = name + strspn(name, "0123456789");
		assert_true(p > name && strncmp(p, ".M", 2) == 0);
		p += 2 + strspn(p + 2, "0123456789");
		snprintf(want, sizeof(want), "P%ldQ", (long)getpid());
		assert_true(strncmp(p, want, strlen(want)) == 0);
		assert_non_null(strstr(name, ",S=2,W=3"));
		assert_null(strchr(name, ':'));
		assert_null(strchr(name, '/'));
	}
	assert_int_equal(count(f->md, "new"), 1000);
	assert_int_equal(count(f->md, "tmp"), 0);
}

/* The host name is escaped as Courier does. */
static void
test_hostname(void **state)
{
	struct fixture	*f = *state;
	struct delivery	*d;
	char		 name[DELIVER_NAME_MAX];
	int		 status;
	pid_t		 pid;

#ifndef __linux__
	skip();		/* a UTS namespace sets the host name */
#else
	pid = fork();
	assert_true(pid != -1);
	if (pid == 0) {
		if (unshare(CLONE_NEWUTS) == -1 ||
		    sethostname("a/b:c,d", 7) == -1)
			_exit(77);
		if ((d = deliver_begin(f->md, NULL)) == NULL ||
		    deliver_commit(&d, name, sizeof(name), NULL, NULL) == -1)
			_exit(1);
		_exit(strstr(name, ".a\\057b\\072c\\054d,S=0,W=0") != NULL ?
		    0 : 2);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	if (WEXITSTATUS(status) == 77)
		skip();		/* not root: no UTS namespace */
	assert_int_equal(WEXITSTATUS(status), 0);
#endif
}

/* Abort removes the tmp/ file and shows nothing. */
static void
test_abort(void **state)
{
	struct fixture	*f = *state;
	struct delivery	*d;

	assert_non_null(d = deliver_begin(f->md, NULL));
	assert_int_equal(deliver_write(d, "half a mess", 11), 0);
	assert_int_equal(count(f->md, "tmp"), 1);
	deliver_abort(&d);
	assert_null(d);
	deliver_abort(&d);
	nothing_left(f->md);
}

/* A missing tmp/ is a temporary failure; a symlinked one permanent. */
static void
test_bad_maildir(void **state)
{
	struct fixture	*f = *state;
	char		 path[512];

	snprintf(path, sizeof(path), "%s/tmp", f->md);
	assert_int_equal(rmdir(path), 0);
	assert_null(deliver_begin(f->md, NULL));
	assert_int_equal(errno, ENOENT);
	assert_true(deliver_tempfail(errno));
	assert_int_equal(symlink("new", path), 0);
	assert_null(deliver_begin(f->md, NULL));
	assert_true(errno == ELOOP || errno == ENOTDIR);
	assert_false(deliver_tempfail(errno));
	assert_int_equal(count(f->md, "new"), 0);
	snprintf(path, sizeof(path), "%s/nowhere", f->dir);
	assert_null(deliver_begin(path, NULL));
	assert_int_equal(errno, ENOENT);
}

/* tmp_fd: this process's descriptor open on a file in dir/tmp/, or -1
 * where /proc cannot tell. */
static int
tmp_fd(const char *md)
{
	char		 link[300], target[1024], want[512];
	DIR		*dp;
	struct dirent	*e;
	ssize_t		 n;
	int		 fd = -1;

	snprintf(want, sizeof(want), "%s/tmp/", md);
	if ((dp = opendir("/proc/self/fd")) == NULL)
		return -1;
	while ((e = readdir(dp)) != NULL) {
		snprintf(link, sizeof(link), "/proc/self/fd/%s", e->d_name);
		n = readlink(link, target, sizeof(target) - 1);
		if (n <= 0)
			continue;
		target[n] = '\0';
		if (strncmp(target, want, strlen(want)) == 0)
			fd = (int)strtol(e->d_name, NULL, 10);
	}
	closedir(dp);
	return fd;
}

/* A write that fails (the file's descriptor closed under it) fails the
 * delivery and leaves nothing behind. */
static void
test_write_error(void **state)
{
	struct fixture	*f = *state;
	struct delivery	*d;
	char		 name[DELIVER_NAME_MAX], *big;
	int		 fd;

	assert_non_null(d = deliver_begin(f->md, NULL));
	if ((fd = tmp_fd(f->md)) == -1) {
		deliver_abort(&d);
		skip();
	}
	assert_int_equal(close(fd), 0);
	assert_non_null(big = calloc(1, 200000));
	memset(big, 'x', 200000);
	assert_int_equal(deliver_write(d, big, 200000), -1);
	assert_int_equal(errno, EBADF);
	assert_int_equal(deliver_write(d, "x", 1), -1);
	free(big);
	assert_int_equal(deliver_commit(&d, name, sizeof(name), NULL, NULL),
	    -1);
	assert_int_equal(errno, EBADF);
	assert_null(d);
	nothing_left(f->md);

	/* A failure only seen at commit (fsync of a closed file). */
	assert_non_null(d = deliver_begin(f->md, NULL));
	assert_int_equal(close(tmp_fd(f->md)), 0);
	assert_int_equal(deliver_write(d, "short\n", 6), 0);
	assert_int_equal(deliver_commit(&d, name, sizeof(name), NULL, NULL),
	    -1);
	assert_int_equal(errno, EBADF);
	nothing_left(f->md);
}

/* A file size limit: EFBIG, permanent, nothing left behind. */
static void
test_file_too_big(void **state)
{
	struct fixture	*f = *state;
	struct delivery	*d;
	struct rlimit	 rl = { 100000, 100000 };
	char		 name[DELIVER_NAME_MAX], buf[4096];
	int		 status, i, rc = 0;
	pid_t		 pid;

	memset(buf, 'y', sizeof(buf));
	pid = fork();
	assert_true(pid != -1);
	if (pid == 0) {
		signal(SIGXFSZ, SIG_IGN);
		if (setrlimit(RLIMIT_FSIZE, &rl) == -1)
			_exit(2);
		if ((d = deliver_begin(f->md, NULL)) == NULL)
			_exit(3);
		for (i = 0; i < 100 && rc == 0; i++)
			rc = deliver_write(d, buf, sizeof(buf));
		if (rc == 0)
			rc = deliver_commit(&d, name, sizeof(name), NULL,
			    NULL);
		else
			deliver_abort(&d);
		_exit(rc == -1 && errno == EFBIG && !deliver_tempfail(errno) ?
		    0 : 1);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
	nothing_left(f->md);
}

/* A full file system: ENOSPC, temporary, nothing left behind.  Needs
 * root for a small tmpfs. */
static void
test_disk_full(void **state)
{
	struct fixture	*f = *state;
	struct delivery	*d;
	char		 mnt[128], md[256], name[DELIVER_NAME_MAX], buf[8192];
	int		 i, rc = 0, err = 0;

#ifndef __linux__
	skip();		/* mount(2) differs on the BSDs */
#else
	snprintf(mnt, sizeof(mnt), "%s/small", f->dir);
	assert_int_equal(mkdir(mnt, 0700), 0);
	if (mount("tmpfs", mnt, "tmpfs", 0, "size=64k") == -1)
		skip();
	snprintf(md, sizeof(md), "%s/Maildir", mnt);
	mkmaildir(md);
	memset(buf, 'z', sizeof(buf));
	assert_non_null(d = deliver_begin(md, NULL));
	for (i = 0; i < 64 && rc == 0; i++)
		rc = deliver_write(d, buf, sizeof(buf));
	if (rc == 0)
		rc = deliver_commit(&d, name, sizeof(name), NULL, NULL);
	else
		deliver_abort(&d);
	err = errno;
	assert_int_equal(rc, -1);
	assert_int_equal(err, ENOSPC);
	assert_true(deliver_tempfail(err));
	nothing_left(md);
	/* The same Maildir takes a small message afterwards. */
	assert_non_null(d = deliver_begin(md, NULL));
	assert_int_equal(deliver_write(d, "ok\n", 3), 0);
	assert_int_equal(deliver_commit(&d, name, sizeof(name), NULL, NULL),
	    0);
	assert_int_equal(umount(mnt), 0);
#endif
}

/* maxrss_kb: the peak resident size of this process in KiB. */
static long
maxrss_kb(void)
{
	struct rusage	 ru;

	assert_int_equal(getrusage(RUSAGE_SELF, &ru), 0);
	return ru.ru_maxrss;
}

/* 20 MiB in CRLF lines from a pipe: the peak memory grows by far less
 * than the message, and ,W= is exact. */
static void
test_stream_20mib(void **state)
{
	struct fixture	*f = *state;
	struct delivery	*d;
	char		 name[DELIVER_NAME_MAX], line[1024];
	off_t		 s, w;
	long		 before;
	int		 p[2], status, i;
	pid_t		 pid;

	memset(line, 'm', sizeof(line));
	line[sizeof(line) - 2] = '\r';
	line[sizeof(line) - 1] = '\n';
	assert_int_equal(pipe(p), 0);
	pid = fork();
	assert_true(pid != -1);
	if (pid == 0) {
		close(p[0]);
		for (i = 0; i < 20 * 1024; i++)
			if (write(p[1], line, sizeof(line)) !=
			    (ssize_t)sizeof(line))
				_exit(1);
		_exit(0);
	}
	close(p[1]);
	before = maxrss_kb();
	assert_non_null(d = deliver_begin(f->md, NULL));
	assert_int_equal(deliver_copy(d, p[0]), 0);
	assert_int_equal(deliver_commit(&d, name, sizeof(name), &s, &w), 0);
	close(p[0]);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_int_equal(WEXITSTATUS(status), 0);
	assert_int_equal(s, 20 * 1024 * 1023);
	assert_int_equal(w, 20 * 1024 * 1024);
	/* 20 MiB went through; the peak grew by less than 4 MiB. */
	assert_true(maxrss_kb() - before < 4096);
}

/* Folder names: what is refused. */
static void
test_folder_names(void **state)
{
	char	 long_name[DELIVER_FOLDER_MAX + 2];

	assert_true(deliver_folder_valid("INBOX"));
	assert_true(deliver_folder_valid("inbox"));
	assert_true(deliver_folder_valid("Sent"));
	assert_true(deliver_folder_valid("INBOX.Sent"));
	assert_true(deliver_folder_valid("Lists.postern dev"));
	assert_false(deliver_folder_valid(""));
	assert_false(deliver_folder_valid("INBOX."));
	assert_false(deliver_folder_valid(".Sent"));
	assert_false(deliver_folder_valid("Sent."));
	assert_false(deliver_folder_valid("a..b"));
	assert_false(deliver_folder_valid(".."));
	assert_false(deliver_folder_valid("a/b"));
	assert_false(deliver_folder_valid("../../etc"));
	assert_false(deliver_folder_valid("tab\there"));
	assert_false(deliver_folder_valid("Gr\xc3\xbc\xc3\x9f" "e"));
	memset(long_name, 'a', sizeof(long_name) - 1);
	long_name[sizeof(long_name) - 1] = '\0';
	assert_false(deliver_folder_valid(long_name));
	long_name[DELIVER_FOLDER_MAX] = '\0';
	assert_true(deliver_folder_valid(long_name));
}

/* Delivery into a folder that exists, and into INBOX when it does not. */
static void
test_folders(void **state)
{
	struct fixture	*f = *state;
	struct delivery	*d;
	char		 name[DELIVER_NAME_MAX], path[512];

	snprintf(path, sizeof(path), "%s/.Sent", f->md);
	mkmaildir(path);
	assert_non_null(d = deliver_begin(f->md, "Sent"));
	assert_string_equal(deliver_folder(d), "Sent");
	assert_int_equal(deliver_commit(&d, name, sizeof(name), NULL, NULL),
	    0);
	assert_int_equal(count(path, "new"), 1);
	assert_non_null(d = deliver_begin(f->md, "INBOX.Sent"));
	assert_int_equal(deliver_commit(&d, name, sizeof(name), NULL, NULL),
	    0);
	assert_int_equal(count(path, "new"), 2);
	assert_int_equal(count(f->md, "new"), 0);

	assert_non_null(d = deliver_begin(f->md, "Drafts"));
	assert_string_equal(deliver_folder(d), "");
	assert_int_equal(deliver_commit(&d, name, sizeof(name), NULL, NULL),
	    0);
	assert_non_null(d = deliver_begin(f->md, "INBOX"));
	assert_int_equal(deliver_commit(&d, name, sizeof(name), NULL, NULL),
	    0);
	assert_int_equal(count(f->md, "new"), 2);

	/* A folder without tmp/ is no folder: INBOX. */
	snprintf(path, sizeof(path), "%s/.Half", f->md);
	assert_int_equal(mkdir(path, 0700), 0);
	assert_non_null(d = deliver_begin(f->md, "Half"));
	assert_string_equal(deliver_folder(d), "");
	deliver_abort(&d);

	assert_null(deliver_begin(f->md, "../x"));
	assert_int_equal(errno, EINVAL);
	assert_false(deliver_tempfail(errno));
	assert_int_equal(count(f->md, "tmp"), 0);
}

/* The dirfd form leaves the caller's descriptor open. */
static void
test_begin_at(void **state)
{
	struct fixture	*f = *state;
	struct delivery	*d;
	char		 name[DELIVER_NAME_MAX];
	int		 dirfd;

	assert_true((dirfd = open(f->md, O_RDONLY | O_DIRECTORY)) != -1);
	assert_non_null(d = deliver_begin_at(dirfd, f->md, NULL));
	assert_int_equal(deliver_write(d, "x\n", 2), 0);
	assert_int_equal(deliver_commit(&d, name, sizeof(name), NULL, NULL),
	    0);
	assert_int_equal(fcntl(dirfd, F_GETFD), 0);
	close(dirfd);
	assert_int_equal(count(f->md, "new"), 1);
}

/* A Maildir without cur/, or with a symlink or a file for it, takes no
 * delivery: ENOENT (temporary), else ENOTDIR (permanent); nothing is
 * left in tmp/ or new/. */
static void
test_no_cur(void **state)
{
	struct fixture	*f = *state;
	char		 path[512];

	snprintf(path, sizeof(path), "%s/cur", f->md);
	assert_int_equal(rmdir(path), 0);
	assert_null(deliver_begin(f->md, NULL));
	assert_int_equal(errno, ENOENT);
	assert_true(deliver_tempfail(errno));
	assert_int_equal(symlink("new", path), 0);
	assert_null(deliver_begin(f->md, NULL));
	assert_int_equal(errno, ENOTDIR);
	assert_false(deliver_tempfail(errno));
	assert_int_equal(unlink(path), 0);
	assert_int_equal(mkfifo(path, 0600), 0);
	assert_null(deliver_begin(f->md, NULL));
	assert_int_equal(errno, ENOTDIR);
	assert_int_equal(count(f->md, "tmp"), 0);
	assert_int_equal(count(f->md, "new"), 0);
}

/* A name buffer too small for the final name: ENAMETOOLONG, and the
 * message is neither in new/ nor left in tmp/. */
static void
test_name_buffer_small(void **state)
{
	struct fixture	*f = *state;
	struct delivery	*d;
	char		 name[16];

	assert_non_null(d = deliver_begin(f->md, NULL));
	assert_int_equal(deliver_write(d, "x\n", 2), 0);
	assert_int_equal(deliver_commit(&d, name, sizeof(name), NULL, NULL),
	    -1);
	assert_int_equal(errno, ENAMETOOLONG);
	assert_null(d);
	nothing_left(f->md);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_sizes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_unique, setup_shm,
		    teardown),
		cmocka_unit_test_setup_teardown(test_hostname, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_abort, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_maildir, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_write_error, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_file_too_big, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_disk_full, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_stream_20mib, setup,
		    teardown),
		cmocka_unit_test(test_folder_names),
		cmocka_unit_test_setup_teardown(test_folders, setup, teardown),
		cmocka_unit_test_setup_teardown(test_begin_at, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_no_cur, setup, teardown),
		cmocka_unit_test_setup_teardown(test_name_buffer_small, setup,
		    teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
