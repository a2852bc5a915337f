/*
 * compat.c: the Linux-only calls, each beside its BSD equivalent or a
 * documented no-op (compat.h).
 */
#include <sys/types.h>
#include <sys/socket.h>
#include <sys/time.h>

#ifdef __linux__
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>

#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/sched.h>
#include <linux/seccomp.h>

#include <errno.h>
#include <malloc.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <unistd.h>
#endif

#include "server/compat.h"

/* How much of the stack below the caller compat_shed_memory drops: more
 * than any parent's frames reach, less than the guard gap below. */
#define SHED_STACK	(256 * 1024)

/* Builds with AddressSanitizer: its leak check traces the process as it
 * exits, and its fake stack (detect_stack_use_after_return) crashed in a
 * worker that had dropped its stack pages (shed_stack) and then called
 * fatal().  Such test builds keep their stack, and let ptrace and
 * signals through the filters. */
#if defined(__SANITIZE_ADDRESS__)
#define COMPAT_ASAN	1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define COMPAT_ASAN	1
#endif
#endif

#if defined(__linux__) && !defined(COMPAT_ASAN)
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
#ifdef M_MMAP_THRESHOLD
	(void)mallopt(M_MMAP_THRESHOLD, COMPAT_HEAP_KEPT);
	(void)mallopt(M_TRIM_THRESHOLD, COMPAT_HEAP_KEPT);
#endif
#ifndef COMPAT_ASAN
	shed_stack();
#endif
#endif
}

#if defined(__linux__) && (defined(__x86_64__) || defined(__aarch64__))
#define SANDBOX_FILTER	1

#if defined(__x86_64__)
#define SANDBOX_ARCH	AUDIT_ARCH_X86_64
#else
#define SANDBOX_ARCH	AUDIT_ARCH_AARCH64
#endif

#ifdef COMPAT_ASAN
#define SANDBOX_TRACED	1
#endif

/* The same numbers on both architectures, for older headers. */
#ifndef __NR_pidfd_send_signal
#define __NR_pidfd_send_signal	424
#endif
#ifndef __NR_pidfd_open
#define __NR_pidfd_open		434
#endif

/* The flags of clone(2) that make a new namespace. */
#define SANDBOX_CLONE_NEW	(CLONE_NEWNS | CLONE_NEWUTS | CLONE_NEWIPC | \
	CLONE_NEWUSER | CLONE_NEWPID | CLONE_NEWNET | CLONE_NEWCGROUP)

#define SB_LOAD(field)	BPF_STMT(BPF_LD | BPF_W | BPF_ABS, \
	offsetof(struct seccomp_data, field))
#define SB_RET(what)	BPF_STMT(BPF_RET | BPF_K, (what))
#define SB_EPERM	SB_RET(SECCOMP_RET_ERRNO | (EPERM & SECCOMP_RET_DATA))
#define NELEM(a)	(sizeof(a) / sizeof((a)[0]))
/* System call nr fails with EPERM; others go on to the next test. */
#define SB_DENY(nr)	BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, (nr), 0, 1), \
	SB_EPERM

/* Every sandboxed process: the kernel's surfaces no mail process needs. */
static const struct sock_filter kernel_filter[] = {
	/* Another architecture's numbering: nothing. */
	SB_LOAD(arch),
	BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SANDBOX_ARCH, 1, 0),
	SB_EPERM,
	SB_LOAD(nr),
#if defined(__x86_64__)
	BPF_JUMP(BPF_JMP | BPF_JGE | BPF_K, 0x40000000, 0, 1),	/* x32 */
	SB_EPERM,
#endif
	/* clone: allowed without a namespace flag (the flags are the first
	 * argument's low word on both architectures). */
	BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_clone, 0, 4),
	SB_LOAD(args[0]),
	BPF_JUMP(BPF_JMP | BPF_JSET | BPF_K, SANDBOX_CLONE_NEW, 0, 1),
	SB_EPERM,
	SB_RET(SECCOMP_RET_ALLOW),
#ifdef __NR_clone3
	BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_clone3, 0, 1),
	SB_RET(SECCOMP_RET_ERRNO | (ENOSYS & SECCOMP_RET_DATA)),
#endif
	/* Other processes. */
#ifndef SANDBOX_TRACED
	SB_DENY(__NR_ptrace),
#endif
	SB_DENY(__NR_process_vm_readv),
	SB_DENY(__NR_process_vm_writev),
	SB_DENY(__NR_kcmp),
#ifdef __NR_pidfd_getfd
	SB_DENY(__NR_pidfd_getfd),
#endif
	/* Namespaces, mounts, the root. */
	SB_DENY(__NR_unshare),
	SB_DENY(__NR_setns),
	SB_DENY(__NR_mount),
	SB_DENY(__NR_umount2),
	SB_DENY(__NR_pivot_root),
	SB_DENY(__NR_chroot),
#ifdef __NR_open_tree
	SB_DENY(__NR_open_tree),
	SB_DENY(__NR_move_mount),
	SB_DENY(__NR_fsopen),
	SB_DENY(__NR_fsconfig),
	SB_DENY(__NR_fsmount),
	SB_DENY(__NR_fspick),
#endif
	SB_DENY(__NR_name_to_handle_at),
	SB_DENY(__NR_open_by_handle_at),
	/* The kernel's larger surfaces. */
	SB_DENY(__NR_bpf),
	SB_DENY(__NR_perf_event_open),
	SB_DENY(__NR_userfaultfd),
#ifdef __NR_io_uring_setup
	SB_DENY(__NR_io_uring_setup),
	SB_DENY(__NR_io_uring_enter),
	SB_DENY(__NR_io_uring_register),
#endif
	SB_DENY(__NR_init_module),
	SB_DENY(__NR_finit_module),
	SB_DENY(__NR_delete_module),
	SB_DENY(__NR_kexec_load),
	SB_DENY(__NR_kexec_file_load),
	SB_DENY(__NR_fanotify_init),
	SB_DENY(__NR_personality),
	/* The system's settings. */
	SB_DENY(__NR_reboot),
	SB_DENY(__NR_swapon),
	SB_DENY(__NR_swapoff),
	SB_DENY(__NR_acct),
	SB_DENY(__NR_settimeofday),
	SB_DENY(__NR_clock_settime),
	SB_DENY(__NR_clock_adjtime),
	SB_DENY(__NR_adjtimex),
	SB_DENY(__NR_sethostname),
	SB_DENY(__NR_setdomainname),
	SB_DENY(__NR_syslog),
	SB_DENY(__NR_quotactl),
	SB_DENY(__NR_mknodat),
#ifdef __NR_mknod
	SB_DENY(__NR_mknod),
#endif
	SB_RET(SECCOMP_RET_ALLOW),
};

/* Every sandboxed process but those that stay root: no keyrings.  Like the
 * next filter, it need not look at the architecture: where several
 * filters answer, the strictest answer wins, and the first refuses every
 * call of another one. */
static const struct sock_filter keyring_filter[] = {
	SB_LOAD(nr),
	SB_DENY(__NR_keyctl),
	SB_DENY(__NR_add_key),
	SB_DENY(__NR_request_key),
	SB_RET(SECCOMP_RET_ALLOW),
};

/* Pre-login workers besides: no programs, no new sockets. */
static const struct sock_filter prelogin_filter[] = {
	SB_LOAD(nr),
	SB_DENY(__NR_execve),
	SB_DENY(__NR_execveat),
	SB_DENY(__NR_socket),
	SB_DENY(__NR_connect),
	SB_DENY(__NR_bind),
	SB_DENY(__NR_listen),
	SB_RET(SECCOMP_RET_ALLOW),
};

/* Whether this process, or the one it was forked from, installed
 * kernel_filter: the kernel keeps a process's filters across fork(2),
 * and so does this flag.  (PR_GET_SECCOMP cannot tell: a service
 * manager's own filter, SystemCallFilter= of systemd, is one too.) */
static bool	kernel_filtered;

/* install: one filter of n instructions. */
static int
install(const struct sock_filter *f, size_t n)
{
	struct sock_fprog	 prog;

	prog.len = (unsigned short)n;
	prog.filter = (struct sock_filter *)f;
	return prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog);
}

#ifndef SANDBOX_TRACED
/* signals_filter: pre-login workers' third filter, made for the
 * process: signals go to itself only (kill, tkill, tgkill and the
 * sigqueue calls name it first), and no other process can be opened to
 * signal it. */
static int
signals_filter(void)
{
	const struct sock_filter	 f[] = {
		SB_LOAD(nr),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_kill, 7, 0),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_tkill, 6, 0),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_tgkill, 5, 0),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_rt_sigqueueinfo, 4, 0),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_rt_tgsigqueueinfo,
		    3, 0),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_pidfd_open, 5, 0),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_pidfd_send_signal,
		    4, 0),
		SB_RET(SECCOMP_RET_ALLOW),
		/* The first argument, the process signalled. */
		SB_LOAD(args[0]),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, (uint32_t)getpid(), 0, 1),
		SB_RET(SECCOMP_RET_ALLOW),
		SB_EPERM,
	};

	return install(f, NELEM(f));
}
#endif
#endif

int
compat_sandbox(enum compat_sandbox kind)
{
#ifdef SANDBOX_FILTER
	if (kind == SANDBOX_PRELOGIN &&
	    prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == -1)
		return -1;
	/* A child of a SANDBOX_ROOT process has its kernel_filter. */
	if (!kernel_filtered) {
		if (install(kernel_filter, NELEM(kernel_filter)) == -1)
			return -1;
		kernel_filtered = true;
	}
	if (kind == SANDBOX_ROOT)
		return 0;
	if (install(keyring_filter, NELEM(keyring_filter)) == -1)
		return -1;
	if (kind == SANDBOX_SESSION)
		return 0;
	if (install(prelogin_filter, NELEM(prelogin_filter)) == -1)
		return -1;
#ifndef SANDBOX_TRACED
	if (signals_filter() == -1)
		return -1;
#endif
	return 0;
#else
	(void)kind;
	return 1;
#endif
}
