/*
 * delegate.h: deliveries a session asks the auth process to make.  A
 * session process runs as its account and can write only the Maildirs
 * of accounts with its uid; with privilege separation, for the others it
 * sends the message (its spool file's descriptor), the sender and the
 * recipients' accounts over the channel the auth process gave it at its
 * start.  A child of the auth process checks the request, writes each
 * copy as its recipient (mda.h), and then commits them all or none, as
 * the session says.  The session also asks there for the account a
 * recipient names (a lookup), which the auth process answers itself, so
 * that session processes need not read the account database.  Requests
 * have a fixed layout and bounded sizes; a channel carries one request
 * at a time.
 *
 * A local worker that stays root (LMTP with no mail_user) serves each
 * session in a child that has given up root, and answers that child's
 * channel itself in the same way: for the MTA, whose sender is any
 * address and whose recipients are found by address (mda_lookup()).
 */
#ifndef POSTERN_DELEGATE_H
#define POSTERN_DELEGATE_H

#include <sys/types.h>
#include <stdbool.h>
#include <stddef.h>

#include "server/conf.h"
#include "server/mda.h"
#include "server/session.h"
#include "storage/deliver.h"

/* Recipients of one request (PAPM's limit of a message). */
#define DELEGATE_RCPT_MAX	100

/* An address in a request (RFC 5321 4.5.3.1.3: a path is 256). */
#define DELEGATE_ADDR_MAX	256

/* One recipient of a request, and what became of its copy. */
struct delegate_rcpt {
	const char	*addr;		/* as the client gave it: the log's */
	const char	*user;		/* the account it names */
	int		 err;		/* 0, or errno of its failure */
	char		 name[DELIVER_NAME_MAX];	/* committed: in new/ */
	off_t		 size;		/* committed: the network size */
};

/* Whether session s has a channel: to the auth process (a session process
 * of a protocol that pushes, with privilege separation), or to its local
 * worker (s->split). */
bool	delegate_available(const struct session *s);

/*
 * The session's side.  Asks the auth process to write the whole file
 * spool (already written: it is read from offset 0) into tmp/ of each of
 * the n accounts of r (at most DELEGATE_RCPT_MAX), from sender, an
 * address of the session's account.  Returns 0 when every copy is in
 * tmp/: delegate_end() must follow.  Returns -1 when none is left: the
 * r[i].err that is not 0 says why (all 0: no request was sent, errno;
 * a channel that fails is closed for good, s->deliverq -1).
 */
int	delegate_begin(struct session *s, const char *sender, int spool,
	    struct delegate_rcpt *r, size_t n);
/*
 * The session's side of a lookup: the account that user names, as the
 * auth process finds it (the session need not read the account
 * database).  AUTH_OK fills *u; AUTH_FAILED: no such account;
 * AUTH_TEMPFAIL: no answer within 30 seconds, or a channel that
 * failed (it is then closed for good, s->deliverq -1, and the next
 * lookups fail at once), or the database could not be read.
 */
enum auth_result delegate_lookup(struct session *s, const char *user,
	    struct auth_user *u);
/*
 * The session's side of an address lookup on a local worker's channel
 * (s->split): the account mail to addr goes to, as mda_lookup() finds
 * it there.  MDA_UNREADABLE also when no answer came within 30 seconds
 * or the channel failed (it is then closed for good, s->deliverq -1);
 * MDA_UNKNOWN for an address over DELEGATE_ADDR_MAX octets.
 */
enum mda_found delegate_find(struct session *s, const char *addr,
	    struct auth_user *u);
/*
 * Commits the copies of delegate_begin() into new/ (commit true), filling
 * each r[i].name and size, or removes them all.  Returns 0 when done as
 * asked; -1 when some copies could not be committed (their r[i].err is
 * set; all of them when no answer came, the channel then closed).
 */
int	delegate_end(struct session *s, bool commit,
	    struct delegate_rcpt *r, size_t n);
/*
 * On a local worker's channel (s->split), in one request: has the
 * whole file spool delivered to each of the n recipients of r (at most
 * DELEGATE_RCPT_MAX) on its own, from sender ("" for <>), filling each
 * r[i].err, and name and size for those committed.  Returns 0 when all
 * were; -1 otherwise (with every r[i].err set to errno when no answer
 * came: the channel is then closed for good, s->deliverq -1).
 */
int	delegate_deliver(struct session *s, const char *sender, int spool,
	    struct delegate_rcpt *r, size_t n);

/* The auth process's side. */
struct delegate_req;

/* Who asked: the account the session logged in as, which the auth
 * process recorded when it started the session. */
struct delegate_peer {
	const char	*user;
	const char	*proto;
	const char	*rip;
	bool		 mta;		/* a local worker's session: the
					   MTA's rules (delegate_serve()) */
};

/*
 * Reads the request waiting on channel fd: *req_r (free it with
 * delegate_free()) and the spool's descriptor in *spool_r.  Returns 1;
 * 0 when the session closed the channel; -1 for a malformed request
 * (logged; no descriptor kept).  The channel is to be closed after 0 or
 * -1.
 */
int	delegate_recv(int fd, const struct delegate_peer *who,
	    struct delegate_req **req_r, int *spool_r);
void	delegate_free(struct delegate_req *req);

/* Whether the message waiting on channel fd is a lookup, by name or by
 * address (not read). */
bool	delegate_lookup_waiting(int fd);
/*
 * In the auth process: reads the lookup waiting on channel fd and
 * answers it at once, from the account database, for the session who.
 * Returns 0; -1 for a malformed lookup or an answer that could not be
 * sent (logged): the channel is to be closed.
 */
int	delegate_lookup_answer(const struct conf *conf,
	    const struct delegate_peer *who, int fd);

/*
 * As root (a child of the auth process, or a local worker), serves req
 * on channel fd for the session who: refuses it unless spool is a
 * regular file within papm_max_message_size and the sender an address
 * of who's account; looks each account up (mda_account()); begins every
 * copy (mda_begin()), answers, and commits or removes them all at the
 * session's word (none within idle_timeout and a margin: removed).
 * Logs each copy with user=<who's account>.  For who->mta, the MTA's
 * rules instead (delegate_deliver()): any sender, "" included, which
 * the copies get as their Return-Path, and each recipient's address as
 * Delivered-To; the limit lmtp_max_message_size; each account found by
 * the address (mda_lookup()); each copy committed on its own at once, a
 * failure leaving the others, and one answer; the session logs them.
 */
void	delegate_serve(const struct conf *conf, const struct delegate_peer *who,
	    int fd, const struct delegate_req *req, int spool);
/*
 * In a local worker that stays root: answers the session child on
 * channel fd, address lookups (mda_lookup()) and deliveries
 * (delegate_serve(), with who->mta), one at a time, until the child
 * closes the channel or breaks the rules (logged).
 */
void	delegate_mta(const struct conf *conf, const struct delegate_peer *who,
	    int fd);

#endif
