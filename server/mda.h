/*
 * mda.h: local delivery, the one path every delivery takes (LMTP, PAPM
 * push, `postern deliver`): who a recipient is (its account, its Maildir
 * and the identity its mail is written as), whether a sender is an
 * account's own address, and each recipient's copy, written by a process
 * with that identity: this one when it has it, else a delivery child
 * that takes it (root only).  Copies are two-phase: mda_begin() writes a
 * copy into tmp/, mda_end() syncs and links it into new/, or removes it.
 */
#ifndef POSTERN_MDA_H
#define POSTERN_MDA_H

#include <sys/types.h>
#include <stdbool.h>

#include "server/auth.h"
#include "server/conf.h"
#include "storage/deliver.h"

/* How a recipient lookup ended. */
enum mda_found {
	MDA_FOUND,		/* *u filled */
	MDA_UNKNOWN,		/* no such account */
	MDA_UNREADABLE,		/* the account database cannot be read */
	MDA_ROOT,		/* the account has uid 0: never delivered to */
	MDA_BADPATH,		/* the maildir template makes no path of it */
	MDA_NOIDENT,		/* no identity to deliver as (logged) */
};

/*
 * The account mail to addr goes to, in the passwd-file: the whole
 * address first, then its local part (before the last '@').  On
 * MDA_FOUND *u holds the account's name, Maildir, uid and gid (-1: none
 * named), and privsep_identity() has an identity for it.  Other results
 * leave *u cleared; only MDA_NOIDENT is logged (the caller logs the
 * others).
 */
enum mda_found mda_lookup(const struct conf *conf, const char *addr,
	    struct auth_user *u);

/*
 * The account named user as logins find it (auth_lookup(): the
 * passwd-file or the system's accounts), with *u as mda_lookup() fills
 * it.  MDA_UNKNOWN covers uid 0 there (auth_lookup() refuses it).
 */
enum mda_found mda_account(const struct conf *conf, const char *user,
	    struct auth_user *u);

/* Whether word is one of the words of list (spaces, tabs or commas
 * between them), in any case.  A NULL list has none. */
bool	mda_listed(const char *list, const char *word);
/* Whether domain d is one of this server's: its hostname, or one of
 * papm_helo_domains. */
bool	mda_local_domain(const struct conf *conf, const char *d);
/*
 * Whether addr is an address of account user: the name itself, or, for
 * a name without '@', the name at a domain of this server; for a name
 * with one ("alice@example.org"), that name, its domain in any case.
 */
bool	mda_own_address(const struct conf *conf, const char *user,
	    const char *addr);

/*
 * Writes the lines "Return-Path: <sender>" and "Delivered-To: <rcpt>" to
 * d, each left out when NULL.  Returns 0, or -1 with errno set
 * (ENAMETOOLONG: a line over 1024 octets).
 */
int	mda_headers(struct delivery *d, const char *sender, const char *rcpt);

/* What is delivered: the same for every recipient of a message. */
struct mda_msg {
	int		 fd;		/* the whole file, read from 0 */
	const char	*sender;	/* Return-Path; NULL: no such line */
};

/* One recipient's copy, from mda_begin() to mda_end(). */
struct mda_job {
	pid_t		 pid;		/* the delivery child; 0: none */
	int		 sock;		/* to it, while pid is set */
	struct delivery	*d;		/* written here: the tmp/ copy */
	int		 err;		/* 0, or errno of the failure */
	char		 name[DELIVER_NAME_MAX];	/* committed: in new/ */
	off_t		 size;		/* committed: the network size */
};

/*
 * Writes m into tmp/ of account u's Maildir, with the Return-Path line
 * and, when rcpt is not NULL, "Delivered-To: <rcpt>": in this process
 * when u runs as its uid, else in a delivery child that takes u's
 * identity for good (only root can start one) and waits for mda_end().
 * The child closes the sockets of jobs[0] to jobs[i - 1], which may be
 * running; jobs[i] is the one begun.  Returns 0 when the copy is in tmp/
 * (mda_end() must follow), or -1 with jobs[i].err set and nothing left
 * behind (mda_end() is then a no-op).
 */
int	mda_begin(const struct conf *conf, const struct mda_msg *m,
	    const struct auth_user *u, const char *rcpt, struct mda_job *jobs,
	    size_t i);

/*
 * Ends job j: with commit, syncs its copy and links it into new/, filling
 * j->name and j->size; without, removes it.  Either way the delivery
 * child is gone on return.  Returns 0 when committed (or given up as
 * asked), -1 with j->err set when the copy could not be committed, or
 * the job had failed already.  Calling it again does nothing more.
 */
int	mda_end(struct mda_job *j, bool commit);

#endif
