/*
 * common.h: what the fuzz harnesses share: a quiet start, temporary
 * directories that go away at exit, whole-file writes, the descriptor
 * leak check, and the check that stops a run when an invariant breaks.  Harness-only code: nothing
 * in the server includes it.
 */
#ifndef POSTERN_FUZZ_COMMON_H
#define POSTERN_FUZZ_COMMON_H

#include <stddef.h>
#include <stdint.h>

/* The libFuzzer entry points each harness defines (replay.c calls them). */
int	LLVMFuzzerInitialize(int *argc, char ***argv);
int	LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Stops the run with a message naming the broken invariant: an abort, so
 * that libFuzzer saves the input and the replay binary exits non-zero. */
#define FUZZ_CHECK(cond)						\
	do {								\
		if (!(cond))						\
			fuzz_fail(__FILE__, __LINE__, #cond);		\
	} while (0)

void	fuzz_fail(const char *file, int line, const char *what)
	    __attribute__((noreturn));

/* Starts logging (to stderr, without debug lines) and ignores SIGPIPE. */
void	fuzz_init(const char *ident);
/*
 * A new directory under $TMPDIR (else /dev/shm, else /tmp) named
 * postern-fuzz-TAG-XXXXXX, removed with everything in it when the
 * process exits normally.  The path is static storage; every failure
 * aborts.
 */
const char *fuzz_tempdir(const char *tag);
/* Writes len octets to path (created or truncated, mode 0600); aborts on
 * a failure. */
void	fuzz_write_file(const char *path, const void *data, size_t len);
/* Removes every entry of directory path (not the directory itself),
 * recursively.  0, or -1 if something stayed. */
int	fuzz_empty_dir(const char *path);
/* Builds "a/b" into out; aborts when it does not fit. */
void	fuzz_path(char *out, size_t outlen, const char *a, const char *b);
/* The descriptor the next open() would get: the same before and after a
 * run, or the run leaked one. */
int	fuzz_lowest_fd(void);

#endif
