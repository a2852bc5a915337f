/*
 * privsep.h: who each process is.  Pre-login workers run as an
 * unprivileged user chrooted to an empty directory; session processes
 * run as the mail user; nothing that reads a client's bytes keeps root.
 * Privilege separation is on whenever posternd starts as root.
 */
#ifndef POSTERN_PRIVSEP_H
#define POSTERN_PRIVSEP_H

#include <sys/types.h>
#include <stdbool.h>

#include "server/auth.h"
#include "server/conf.h"

/*
 * Resolves the unprivileged user and the mail user and prepares the
 * empty chroot directory, in the master before anything forks; fills
 * conf's privsep fields.  Refuses an lmtp_temp_dir that LMTP's sessions
 * (as mail_user, else as user) cannot make files in, when a listener
 * serves LMTP.  Returns 0, or -1 after logging why.
 */
int	privsep_init(struct conf *conf);
/*
 * What privsep_init() would refuse, without making or logging anything:
 * run as root, whether user and mail_user exist and are not root, and
 * whether the chroot directory is root's and writable by no one else
 * (or is missing from a directory that exists, for the start to make
 * it), and whether LMTP's sessions can make files in lmtp_temp_dir.  Not root: nothing to check.  Returns 0, or -1 with the reason
 * in why.  For posternd -n and postern check.
 */
int	privsep_check(const struct conf *conf, char *why, size_t len);

/* In a new pre-login worker: chroot, then take the unprivileged user's
 * identity for good, then narrow the system calls it may make
 * (compat_sandbox(SANDBOX_PRELOGIN); a kernel that refuses is logged, and
 * the worker goes on without).  Exits the process if either of the first
 * two fails. */
void	privsep_sandbox(const struct conf *conf);

/* In the child of a local worker that stays root, which serves the
 * session: forgets the account database and takes the unprivileged
 * user's identity for good, with the pre-login workers' system call
 * filter, but no chroot (LMTP writes its spool in lmtp_temp_dir).
 * Returns 0, or -1 after logging why. */
int	privsep_unroot(const struct conf *conf);

/* In a process that stays root (who: "auth process", "local worker"),
 * once at its start: narrows the system calls it, and every process it
 * forks, may make (compat_sandbox(SANDBOX_ROOT): the kernel's larger
 * surfaces, which neither PAM nor a session needs; a kernel that refuses
 * is logged, and the process goes on without). */
void	privsep_root_sandbox(const struct conf *conf, const char *who);

/*
 * The uid and gid an account runs as: its own, or the mail_user's when it
 * names none.  Returns 0, or -1 after logging why it must be refused
 * (uid 0; no identity known while we are root).  Not root: our own.
 */
int	privsep_identity(const struct conf *conf, const struct auth_user *u,
	    uid_t *uid_r, gid_t *gid_r);

/*
 * Whether account u runs as this process's uid, so that this process
 * may write its Maildir: 1 yes; 0 no, it runs as another user id (which
 * only root can take); -1 never (uid 0, or no identity known while
 * root; logged).
 */
int	privsep_own(const struct conf *conf, const struct auth_user *u);

/*
 * Takes the identity an account runs as, for good: its uid and gid, or
 * the mail_user's when it names none.  Returns 0 when done (or nothing
 * to do: not root and the account is ours), -1 after logging why: uid 0,
 * no identity known while root, or a failing set*id call (the caller
 * must then end the process).  Before root is given up, the process's
 * copy of the passwd-file, every account's hash in it, is dropped
 * (passwd_forget()), and the session's system call filter is set
 * (compat_sandbox(SANDBOX_SESSION); a kernel that refuses is logged).
 */
int	privsep_become(const struct conf *conf, const struct auth_user *u);

#endif
