/*
 * compat.c: the Linux-only calls, each beside its BSD equivalent or a
 * documented no-op (compat.h).
 */
#include <sys/types.h>
#include <sys/socket.h>
#include <sys/time.h>

#ifdef __linux__
#include <sys/mman.h>

#include <malloc.h>
#include <stdint.h>
#include <unistd.h>
#endif

#include "server/compat.h"

/* How much of the stack below the caller compat_shed_memory drops: more
 * than any parent's frames reach, less than the guard gap below. */
#define SHED_STACK	(256 * 1024)

#ifdef __linux__
/* shed_stack: drops the stack pages below the caller's frames.  Not
 * inlined, so that its own frame is below the caller's. */
static void __attribute__((noinline))
shed_stack(void)
{
	volatile char	 here = 0;
	uintptr_t	 page = (uintptr_t)sysconf(_SC_PAGESIZE);
	uintptr_t	 end;

	/* Two pages of margin below this frame: this call and madvise's. */
	end = ((uintptr_t)&here & ~(page - 1)) - 2 * page;
	/* Addresses below the stack's mapping give ENOMEM after the rest
	 * is done: nothing to report. */
	(void)madvise((void *)(end - SHED_STACK), SHED_STACK, MADV_DONTNEED);
	(void)here;
}
#endif

int
compat_accept_wakes(int fd)
{
#ifdef __linux__
	struct timeval	 tv = { COMPAT_ACCEPT_WAKE, 0 };

	return setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
#else
	(void)fd;
	return -1;
#endif
}

void
compat_shed_memory(void)
{
#ifdef __linux__
	(void)malloc_trim(0);
	shed_stack();
#endif
}
