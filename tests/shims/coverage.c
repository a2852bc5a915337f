/*
 * coverage.c: an LD_PRELOAD shim for tests/coverage.sh, which runs the
 * suite on a build made with gcc --coverage.  Test code only: never
 * installed.
 *
 * Processes that end with _exit(2) (forked children: workers, session
 * processes, the unit tests' servers) would lose their counts, which gcc
 * writes at exit(3): _exit writes them first.  chroot(2) succeeds without
 * moving, so that pre-login workers can still reach the build directory
 * to write theirs (the tests that look for the chroot then fail).
 */
#define _GNU_SOURCE
#include <sys/syscall.h>

#include <dlfcn.h>
#include <unistd.h>

void
_exit(int status)
{
	void	(*dump)(void);

	/* Exported by the binaries tests/coverage.sh links. */
	*(void **)&dump = dlsym(RTLD_DEFAULT, "__gcov_dump");
	if (dump != NULL)
		dump();
	syscall(SYS_exit_group, status);
	for (;;)
		;
}

int
chroot(const char *path)
{
	(void)path;
	return 0;
}
