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

/* How often a worker blocked in accept(2) wakes to look at its signals'
 * flags (seconds). */
#define COMPAT_ACCEPT_WAKE	5

/*
 * Makes a signal end a blocking accept(2) on the listening socket fd
 * with EINTR, whatever SA_RESTART says, and bounds the wait to
 * COMPAT_ACCEPT_WAKE seconds, so that a worker blocked there can leave
 * its signal handler to the flag it sets and stop between connections,
 * never with one accepted and unserved.  Linux: a receive timeout
 * (SO_RCVTIMEO) does both (signal(7)); 0.  The connections accepted
 * inherit it, which changes nothing here: the PROXY header is read after
 * poll(2), the io layer sets its own receive timeout before its first
 * read (io.c), and TLS makes them non-blocking.  The BSDs restart
 * accept(2) after a handler and ignore the timeout there: -1, and the
 * pool takes turns at its listener with the accept lock instead.
 */
int	compat_accept_wakes(int fd);

#endif
