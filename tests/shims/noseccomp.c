/*
 * noseccomp.c: an LD_PRELOAD shim for tests/integration/test_privsep.py
 * that makes prctl(PR_SET_SECCOMP) fail with EINVAL, as on a kernel
 * built without system call filters; every other prctl(2) goes through.
 * Test code only: never installed.
 */
#define _GNU_SOURCE
#include <sys/prctl.h>

#include <dlfcn.h>
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>

int
prctl(int option, ...)
{
	static int	(*real)(int, ...);
	unsigned long	 a[4];
	va_list		 ap;
	int		 i;

	if (option == PR_SET_SECCOMP) {
		errno = EINVAL;
		return -1;
	}
	/* As the C library's own prctl(): four arguments after option. */
	va_start(ap, option);
	for (i = 0; i < 4; i++)
		a[i] = va_arg(ap, unsigned long);
	va_end(ap);
	if (real == NULL &&
	    (real = (int (*)(int, ...))dlsym(RTLD_NEXT, "prctl")) == NULL) {
		errno = ENOSYS;
		return -1;
	}
	return real(option, a[0], a[1], a[2], a[3]);
}
