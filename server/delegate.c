/*
 * delegate.c: deliveries a session asks the auth process, or a root
 * local worker, for (delegate.h): the request and answers on the wire,
 * the session's side, and the root side that checks a request and makes
 * its copies.  That side trusts no field: it takes the sender's owner
 * from the auth process's record of the session, and each recipient's
 * identity from the account database.
 */
#include <sys/types.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>

#include <errno.h>
#include <poll.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "protocols/protocol.h"
#include "server/delegate.h"
#include "server/limits.h"
#include "server/log.h"
#include "server/mda.h"

#ifndef MSG_CMSG_CLOEXEC
#define MSG_CMSG_CLOEXEC	0
#endif

#define DELEGATE_MAGIC	0x50535044u	/* "PSPD": requests, answers */
#define LOOKUP_MAGIC	0x5053504cu	/* "PSPL": lookups, their answers */
#define FIND_MAGIC	0x50535046u	/* "PSPF": finds by address, theirs */

/* Seconds a session waits for the answer to a lookup. */
#define LOOKUP_WAIT	30
#define WORD_MAGIC	0x50535057u	/* "PSPW": the session's word */

/* Seconds the child waits for the session's word beyond idle_timeout
 * (the longest a relay command runs between the two phases). */
#define DELEGATE_SLACK	120

/* The answers' phases. */
#define PHASE_READY	1		/* every copy is in tmp/, or none */
#define PHASE_DONE	2		/* committed, or removed */

struct wire_rcpt {
	char		 addr[DELEGATE_ADDR_MAX + 1];
	char		 user[USER_MAX + 1];
};

/* A request as it travels: up to rcpt[nrcpt]; strings are NUL-terminated
 * within their arrays (checked on arrival). */
struct delegate_req {
	uint32_t	 magic;
	uint32_t	 nrcpt;
	char		 sender[DELEGATE_ADDR_MAX + 1];
	struct wire_rcpt rcpt[DELEGATE_RCPT_MAX];
};

#define REQ_LEN(n)	(offsetof(struct delegate_req, rcpt) + \
			    (size_t)(n) * sizeof(struct wire_rcpt))

struct wire_result {
	int32_t		 err;
	int64_t		 size;
	char		 name[DELIVER_NAME_MAX];
};

/* An answer: up to r[nrcpt], one result per recipient, in order. */
struct wire_ans {
	uint32_t	 magic;
	uint32_t	 phase;
	uint32_t	 nrcpt;
	struct wire_result r[DELEGATE_RCPT_MAX];
};

#define ANS_LEN(n)	(offsetof(struct wire_ans, r) + \
			    (size_t)(n) * sizeof(struct wire_result))

/* The session's word after PHASE_READY. */
struct wire_word {
	uint32_t	 magic;
	uint32_t	 commit;
};

/* A lookup of the account a name gives, and its answer. */
struct wire_lookup {
	uint32_t	 magic;
	char		 user[USER_MAX + 1];
};

/* A local worker's channel: the account mail to an address goes to. */
struct wire_find {
	uint32_t	 magic;
	char		 addr[DELEGATE_ADDR_MAX + 1];
};

struct wire_found {
	uint32_t	 magic;
	uint32_t	 result;	/* enum auth_result; for a find, enum
					   mda_found */
	struct auth_user u;
};

/* ---- the session's side ---- */

bool
delegate_available(const struct session *s)
{
	return (s->resumed || s->split) && s->deliverq >= 0;
}

/* fill_req: the wire form of a request.  -1 (errno) when it cannot be. */
static int
fill_req(struct delegate_req *rq, const char *sender,
    const struct delegate_rcpt *r, size_t n)
{
	size_t	 i;

	memset(rq, 0, sizeof(*rq));
	if (n == 0 || n > DELEGATE_RCPT_MAX) {
		errno = EINVAL;
		return -1;
	}
	rq->magic = DELEGATE_MAGIC;
	rq->nrcpt = (uint32_t)n;
	if (strlcpy(rq->sender, sender, sizeof(rq->sender)) >=
	    sizeof(rq->sender))
		goto toolong;
	for (i = 0; i < n; i++)
		if (strlcpy(rq->rcpt[i].addr, r[i].addr,
		    sizeof(rq->rcpt[i].addr)) >= sizeof(rq->rcpt[i].addr) ||
		    strlcpy(rq->rcpt[i].user, r[i].user,
		    sizeof(rq->rcpt[i].user)) >= sizeof(rq->rcpt[i].user))
			goto toolong;
	return 0;
toolong:
	errno = ENAMETOOLONG;
	return -1;
}

/* send_req: the request and the spool's descriptor, in one message. */
static int
send_req(int q, const struct delegate_req *rq, int spool)
{
	struct msghdr	 msg;
	struct iovec	 iov;
	union {
		struct cmsghdr	hdr;
		char		buf[CMSG_SPACE(sizeof(int))];
	} cm;
	struct cmsghdr	*c;

	memset(&msg, 0, sizeof(msg));
	memset(&cm, 0, sizeof(cm));
	iov.iov_base = (void *)rq;
	iov.iov_len = REQ_LEN(rq->nrcpt);
	msg.msg_iov = &iov;
	msg.msg_iovlen = 1;
	msg.msg_control = cm.buf;
	msg.msg_controllen = sizeof(cm.buf);
	c = CMSG_FIRSTHDR(&msg);
	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(c), &spool, sizeof(int));
	while (sendmsg(q, &msg, MSG_NOSIGNAL) == -1)
		if (errno != EINTR)
			return -1;
	return 0;
}

/* get_ans: the answer of phase for n recipients on q, waiting up to
 * seconds.  -1 (errno) when none came or it is malformed. */
static int
get_ans(int q, int seconds, uint32_t phase, struct wire_ans *ans, size_t n)
{
	struct pollfd	 pfd = { q, POLLIN, 0 };
	ssize_t		 got;
	size_t		 i;
	int		 r;

	while ((r = poll(&pfd, 1, seconds * 1000)) == -1 && errno == EINTR)
		;
	if (r <= 0) {
		if (r == 0)
			errno = ETIMEDOUT;
		return -1;
	}
	while ((got = recv(q, ans, sizeof(*ans), 0)) == -1 && errno == EINTR)
		;
	if (got == -1)
		return -1;
	if (got != (ssize_t)ANS_LEN(n) || ans->magic != DELEGATE_MAGIC ||
	    ans->phase != phase || ans->nrcpt != n) {
		errno = got == 0 ? ECONNRESET : EPROTO;
		return -1;
	}
	for (i = 0; i < n; i++) {
		ans->r[i].name[sizeof(ans->r[i].name) - 1] = '\0';
		if (ans->r[i].err < 0)
			ans->r[i].err = EIO;
	}
	return 0;
}

/* take: the results of ans into r; -1 when any recipient failed. */
static int
take(struct delegate_rcpt *r, size_t n, const struct wire_ans *ans)
{
	size_t	 i;
	int	 rc = 0;

	for (i = 0; i < n; i++) {
		r[i].err = ans->r[i].err;
		r[i].size = (off_t)ans->r[i].size;
		memcpy(r[i].name, ans->r[i].name, sizeof(r[i].name));
		if (r[i].err != 0)
			rc = -1;
	}
	return rc;
}

/* lost: the channel failed (errno): it is closed for good, so that no
 * late answer is taken for the next request's. */
static void
lost(struct session *s)
{
	int	 saved = errno;

	log_warn("%s: user=<%s> rip=%s: the %s's delivery channel",
	    s->proto->name, s->user, s->rip, s->split ? "local worker" :
	    "auth process");
	close(s->deliverq);
	s->deliverq = -1;
	errno = saved;
}

/* ask: sends the lookup q (len octets, its magic first) and waits for
 * its answer, whose result must be at most max.  Returns 0; -1 when the
 * channel failed (it is closed: lost()). */
static int
ask(struct session *s, const void *q, size_t len, uint32_t max,
    struct wire_found *a)
{
	struct pollfd	 pfd = { s->deliverq, POLLIN, 0 };
	uint32_t	 magic;
	ssize_t		 n;
	int		 r;

	memcpy(&magic, q, sizeof(magic));
	if (send(s->deliverq, q, len, MSG_NOSIGNAL) != (ssize_t)len)
		goto lost;
	while ((r = poll(&pfd, 1, LOOKUP_WAIT * 1000)) == -1 && errno == EINTR)
		;
	if (r <= 0) {
		if (r == 0)
			errno = ETIMEDOUT;
		goto lost;
	}
	while ((n = recv(s->deliverq, a, sizeof(*a), 0)) == -1 &&
	    errno == EINTR)
		;
	if (n != (ssize_t)sizeof(*a) || a->magic != magic || a->result > max) {
		errno = n == 0 ? ECONNRESET : EPROTO;
		goto lost;
	}
	a->u.name[sizeof(a->u.name) - 1] = '\0';
	a->u.maildir[sizeof(a->u.maildir) - 1] = '\0';
	return 0;
lost:
	lost(s);
	return -1;
}

enum auth_result
delegate_lookup(struct session *s, const char *user, struct auth_user *u)
{
	struct wire_lookup q;
	struct wire_found a;

	memset(u, 0, sizeof(*u));
	if (s->deliverq < 0)
		return AUTH_TEMPFAIL;	/* gone for good; lost() said why */
	memset(&q, 0, sizeof(q));
	q.magic = LOOKUP_MAGIC;
	if (strlcpy(q.user, user, sizeof(q.user)) >= sizeof(q.user))
		return AUTH_FAILED;	/* no account has so long a name */
	if (ask(s, &q, sizeof(q), AUTH_TEMPFAIL, &a) == -1)
		return AUTH_TEMPFAIL;
	if (a.result == AUTH_OK)
		*u = a.u;
	return (enum auth_result)a.result;
}

enum mda_found
delegate_find(struct session *s, const char *addr, struct auth_user *u)
{
	struct wire_find q;
	struct wire_found a;

	memset(u, 0, sizeof(*u));
	if (s->deliverq < 0)
		return MDA_UNREADABLE;	/* gone for good; lost() said why */
	memset(&q, 0, sizeof(q));
	q.magic = FIND_MAGIC;
	if (strlcpy(q.addr, addr, sizeof(q.addr)) >= sizeof(q.addr))
		return MDA_UNKNOWN;	/* no delivery takes so long a one */
	if (ask(s, &q, sizeof(q), MDA_NOIDENT, &a) == -1)
		return MDA_UNREADABLE;
	if (a.result == MDA_FOUND)
		*u = a.u;
	return (enum mda_found)a.result;
}

/* exchange: sends the request for the n recipients of r and takes the
 * answer of phase into r.  Returns 0; -1 when a recipient failed; -2
 * with errno set when no answer came (the channel is lost() when it
 * failed). */
static int
exchange(struct session *s, const char *sender, int spool,
    struct delegate_rcpt *r, size_t n, uint32_t phase)
{
	struct delegate_req	*rq;
	struct wire_ans		*ans;
	size_t			 i;
	int			 rc = -2;

	for (i = 0; i < n; i++)
		r[i].err = 0;
	if (!delegate_available(s)) {
		errno = ENOTCONN;
		return -2;
	}
	rq = malloc(sizeof(*rq));
	ans = malloc(sizeof(*ans));
	if (rq == NULL || ans == NULL || fill_req(rq, sender, r, n) == -1)
		;	/* errno says why; the channel is unharmed */
	else if (send_req(s->deliverq, rq, spool) == -1 ||
	    get_ans(s->deliverq, s->conf->idle_timeout, phase, ans, n) == -1)
		lost(s);
	else
		rc = take(r, n, ans);
	free(rq);
	free(ans);
	return rc;
}

int
delegate_begin(struct session *s, const char *sender, int spool,
    struct delegate_rcpt *r, size_t n)
{
	return exchange(s, sender, spool, r, n, PHASE_READY) == 0 ? 0 : -1;
}

int
delegate_end(struct session *s, bool commit, struct delegate_rcpt *r,
    size_t n)
{
	struct wire_word	 w = { WORD_MAGIC, commit ? 1 : 0 };
	struct wire_ans		*ans = NULL;
	size_t			 i;
	int			 rc;

	if (!delegate_available(s))
		errno = ENOTCONN;
	else if ((ans = malloc(sizeof(*ans))) == NULL ||
	    send(s->deliverq, &w, sizeof(w), MSG_NOSIGNAL) !=
	    (ssize_t)sizeof(w) || get_ans(s->deliverq, s->conf->idle_timeout,
	    PHASE_DONE, ans, n) == -1)
		lost(s);	/* the child gives up with the channel */
	else {
		rc = take(r, n, ans);
		free(ans);
		return commit ? rc : 0;
	}
	free(ans);
	/* No answer: what became of the copies is unknown. */
	for (i = 0; i < n; i++)
		r[i].err = errno != 0 ? errno : EIO;
	return commit ? -1 : 0;
}

int
delegate_deliver(struct session *s, const char *sender, int spool,
    struct delegate_rcpt *r, size_t n)
{
	size_t	 i;
	int	 rc;

	if ((rc = exchange(s, sender, spool, r, n, PHASE_DONE)) != -2)
		return rc;
	for (i = 0; i < n; i++)		/* no answer */
		r[i].err = errno != 0 ? errno : EIO;
	return -1;
}

/* ---- the auth process's side ---- */

/* valid_str: a wire string ends within its field. */
static bool
valid_str(const char *field, size_t size)
{
	return memchr(field, '\0', size) != NULL;
}

/* valid_req: checks every field of a request that arrived in n octets. */
static bool
valid_req(const struct delegate_req *rq, ssize_t n)
{
	uint32_t	 i;

	if (n < (ssize_t)REQ_LEN(1) || rq->magic != DELEGATE_MAGIC ||
	    rq->nrcpt == 0 || rq->nrcpt > DELEGATE_RCPT_MAX ||
	    (size_t)n != REQ_LEN(rq->nrcpt) ||
	    !valid_str(rq->sender, sizeof(rq->sender)))
		return false;
	for (i = 0; i < rq->nrcpt; i++)
		if (!valid_str(rq->rcpt[i].addr, sizeof(rq->rcpt[i].addr)) ||
		    !valid_str(rq->rcpt[i].user, sizeof(rq->rcpt[i].user)))
			return false;
	return true;
}

/* take_fd: the one descriptor msg carries, or -1; any others are
 * closed. */
static int
take_fd(struct msghdr *msg)
{
	struct cmsghdr	*c;
	int		 fd = -1, extra;
	size_t		 i, n;

	for (c = CMSG_FIRSTHDR(msg); c != NULL; c = CMSG_NXTHDR(msg, c)) {
		if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
			continue;
		n = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		for (i = 0; i < n; i++) {
			memcpy(&extra, CMSG_DATA(c) + i * sizeof(int),
			    sizeof(int));
			if (fd == -1)
				fd = extra;
			else
				close(extra);
		}
	}
	return fd;
}

int
delegate_recv(int fd, const struct delegate_peer *who,
    struct delegate_req **req_r, int *spool_r)
{
	struct delegate_req	*rq;
	struct msghdr		 msg;
	struct iovec		 iov;
	union {
		struct cmsghdr	hdr;
		char		buf[CMSG_SPACE(sizeof(int))];
	} cm;
	ssize_t			 n;

	*req_r = NULL;
	*spool_r = -1;
	if ((rq = malloc(sizeof(*rq))) == NULL) {
		log_warn("%s: delivery request", who->mta ? who->proto :
		    "authd");
		return -1;
	}
	memset(&msg, 0, sizeof(msg));
	iov.iov_base = rq;
	iov.iov_len = sizeof(*rq);
	msg.msg_iov = &iov;
	msg.msg_iovlen = 1;
	msg.msg_control = cm.buf;
	msg.msg_controllen = sizeof(cm.buf);
	while ((n = recvmsg(fd, &msg, MSG_CMSG_CLOEXEC)) == -1 &&
	    errno == EINTR)
		;
	*spool_r = n > 0 ? take_fd(&msg) : -1;
	if (n > 0 && *spool_r != -1 && valid_req(rq, n) &&
	    !(msg.msg_flags & (MSG_TRUNC | MSG_CTRUNC))) {
		*req_r = rq;
		return 1;
	}
	if (n > 0)
		log_warnx("%s: user=<%s> rip=%s proto=%s: a malformed "
		    "delivery request: channel closed", who->mta ? who->proto :
		    "authd", who->user, who->rip, who->proto);
	if (*spool_r != -1)
		close(*spool_r);
	*spool_r = -1;
	free(rq);
	return n > 0 ? -1 : 0;
}

void
delegate_free(struct delegate_req *req)
{
	free(req);
}

bool
delegate_lookup_waiting(int fd)
{
	uint32_t	 magic = 0;

	return recv(fd, &magic, sizeof(magic), MSG_PEEK | MSG_DONTWAIT) ==
	    (ssize_t)sizeof(magic) && (magic == LOOKUP_MAGIC ||
	    magic == FIND_MAGIC);
}

int
delegate_lookup_answer(const struct conf *conf,
    const struct delegate_peer *who, int fd)
{
	struct wire_lookup q;
	struct wire_found a;
	const char	*why;
	ssize_t		 n;

	/* MSG_TRUNC: where the system knows it (Linux), a longer message
	 * gives its whole length and is refused; elsewhere the excess is
	 * dropped. */
	while ((n = recv(fd, &q, sizeof(q), MSG_TRUNC)) == -1 &&
	    errno == EINTR)
		;
	if (n != (ssize_t)sizeof(q) || q.magic != LOOKUP_MAGIC ||
	    memchr(q.user, '\0', sizeof(q.user)) == NULL) {
		log_warnx("authd: user=<%s> rip=%s proto=%s: a malformed "
		    "lookup: channel closed", who->user, who->rip, who->proto);
		return -1;
	}
	memset(&a, 0, sizeof(a));
	a.magic = LOOKUP_MAGIC;
	a.result = (uint32_t)auth_lookup(conf, q.user, &a.u, &why);
	if (a.result != AUTH_OK)
		memset(&a.u, 0, sizeof(a.u));
	if (send(fd, &a, sizeof(a), MSG_DONTWAIT | MSG_NOSIGNAL) !=
	    (ssize_t)sizeof(a)) {
		log_warn("authd: user=<%s> rip=%s proto=%s: answering a "
		    "lookup", who->user, who->rip, who->proto);
		return -1;
	}
	return 0;
}

/* address_ok: whether a is an address as PAPM takes them: 1 to
 * DELEGATE_ADDR_MAX printable octets, no '<' or '>'; for the MTA (LMTP's
 * path syntax), 8-bit octets too. */
static bool
address_ok(const char *a, bool mta)
{
	const unsigned char *p = (const unsigned char *)a;
	size_t		 i;

	for (i = 0; p[i] != '\0'; i++)
		if (p[i] < 0x21 || p[i] == 0x7f || (p[i] > 0x7f && !mta) ||
		    p[i] == '<' || p[i] == '>')
			return false;
	return i > 0;
}

/* refusal: why request rq of who must not be served at all; NULL when
 * it may. */
static const char *
refusal(const struct conf *conf, const struct delegate_peer *who,
    const struct delegate_req *rq, int spool)
{
	struct stat	 st;
	uint32_t	 i;

	if (who->mta) {
		if (rq->sender[0] != '\0' && !address_ok(rq->sender, true))
			return "the sender is no address";
	} else if (!address_ok(rq->sender, false) ||
	    !mda_own_address(conf, who->user, rq->sender))
		return "the sender is not an address of the account";
	for (i = 0; i < rq->nrcpt; i++)
		if (!address_ok(rq->rcpt[i].addr, who->mta))
			return "a recipient is no address";
	if (fstat(spool, &st) == -1 || !S_ISREG(st.st_mode))
		return "the message is not a regular file";
	if (who->mta && st.st_size > conf->lmtp_max_message_size)
		return "the message is over lmtp_max_message_size";
	if (!who->mta && st.st_size > conf->papm_max_message_size)
		return "the message is over papm_max_message_size";
	return NULL;
}

/* answer: sends the results of the n jobs for phase; -1 when the
 * session is gone. */
static int
answer(int fd, uint32_t phase, const struct mda_job *jobs, size_t n)
{
	struct wire_ans	*ans;
	size_t		 i;
	ssize_t		 sent;

	if ((ans = calloc(1, sizeof(*ans))) == NULL)
		return -1;
	ans->magic = DELEGATE_MAGIC;
	ans->phase = phase;
	ans->nrcpt = (uint32_t)n;
	for (i = 0; i < n; i++) {
		ans->r[i].err = jobs[i].err;
		ans->r[i].size = (int64_t)jobs[i].size;
		memcpy(ans->r[i].name, jobs[i].name, sizeof(ans->r[i].name));
	}
	while ((sent = send(fd, ans, ANS_LEN(n), MSG_NOSIGNAL)) == -1 &&
	    errno == EINTR)
		;
	free(ans);
	return sent == (ssize_t)ANS_LEN(n) ? 0 : -1;
}

/* word: the session's word after PHASE_READY: true to commit; false to
 * remove the copies, and when it is gone or silent too long. */
static bool
word(const struct conf *conf, int fd)
{
	struct pollfd	 pfd = { fd, POLLIN, 0 };
	struct wire_word w;
	ssize_t		 n;
	int		 r;

	while ((r = poll(&pfd, 1, (conf->idle_timeout + DELEGATE_SLACK) *
	    1000)) == -1 && errno == EINTR)
		;
	if (r != 1)
		return false;
	memset(&w, 0, sizeof(w));
	while ((n = recv(fd, &w, sizeof(w), 0)) == -1 && errno == EINTR)
		;
	return n == (ssize_t)sizeof(w) && w.magic == WORD_MAGIC &&
	    w.commit == 1;
}

/* found_err: the errno a failed account lookup is answered with. */
static int
found_err(enum mda_found r)
{
	return r == MDA_UNKNOWN || r == MDA_ROOT ? EPERM : EAGAIN;
}

/* begin: looks up recipient i of rq and begins its copy.  Returns 0, or
 * the errno of the failure (logged). */
static int
begin(const struct conf *conf, const struct delegate_peer *who,
    const struct delegate_req *rq, const struct mda_msg *m,
    struct mda_job *jobs, size_t i)
{
	const struct wire_rcpt *r = &rq->rcpt[i];
	struct auth_user u;
	enum mda_found	 found;
	char		 safe[USER_MAX + 1];

	found = who->mta ? mda_lookup(conf, r->addr, &u) :
	    mda_account(conf, r->user, &u);
	if (found != MDA_FOUND)
		jobs[i].err = found_err(found);
	else
		(void)mda_begin(conf, m, &u, who->mta ? r->addr : NULL, jobs,
		    i);
	if (jobs[i].err != 0 && !who->mta) {
		session_safe(r->user, safe, sizeof(safe));
		log_warnx("push: failed: user=<%s> rip=%s proto=%s from=<%s> "
		    "rcpt=<%s> account=<%s> reason=%s", who->user, who->rip,
		    who->proto, rq->sender, r->addr, safe, found == MDA_FOUND ?
		    strerror(jobs[i].err) : "no account to deliver to");
	}
	return jobs[i].err;
}

/* finish: ends every job as the session said; logs each copy. */
static void
finish(const struct delegate_peer *who, const struct delegate_req *rq,
    struct mda_job *jobs, size_t n, bool commit)
{
	size_t	 i;

	for (i = 0; i < n; i++) {
		if (mda_end(&jobs[i], commit) == -1)
			log_warnx("push: failed: user=<%s> rip=%s proto=%s "
			    "from=<%s> rcpt=<%s> account=<%s> reason=%s",
			    who->user, who->rip, who->proto, rq->sender,
			    rq->rcpt[i].addr, rq->rcpt[i].user,
			    strerror(jobs[i].err));
		else if (commit)
			log_info("push: delivered: user=<%s> rip=%s proto=%s "
			    "from=<%s> rcpt=<%s> account=<%s> name=%s "
			    "size=%lld", who->user, who->rip, who->proto,
			    rq->sender, rq->rcpt[i].addr, rq->rcpt[i].user,
			    jobs[i].name, (long long)jobs[i].size);
	}
	if (!commit)
		log_info("push: nothing delivered: user=<%s> rip=%s proto=%s "
		    "from=<%s> rcpts=%zu: given up by the session", who->user,
		    who->rip, who->proto, rq->sender, n);
}

/* serve_mta: the MTA's request rq: each copy written and committed on
 * its own, with Return-Path and Delivered-To, and one answer (the
 * session logs each). */
static void
serve_mta(const struct conf *conf, const struct delegate_peer *who, int fd,
    const struct delegate_req *rq, int spool, struct mda_job *jobs)
{
	struct mda_msg	 m = { spool, rq->sender };
	size_t		 i;

	for (i = 0; i < rq->nrcpt; i++)
		if (begin(conf, who, rq, &m, jobs, i) == 0)
			(void)mda_end(&jobs[i], true);
	(void)answer(fd, PHASE_DONE, jobs, rq->nrcpt);
}

void
delegate_serve(const struct conf *conf, const struct delegate_peer *who,
    int fd, const struct delegate_req *rq, int spool)
{
	struct mda_job		 jobs[DELEGATE_RCPT_MAX];
	struct mda_msg		 m = { spool, NULL };	/* no header added */
	const char		*why;
	char			 safe[DELEGATE_ADDR_MAX + 1];
	size_t			 i, n = rq->nrcpt;
	int			 err = 0;

	if (!who->mta)
		setproctitle("%s %s push", who->proto, who->user);
	memset(jobs, 0, sizeof(jobs));
	if ((why = refusal(conf, who, rq, spool)) != NULL) {
		session_safe(rq->sender, safe, sizeof(safe));
		log_warnx("%s: refused: user=<%s> rip=%s proto=%s "
		    "from=<%s>: %s", who->mta ? who->proto : "push", who->user,
		    who->rip, who->proto, safe, why);
		for (i = 0; i < n; i++)
			jobs[i].err = EPERM;
		(void)answer(fd, who->mta ? PHASE_DONE : PHASE_READY, jobs, n);
		return;
	}
	if (who->mta) {
		serve_mta(conf, who, fd, rq, spool, jobs);
		return;
	}
	for (i = 0; i < n && err == 0; i++)
		err = begin(conf, who, rq, &m, jobs, i);
	if (err != 0) {
		for (i = 0; i < n; i++)
			(void)mda_end(&jobs[i], false);
		(void)answer(fd, PHASE_READY, jobs, n);
		return;
	}
	if (answer(fd, PHASE_READY, jobs, n) == -1) {
		finish(who, rq, jobs, n, false);
		return;
	}
	finish(who, rq, jobs, n, word(conf, fd));
	(void)answer(fd, PHASE_DONE, jobs, n);
}

/* find_answer: answers the find by address waiting on a local worker's
 * channel fd.  Returns 0; -1 for a malformed one or an answer that
 * could not be sent (logged). */
static int
find_answer(const struct conf *conf, const struct delegate_peer *who, int fd)
{
	struct wire_find q;
	struct wire_found a;
	ssize_t		 n;

	while ((n = recv(fd, &q, sizeof(q), MSG_TRUNC)) == -1 &&
	    errno == EINTR)
		;
	if (n != (ssize_t)sizeof(q) || q.magic != FIND_MAGIC ||
	    memchr(q.addr, '\0', sizeof(q.addr)) == NULL) {
		log_warnx("%s: rip=%s: a malformed lookup from the session",
		    who->proto, who->rip);
		return -1;
	}
	memset(&a, 0, sizeof(a));
	a.magic = FIND_MAGIC;
	a.result = (uint32_t)mda_lookup(conf, q.addr, &a.u);
	if (send(fd, &a, sizeof(a), MSG_NOSIGNAL) != (ssize_t)sizeof(a)) {
		log_warn("%s: rip=%s: answering a lookup", who->proto,
		    who->rip);
		return -1;
	}
	return 0;
}

void
delegate_mta(const struct conf *conf, const struct delegate_peer *who,
    int fd)
{
	struct pollfd		 pfd = { fd, POLLIN, 0 };
	struct delegate_req	*req;
	uint32_t		 magic;
	int			 spool, r;

	for (;;) {
		while ((r = poll(&pfd, 1, -1)) == -1 && errno == EINTR)
			;
		if (r == -1)
			return;
		if (recv(fd, &magic, sizeof(magic), MSG_PEEK | MSG_DONTWAIT) ==
		    (ssize_t)sizeof(magic) && magic == FIND_MAGIC) {
			if (find_answer(conf, who, fd) == -1)
				return;
			continue;
		}
		if (delegate_recv(fd, who, &req, &spool) != 1)
			return;
		delegate_serve(conf, who, fd, req, spool);
		close(spool);
		delegate_free(req);
	}
}
