/*
 * compat.h: what differs between Linux and the BSDs beyond libbsd, in one
 * place.  Each function says what it does on each system.
 */
#ifndef POSTERN_COMPAT_H
#define POSTERN_COMPAT_H

/*
 * In a child just forked from a long-lived process: gives back to the
 * system the pages it inherited and will never use, so that they do not
 * count against it when the parent writes its copies: the free memory of
 * the malloc heap (glibc's malloc_trim) and the stack below the caller's
 * frame (MADV_DONTNEED: it reads back as zeros if the stack grows there
 * again).  Linux only; elsewhere a no-op (OpenBSD's and FreeBSD's malloc
 * already return free pages).
 */
void	compat_shed_memory(void);

#endif
