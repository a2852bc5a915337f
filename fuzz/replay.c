/*
 * replay.c: a main() for the fuzz harnesses without libFuzzer, so that
 * `make check` can replay the seed and regression corpora with the normal
 * compiler and flags.  Each argument is a file, or a directory whose
 * files are all replayed (dot-files skipped, in name order).  It never
 * mutates an input and stops at the first failure, naming the file.
 */
#include <sys/types.h>
#include <sys/stat.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fuzz/common.h"

/* Largest input replayed: libFuzzer's inputs here are far smaller. */
#define REPLAY_MAX	(4 * 1024 * 1024)

/* replay_file: runs one input through the harness; -1 if unreadable. */
static int
replay_file(const char *path)
{
	struct stat	 st;
	uint8_t		*buf;
	size_t		 got = 0;
	ssize_t		 n;
	int		 fd;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1 ||
	    fstat(fd, &st) == -1) {
		fprintf(stderr, "replay: %s: %s\n", path, strerror(errno));
		if (fd != -1)
			close(fd);
		return -1;
	}
	if (st.st_size > REPLAY_MAX) {
		fprintf(stderr, "replay: %s: larger than %d octets\n", path,
		    REPLAY_MAX);
		close(fd);
		return -1;
	}
	/* One octet more than asked, so that an empty file is not NULL. */
	if ((buf = malloc((size_t)st.st_size + 1)) == NULL) {
		fprintf(stderr, "replay: %s: out of memory\n", path);
		close(fd);
		return -1;
	}
	while (got < (size_t)st.st_size) {
		n = read(fd, buf + got, (size_t)st.st_size - got);
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0) {
			fprintf(stderr, "replay: %s: short read\n", path);
			free(buf);
			close(fd);
			return -1;
		}
		got += (size_t)n;
	}
	close(fd);
	fprintf(stderr, "replay: %s (%zu octets)\n", path, got);
	/* A copy of exactly the input's size, as libFuzzer gives, so that
	 * a read past the end is caught by the sanitizers. */
	(void)LLVMFuzzerTestOneInput(buf, got);
	free(buf);
	return 0;
}

/* name_cmp: qsort order of directory entry names. */
static int
name_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* replay_dir: replays every file of a directory in name order; returns
 * the number of inputs run, or -1. */
static int
replay_dir(const char *path)
{
	struct dirent	*d;
	DIR		*dp;
	char		**names = NULL, **nn, file[PATH_MAX];
	size_t		 n = 0, alloc = 0, i;
	int		 rv = 0;

	if ((dp = opendir(path)) == NULL) {
		fprintf(stderr, "replay: %s: %s\n", path, strerror(errno));
		return -1;
	}
	while ((d = readdir(dp)) != NULL) {
		if (d->d_name[0] == '.')
			continue;
		if (n == alloc) {
			alloc = alloc ? alloc * 2 : 64;
			nn = reallocarray(names, alloc, sizeof(*names));
			if (nn == NULL)
				break;
			names = nn;
		}
		if ((names[n] = strdup(d->d_name)) == NULL)
			break;
		n++;
	}
	closedir(dp);
	if (n > 0)
		qsort(names, n, sizeof(*names), name_cmp);
	for (i = 0; i < n; i++) {
		if (rv >= 0) {
			if (snprintf(file, sizeof(file), "%s/%s", path,
			    names[i]) >= (int)sizeof(file) ||
			    replay_file(file) == -1)
				rv = -1;
			else
				rv++;
		}
		free(names[i]);
	}
	free(names);
	return rv;
}

/* main: replays each argument, stopping at the first failure. */
int
main(int argc, char *argv[])
{
	struct stat	 st;
	int		 i, r, total = 0;

	if (argc < 2) {
		fprintf(stderr, "usage: %s file-or-directory ...\n", argv[0]);
		return 2;
	}
	(void)LLVMFuzzerInitialize(&argc, &argv);
	for (i = 1; i < argc; i++) {
		if (stat(argv[i], &st) == -1) {
			fprintf(stderr, "replay: %s: %s\n", argv[i],
			    strerror(errno));
			return 1;
		}
		r = S_ISDIR(st.st_mode) ? replay_dir(argv[i]) :
		    replay_file(argv[i]) == 0 ? 1 : -1;
		if (r < 0)
			return 1;
		total += r;
	}
	printf("replay: %d inputs, no failure\n", total);
	return 0;
}
