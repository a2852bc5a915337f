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
 * again; builds with AddressSanitizer keep it).  And so that a worker
 * serving session after session stays as small as a new one, fixes
 * glibc's malloc thresholds at COMPAT_HEAP_KEPT: a larger allocation (a
 * large maildrop's listing) is a mapping of its own, unmapped at free(),
 * and more free memory than that at the heap's top is returned.  glibc
 * would raise both after the first large free(), up to 32 and 64 MB, and
 * keep what the largest session used: about 8 MB after a maildrop of
 * 200,000 messages.  Linux only; elsewhere a no-op (OpenBSD's and
 * FreeBSD's malloc already return free pages).
 */
void	compat_shed_memory(void);
#define COMPAT_HEAP_KEPT	(1024 * 1024)

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

/* Who compat_sandbox() narrows. */
enum compat_sandbox {
	SANDBOX_PRELOGIN,	/* a pre-login worker, as its user */
	SANDBOX_SESSION,	/* a process about to give up root for an
				   account or mail_user, still root */
	SANDBOX_ROOT,		/* a process that stays root: the auth
				   process, a local worker without
				   mail_user */
};

/*
 * Narrows what a process may ask of the kernel: the system calls no mail
 * process makes fail with EPERM from then on, for it and every program
 * it runs.  Linux on x86-64 and arm64, with seccomp filters:
 *
 * Every kind: tracing or reading other processes (ptrace,
 * process_vm_readv and _writev, pidfd_getfd, kcmp); new namespaces
 * (unshare, setns, clone with a CLONE_NEW* flag; clone3 says ENOSYS, so
 * that the C library falls back to clone); mounts and chroot; the
 * kernel's larger surfaces (bpf, io_uring, userfaultfd, perf_event_open,
 * keyctl and its kin but in SANDBOX_ROOT, modules, kexec, file handles);
 * the system's settings (clocks, reboot, swap, host name, the kernel
 * log); and every call of another architecture's numbering (x32, i386).
 *
 * SANDBOX_PRELOGIN besides, with no_new_privs: running programs
 * (execve, execveat); new sockets of any address family and the
 * connections they would make (socket, connect, bind, listen; the
 * socketpair that a TLS relay needs stays); and signals to any process
 * but itself (kill, tkill, tgkill and the sigqueue calls must name it;
 * pidfd_open and pidfd_send_signal fail).
 *
 * SANDBOX_SESSION is set while the process is root, without
 * no_new_privs, so that a program a session runs (papm_relay_command,
 * Postfix's set-group-ID sendmail) keeps its privileges; it fails with
 * EACCES in a process that is not.
 *
 * SANDBOX_ROOT is every kind's part but the keyring calls (keyctl,
 * add_key, request_key), which PAM modules use (pam_keyinit, pam_krb5's
 * caches), without no_new_privs: PAM's helpers are programs too.  The
 * children of such a process inherit it, so in them SANDBOX_SESSION
 * adds only the keyring calls.
 *
 * Builds with AddressSanitizer, whose leak check traces the process as
 * it exits, leave ptrace and signals alone.  Returns 0 when the filters
 * are in place, -1 when the kernel refused them (errno set).  Elsewhere
 * a no-op that returns 1: OpenBSD's pledge(2) and FreeBSD's capsicum(4)
 * would do this there, with an allowlist; they are not used yet, as no
 * OpenBSD or FreeBSD machine runs the tests, and a promise missed would
 * end every worker (posternd(8), BUGS).
 */
int	compat_sandbox(enum compat_sandbox kind);

#endif
