/*
 * papm.c: the PAPM module ("Push And Pull For Mail", RFC 49153, 2018): a
 * POP3-like pull side (USER, PASS, STAT, LIST, READ, DELE, NOOP, RSET,
 * QUIT) and an SMTP-like push side (HELO, MAIL, RCPT, DATA, RSTE, NOPO,
 * QUTI) in one session.  Logins, storage, delivery and line handling
 * belong to server/ and storage/.  Push never works before a login, never
 * takes a sender that is not the logged-in user's, never relays unless an
 * admin configured a relay command, and never answers +OK to DATA before
 * every local copy is synced into new/.  Local copies go through
 * server/mda.c: written by the session for accounts of its uid, by the
 * auth process on its asking for the others (server/delegate.h).
 */
#include <sys/types.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "protocols/command.h"
#include "protocols/protocol.h"
#include "protocols/spool.h"
#include "server/auth.h"
#include "server/delegate.h"
#include "server/io.h"
#include "server/limits.h"
#include "server/log.h"
#include "server/mda.h"
#include "server/privsep.h"
#include "server/session.h"
#include "storage/maildir.h"

/* States: before the login, and after it with the maildrop open. */
#define AUTH		0x01
#define TRANS		0x02
#define ANY		(AUTH | TRANS)

/* An address of MAIL or RCPT (RFC 5321 4.5.3.1.3: a path is 256). */
#define PAPM_ADDR_MAX	256
/* Recipients of one message (RFC 5321 4.5.3.1.8: at least 100). */
#define PAPM_RCPT_MAX	100
/* A message's recipients of other uids go in one request (delegate.h). */
_Static_assert(PAPM_RCPT_MAX <= DELEGATE_RCPT_MAX &&
    PAPM_ADDR_MAX <= DELEGATE_ADDR_MAX, "a push fits a delivery request");
/* Words of papm_relay_command. */
#define PAPM_RELAY_WORDS 16
/* A domain name (RFC 1035: 253 octets in text, labels of 63). */
#define PAPM_DOMAIN_MAX	253
#define PAPM_LABEL_MAX	63

struct prcpt {
	char	*addr;		/* as given */
	char	*user;		/* local: the account; NULL: remote */
	char	*maildir;	/* local: where it goes */
	long	 uid, gid;	/* local: the account's (auth.h) */
	bool	 asked;		/* local, of another uid: the auth process
				   writes its copy (delegate.h) */
	struct mda_job job;	/* local, written here: its copy, in DATA */
};

struct papm {
	struct session	*s;
	struct io	*io;
	int		 state;
	bool		 have_user;
	char		 user[USER_MAX + 1];
	struct maildrop	*md;
	/* The push side. */
	bool		 helo;		/* HELO accepted since the login */
	bool		 mail;		/* MAIL accepted: a transaction */
	char		 from[PAPM_ADDR_MAX + 1];
	struct prcpt	*rcpt;
	size_t		 nrcpt, nremote;
	struct delegate_rcpt *asked;	/* in DATA: the copies the auth
					   process writes */
	size_t		 nasked;
	struct spool	 sp;		/* the message text */
	/* The session. */
	unsigned	 read_n, pushed_n;	/* for the logout line */
	off_t		 read_b;
	bool		 logged_out;
	struct cmdloop	 cl;		/* the command loop; why it ended */
};

struct cmd {
	const char	*name;		/* as struct command_head */
	int		 states;
	int		(*fn)(struct papm *, char *);
};
_Static_assert(offsetof(struct cmd, states) ==
    offsetof(struct command_head, states), "struct cmd: command.h's head");

static int	cmd_user(struct papm *, char *);
static int	cmd_pass(struct papm *, char *);
static int	cmd_quit(struct papm *, char *);
static int	cmd_stat(struct papm *, char *);
static int	cmd_list(struct papm *, char *);
static int	cmd_read(struct papm *, char *);
static int	cmd_dele(struct papm *, char *);
static int	cmd_noop(struct papm *, char *);
static int	cmd_rset(struct papm *, char *);
static int	cmd_helo(struct papm *, char *);
static int	cmd_mail(struct papm *, char *);
static int	cmd_rcpt(struct papm *, char *);
static int	cmd_data(struct papm *, char *);
static int	cmd_rste(struct papm *, char *);
static int	cmd_quti(struct papm *, char *);

static const struct cmd cmds[] = {
	/* Pull (section 3). */
	{ "USER",	AUTH,	cmd_user },
	{ "PASS",	AUTH,	cmd_pass },
	{ "QUIT",	ANY,	cmd_quit },
	{ "STAT",	TRANS,	cmd_stat },
	{ "LIST",	TRANS,	cmd_list },
	{ "READ",	TRANS,	cmd_read },
	{ "DELE",	TRANS,	cmd_dele },
	{ "NOOP",	ANY,	cmd_noop },
	{ "RSET",	TRANS,	cmd_rset },
	/* Push (section 4); each says itself what it needs first. */
	{ "HELO",	ANY,	cmd_helo },
	{ "MAIL",	ANY,	cmd_mail },
	{ "RCPT",	ANY,	cmd_rcpt },
	{ "DATA",	ANY,	cmd_data },
	{ "RSTE",	ANY,	cmd_rste },
	{ "NOPO",	ANY,	cmd_noop },
	{ "QUTI",	ANY,	cmd_quti },
};

/* reply: one buffered reply line, CRLF added. */
static int __attribute__((format(printf, 2, 3)))
reply(struct papm *pa, const char *fmt, ...)
{
	char	 line[512];
	va_list	 ap;

	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	return io_printf(pa->io, "%s\r\n", line);
}

/* lost: the connection failed mid-reply; the session ends. */
static int
lost(struct papm *pa)
{
	pa->cl.why = "connection error";
	return CMD_CLOSE;
}

/* ---- the pull side ---- */

/* msgarg: the message named by word w as a 0-based index; replies with
 * -ERR and returns -1 when it is not a live message. */
static long
msgarg(struct papm *pa, const char *w)
{
	size_t	 n;
	long	 m;

	if (w == NULL) {
		reply(pa, "-ERR message number required");
		return -1;
	}
	n = strlen(w);
	if (n == 0 || n > 9 || strspn(w, "0123456789") != n ||
	    (m = strtol(w, NULL, 10)) < 1 || (size_t)m > pa->md->count ||
	    (pa->md->mail[m - 1].flags & MAIL_DELETED)) {
		reply(pa, "-ERR no such message");
		return -1;
	}
	return m - 1;
}

/* cmd_user: USER string.  Any well-formed name gets +OK, so that names
 * cannot be probed; PASS refuses unknown ones (postern-papm(7)). */
static int
cmd_user(struct papm *pa, char *args)
{
	char	*name = command_word(&args);

	if (!session_plaintext_ok(pa->s)) {
		reply(pa, "-ERR plaintext authentication disallowed without "
		    "TLS");
		return CMD_BAD;
	}
	if (name == NULL || !command_end(args) || !auth_valid_user(name)) {
		reply(pa, "-ERR mail drop name invalid");
		return CMD_BAD;
	}
	strlcpy(pa->user, name, sizeof(pa->user));
	pa->have_user = true;
	return reply(pa, "+OK mail drop name valid") == 0 ? CMD_OK : lost(pa);
}

/* open_maildrop: locks and lists the user's Maildir after a login. */
static int
open_maildrop(struct papm *pa, const struct auth_user *u)
{
	struct mail_opts opts;
	int	 rc;

	memset(&opts, 0, sizeof(opts));
	opts.state_dir = session_state_dir(pa->s);
	opts.msgid = pa->s->msgid;
	rc = maildrop_open(u->maildir, &opts, &pa->md);
	if (rc == MAILDROP_LOCKED) {
		log_info("papm: user=<%s> rip=%s: maildrop locked by another "
		    "session", pa->s->user, pa->s->rip);
		reply(pa, "-ERR mail drop locked by another session");
		return CMD_OK;
	}
	if (rc != 0) {
		reply(pa, "-ERR cannot open the mail drop, try again later");
		return CMD_OK;
	}
	pa->state = TRANS;
	pa->helo = false;	/* the push side starts after the login */
	command_logged_in(&pa->cl, pa->s->conf->idle_timeout);
	session_title(pa->s, pa->s->user);
	return reply(pa, "+OK mail drop ready") == 0 ? CMD_OK : lost(pa);
}

/* cmd_pass: PASS string; the whole rest of the line is the password. */
static int
cmd_pass(struct papm *pa, char *args)
{
	struct auth_request req;
	struct auth_user u;
	enum auth_result r;
	int		 rc;

	if (!pa->have_user) {
		reply(pa, "-ERR send USER first");
		return CMD_BAD;
	}
	pa->have_user = false;
	if (!session_plaintext_ok(pa->s)) {
		reply(pa, "-ERR plaintext authentication disallowed without "
		    "TLS");
		return CMD_BAD;
	}
	session_request(pa->s, &req, AUTH_MECH_PASSWORD, pa->user, args);
	r = session_login(pa->s, &req, &u);
	explicit_bzero(args, strlen(args));
	rc = command_pop_login(&pa->cl, r, "-ERR invalid username/password "
	    "combination", false);
	if (rc != CMD_IN)
		return rc;
	rc = open_maildrop(pa, &u);
	if (pa->state != TRANS && pa->s->dropped) {
		pa->cl.why = "maildrop unavailable";
		return CMD_CLOSE;
	}
	return rc;
}

/* logout_line: the counts for the logout log line. */
static void
logout_line(struct papm *pa, const char *how)
{
	char	 stats[200];
	size_t	 del = 0, i;

	pa->logged_out = true;
	for (i = 0; pa->md != NULL && i < pa->md->count; i++)
		if (pa->md->mail[i].flags & MAIL_DELETED)
			del++;
	snprintf(stats, sizeof(stats), "read=%u/%lld del=%zu pushed=%u "
	    "reason=%s", pa->read_n, (long long)pa->read_b, del,
	    pa->pushed_n, how);
	session_logout(pa->s, stats);
}

/* quit: QUIT and QUTI: deletes what DELE marked, unlocks, answers ok. */
static int
quit(struct papm *pa, const char *ok)
{
	size_t	 failed = 0;

	pa->cl.why = "quit";
	if (pa->state != TRANS) {
		reply(pa, "%s", ok);
		return CMD_CLOSE;
	}
	if (maildrop_commit(pa->md, &failed) != 0)
		pa->cl.why = "quit-with-errors";
	logout_line(pa, pa->cl.why);
	maildrop_close(&pa->md);
	if (failed > 0)
		reply(pa, "-ERR some deleted messages not removed (%zu)",
		    failed);
	else
		reply(pa, "%s", ok);
	return CMD_CLOSE;
}

/* cmd_quit: QUIT. */
static int
cmd_quit(struct papm *pa, char *args)
{
	return quit(pa, "+OK server signing off");
}

/* cmd_quti: QUTI, the push side's QUIT, which commits the same. */
static int
cmd_quti(struct papm *pa, char *args)
{
	return quit(pa, "+OK");
}

/* cmd_stat: STAT: "+OK count octets" of the messages not deleted. */
static int
cmd_stat(struct papm *pa, char *args)
{
	off_t	 size;
	size_t	 n;

	if (!command_end(args)) {
		reply(pa, "-ERR STAT takes no argument");
		return CMD_BAD;
	}
	n = maildrop_live(pa->md, &size);
	reply(pa, "+OK %zu %lld", n, (long long)size);
	return CMD_OK;
}

/* cmd_list: LIST [num]: one "+OK num size" line, or one per message
 * ended by a "." line ("+OK" alone before it when there is none). */
static int
cmd_list(struct papm *pa, char *args)
{
	char	*w = command_word(&args);
	size_t	 i, n = 0;
	long	 m;

	if (!command_end(args)) {
		reply(pa, "-ERR LIST takes at most one argument");
		return CMD_BAD;
	}
	if (w != NULL) {
		if ((m = msgarg(pa, w)) >= 0)
			reply(pa, "+OK %ld %lld", m + 1,
			    (long long)pa->md->mail[m].size);
		return CMD_OK;
	}
	for (i = 0; i < pa->md->count; i++)
		if (!(pa->md->mail[i].flags & MAIL_DELETED)) {
			reply(pa, "+OK %zu %lld", i + 1,
			    (long long)pa->md->mail[i].size);
			n++;
		}
	if (n == 0)
		reply(pa, "+OK");
	return io_puts(pa->io, ".\r\n") == 0 ? CMD_OK : lost(pa);
}

/* cmd_read: READ num: "+OK num size", the message dot-stuffed, ".". */
static int
cmd_read(struct papm *pa, char *args)
{
	char	*w = command_word(&args);
	off_t	 sent;
	long	 m;
	off_t	 fsize;
	int	 fd;

	if (!command_end(args)) {
		reply(pa, "-ERR READ takes one argument");
		return CMD_BAD;
	}
	if ((m = msgarg(pa, w)) < 0)
		return CMD_OK;
	if ((fd = maildrop_open_mail(pa->md, (size_t)m, &fsize)) == -1) {
		reply(pa, errno == ENOENT ? "-ERR no such message" :
		    "-ERR cannot read the message, try again later");
		return CMD_OK;
	}
	reply(pa, "+OK %ld %lld", m + 1, (long long)pa->md->mail[m].size);
	if (io_send_message(pa->io, fd, fsize, -1, &sent) == -1) {
		log_warn("papm: user=<%s> rip=%s: sending message %ld",
		    pa->s->user, pa->s->rip, m + 1);
		close(fd);
		return lost(pa);
	}
	close(fd);
	pa->read_n++;
	pa->read_b += sent;
	pa->md->mail[m].flags |= MAIL_SEEN;
	/* No command waiting: the reply goes now, and the next message is
	 * opened while the client reads this one (as POP3's RETR). */
	if (io_pending(pa->io) == 0 && io_flush(pa->io) == 0)
		maildrop_readahead_next(pa->md, (size_t)m);
	return CMD_OK;
}

/* cmd_dele: DELE num: only marks; QUIT or QUTI deletes. */
static int
cmd_dele(struct papm *pa, char *args)
{
	char	*w = command_word(&args);
	long	 m;

	if (!command_end(args)) {
		reply(pa, "-ERR DELE takes one argument");
		return CMD_BAD;
	}
	if ((m = msgarg(pa, w)) < 0)
		return CMD_OK;
	pa->md->mail[m].flags |= MAIL_DELETED;
	reply(pa, "+OK message deleted");
	return CMD_OK;
}

/* cmd_noop: NOOP and NOPO. */
static int
cmd_noop(struct papm *pa, char *args)
{
	reply(pa, "+OK");
	return CMD_OK;
}

/* cmd_rset: RSET: unmarks every deletion. */
static int
cmd_rset(struct papm *pa, char *args)
{
	maildrop_reset(pa->md);
	reply(pa, "+OK");
	return CMD_OK;
}

/* ---- the push side ---- */

/* abort_all: gives up the local copies not yet committed, here and at
 * the auth process. */
static void
abort_all(struct papm *pa)
{
	size_t	 i;

	for (i = 0; i < pa->nrcpt; i++)
		(void)mda_end(&pa->rcpt[i].job, false);
	if (pa->nasked > 0)
		(void)delegate_end(pa->s, false, pa->asked, pa->nasked);
	free(pa->asked);
	pa->asked = NULL;
	pa->nasked = 0;
}

/* reset: forgets the push transaction: sender, recipients, spool. */
static void
reset(struct papm *pa)
{
	size_t	 i;

	abort_all(pa);
	for (i = 0; i < pa->nrcpt; i++) {
		free(pa->rcpt[i].addr);
		free(pa->rcpt[i].user);
		free(pa->rcpt[i].maildir);
	}
	free(pa->rcpt);
	pa->rcpt = NULL;
	pa->nrcpt = pa->nremote = 0;
	pa->mail = false;
	pa->from[0] = '\0';
	spool_close(&pa->sp);
}

/* domain_ok: whether d is a domain name: dot-separated labels of letters,
 * digits and hyphens, none starting or ending with a hyphen. */
static bool
domain_ok(const char *d)
{
	size_t	 len = strlen(d), label = 0, i;

	if (len == 0 || len > PAPM_DOMAIN_MAX)
		return false;
	for (i = 0; i <= len; i++) {
		if (d[i] == '.' || d[i] == '\0') {
			if (label == 0 || label > PAPM_LABEL_MAX ||
			    d[i - 1] == '-' || d[i - label] == '-')
				return false;
			label = 0;
		} else if (isalnum((unsigned char)d[i]) || d[i] == '-')
			label++;
		else
			return false;
	}
	return true;
}

/*
 * addr_arg: the address after "FROM:" or "TO:" at *sp, with or without
 * angle brackets, spaces allowed before it and nothing but spaces after.
 * An address is printable ASCII without '<', '>' or a leading '-', at
 * most PAPM_ADDR_MAX octets, and when it has an '@' a local part before
 * the last one and a domain name after it.  Returns it, or NULL.
 */
static char *
addr_arg(char *s)
{
	char	*a, *e, *at;
	size_t	 i;

	s += strspn(s, " ");
	if (*s == '<') {
		if ((e = strchr(++s, '>')) == NULL)
			return NULL;
		*e++ = '\0';
	} else {
		e = s + strcspn(s, " ");
		if (*e != '\0')
			*e++ = '\0';
	}
	if (!command_end(e))
		return NULL;
	a = s;
	if (*a == '\0' || *a == '-' || strlen(a) > PAPM_ADDR_MAX)
		return NULL;
	for (i = 0; a[i] != '\0'; i++)
		if (a[i] < 0x21 || a[i] > 0x7e || a[i] == '<' || a[i] == '>')
			return NULL;
	if ((at = strrchr(a, '@')) != NULL &&
	    (at == a || !domain_ok(at + 1)))
		return NULL;
	return a;
}

/* cmd_helo: HELO domain: the client's domain name, checked against
 * papm_helo_domains when that is set.  Starts the push side afresh. */
static int
cmd_helo(struct papm *pa, char *args)
{
	char	*d = command_word(&args);
	const char *list = pa->s->conf->papm_helo_domains;

	if (pa->state != TRANS) {
		reply(pa, "-ERR HELO is not valid before login");
		return CMD_BAD;
	}
	if (d == NULL || !command_end(args) || !domain_ok(d)) {
		reply(pa, "-ERR HELO needs a domain name");
		return CMD_BAD;
	}
	reset(pa);
	if (list != NULL && list[0] != '\0' && !mda_listed(list, d)) {
		log_info("papm: user=<%s> rip=%s: HELO %s refused: not in "
		    "papm_helo_domains", pa->s->user, pa->s->rip, d);
		pa->helo = false;
		reply(pa, "-ERR");
		return CMD_BAD;
	}
	pa->helo = true;
	reply(pa, "+OK");
	return CMD_OK;
}

/* cmd_mail: MAIL FROM: address: an address of the logged-in user. */
static int
cmd_mail(struct papm *pa, char *args)
{
	char	*addr;

	if (pa->state != TRANS) {
		reply(pa, "-ERR user account not registered");
		return CMD_BAD;
	}
	if (!pa->helo) {
		reply(pa, "-ERR send HELO first");
		return CMD_BAD;
	}
	if (!command_keyword(&args, "FROM:") || (addr = addr_arg(args)) == NULL) {
		reply(pa, "-ERR syntax: MAIL FROM: address");
		return CMD_BAD;
	}
	if (!mda_own_address(pa->s->conf, pa->s->user, addr)) {
		log_info("papm: user=<%s> rip=%s: sender <%s> refused: not "
		    "the user's address", pa->s->user, pa->s->rip, addr);
		reply(pa, "-ERR user account not registered");
		return CMD_BAD;
	}
	if (pa->mail) {
		reply(pa, "-ERR sender already given: send RSTE to start "
		    "again");
		return CMD_BAD;
	}
	strlcpy(pa->from, addr, sizeof(pa->from));
	pa->mail = true;
	reply(pa, "+OK");
	return CMD_OK;
}

/* add_rcpt: records a recipient (u NULL: remote; asked: its copy is the
 * auth process's to write).  -1 when out of memory. */
static int
add_rcpt(struct papm *pa, const char *addr, const struct auth_user *u,
    bool asked)
{
	struct prcpt	*r;

	if ((r = reallocarray(pa->rcpt, pa->nrcpt + 1, sizeof(*r))) == NULL)
		return -1;
	pa->rcpt = r;
	r = &pa->rcpt[pa->nrcpt];
	memset(r, 0, sizeof(*r));
	r->addr = strdup(addr);
	r->asked = asked;
	if (u != NULL) {
		r->user = strdup(u->name);
		r->maildir = strdup(u->maildir);
		r->uid = u->uid;
		r->gid = u->gid;
	}
	if (r->addr == NULL || (u != NULL && (r->user == NULL ||
	    r->maildir == NULL))) {
		free(r->addr);
		free(r->user);
		free(r->maildir);
		return -1;
	}
	pa->nrcpt++;
	if (u == NULL)
		pa->nremote++;
	return 0;
}

/* lookup: the account user names: asked of the auth process by a
 * session process (privilege separation: it never reads the account
 * database, even when its channel is gone), else looked up here. */
static enum auth_result
lookup(struct papm *pa, const char *user, struct auth_user *u)
{
	const char	*why;

	if (pa->s->resumed)
		return delegate_lookup(pa->s, user, u);
	return auth_lookup(pa->s->conf, user, u, &why);
}

/*
 * find_local: the account a recipient names: the whole address as a
 * user name, else, at a domain of this server (or without a domain),
 * its local part.  Returns AUTH_OK (*u filled), AUTH_FAILED (no such
 * local account), AUTH_TEMPFAIL; *remote_r is set for an address at
 * another domain that is no user name.
 */
static enum auth_result
find_local(struct papm *pa, const char *addr, struct auth_user *u,
    bool *remote_r)
{
	char		 local[USER_MAX + 1];
	const char	*at = strrchr(addr, '@');
	enum auth_result r;

	*remote_r = false;
	r = lookup(pa, addr, u);
	if (r != AUTH_FAILED || at == NULL)
		return r;
	if (!mda_local_domain(pa->s->conf, at + 1)) {
		*remote_r = true;
		return AUTH_FAILED;
	}
	if ((size_t)(at - addr) >= sizeof(local))
		return AUTH_FAILED;
	memcpy(local, addr, (size_t)(at - addr));
	local[at - addr] = '\0';
	return lookup(pa, local, u);
}

/*
 * local_ok: whether this session may deliver to account u, and how: this
 * process writes the copy when the account runs as its user id (with
 * privilege separation: accounts sharing mail_user, or the user's own);
 * for another user id the auth process writes it on the session's asking
 * (*asked_r), when there is one to ask (privilege separation).  Replies
 * when it may not.
 */
static bool
local_ok(struct papm *pa, const char *addr, const struct auth_user *u,
    bool *asked_r)
{
	int	 own = privsep_own(pa->s->conf, u);

	*asked_r = own == 0 && delegate_available(pa->s);
	if (own == 1 || *asked_r)
		return true;
	if (own == 0)
		log_warnx("papm: user=<%s> rip=%s rcpt=<%s>: account %s runs "
		    "as another user id: not delivered by this session",
		    pa->s->user, pa->s->rip, addr, u->name);
	reply(pa, "-ERR user account cannot take pushed mail from this "
	    "session");
	return false;
}

/* has_local: whether account name is a recipient already. */
static bool
has_local(const struct papm *pa, const char *name)
{
	size_t	 i;

	for (i = 0; i < pa->nrcpt; i++)
		if (pa->rcpt[i].user != NULL &&
		    strcmp(pa->rcpt[i].user, name) == 0)
			return true;
	return false;
}

/* cmd_rcpt: RCPT TO: address: a local account, or, with a relay command
 * configured, an address at another domain. */
static int
cmd_rcpt(struct papm *pa, char *args)
{
	struct auth_user u;
	const char	*relay = pa->s->conf->papm_relay_command;
	char		*addr;
	bool		 remote, asked = false;
	enum auth_result r;

	if (!pa->mail) {
		reply(pa, "-ERR send MAIL FROM: first");
		return CMD_BAD;
	}
	if (!command_keyword(&args, "TO:") || (addr = addr_arg(args)) == NULL) {
		reply(pa, "-ERR syntax: RCPT TO: address");
		return CMD_BAD;
	}
	if (pa->nrcpt >= PAPM_RCPT_MAX) {
		reply(pa, "-ERR too many recipients");
		return CMD_OK;
	}
	r = find_local(pa, addr, &u, &remote);
	if (r == AUTH_TEMPFAIL) {
		reply(pa, "-ERR cannot look the user up, try again later");
		return CMD_OK;
	}
	if (r == AUTH_FAILED && !remote) {
		log_info("papm: user=<%s> rip=%s rcpt=<%s>: unknown user",
		    pa->s->user, pa->s->rip, addr);
		reply(pa, "-ERR user account invalid");
		return CMD_OK;
	}
	if (remote && (relay == NULL || relay[0] == '\0')) {
		log_info("papm: user=<%s> rip=%s rcpt=<%s>: relaying refused",
		    pa->s->user, pa->s->rip, addr);
		reply(pa, "-ERR relaying to other domains is not available");
		return CMD_OK;
	}
	if (!remote && !local_ok(pa, addr, &u, &asked))
		return CMD_OK;
	if (!remote && has_local(pa, u.name))
		return reply(pa, "+OK") == 0 ? CMD_OK : lost(pa);
	if (add_rcpt(pa, addr, remote ? NULL : &u, asked) == -1) {
		log_warn("papm: rcpt");
		reply(pa, "-ERR out of memory, try again later");
		return CMD_OK;
	}
	reply(pa, "+OK");
	return CMD_OK;
}

/* wait_child: waits for pid up to seconds; kills it after that.  Returns
 * its status, or -1 (timed out or lost). */
static int
wait_child(pid_t pid, int seconds, bool *timedout_r)
{
	struct timespec	 end, now, nap = { 0, 1000000 };
	pid_t		 r;
	int		 status;

	*timedout_r = false;
	clock_gettime(CLOCK_MONOTONIC, &end);
	end.tv_sec += seconds;
	for (;;) {
		r = waitpid(pid, &status, WNOHANG);
		if (r == pid)
			return status;
		if (r == -1 && errno != EINTR)
			return -1;
		clock_gettime(CLOCK_MONOTONIC, &now);
		if (now.tv_sec > end.tv_sec || (now.tv_sec == end.tv_sec &&
		    now.tv_nsec >= end.tv_nsec)) {
			*timedout_r = true;
			(void)kill(pid, SIGKILL);
			while (waitpid(pid, &status, 0) == -1 && errno == EINTR)
				;
			return -1;
		}
		(void)nanosleep(&nap, NULL);
		if (nap.tv_nsec < 100000000)
			nap.tv_nsec *= 2;
	}
}

/* relay_argv: papm_relay_command's words (in the copy *words_r), then
 * "-i -f FROM --" and the remote recipients.  NULL when out of memory. */
static char **
relay_argv(struct papm *pa, char **words_r)
{
	char	**argv, *w, *p;
	size_t	 n = 0, i;

	argv = calloc(PAPM_RELAY_WORDS + 5 + pa->nremote, sizeof(*argv));
	if (argv == NULL ||
	    (*words_r = strdup(pa->s->conf->papm_relay_command)) == NULL) {
		free(argv);
		return NULL;
	}
	for (p = *words_r; (w = strsep(&p, " \t")) != NULL;)
		if (*w != '\0' && n < PAPM_RELAY_WORDS)
			argv[n++] = w;
	argv[n++] = "-i";
	argv[n++] = "-f";
	argv[n++] = pa->from;
	argv[n++] = "--";
	for (i = 0; i < pa->nrcpt; i++)
		if (pa->rcpt[i].user == NULL)
			argv[n++] = pa->rcpt[i].addr;
	return argv;
}

/*
 * relay: hands the spooled message for the remote recipients to
 * papm_relay_command, run without a shell as this session's user, the
 * message on its standard input.  Returns 0 when it exited 0; otherwise
 * -1 with why (the exit status, signal, or failure).
 */
static int
relay(struct papm *pa, char *why, size_t whylen)
{
	static char	*env[] = { "PATH=/usr/sbin:/usr/bin:/sbin:/bin", NULL };
	char		**argv, *words = NULL;
	bool		 timedout;
	pid_t		 pid;
	int		 status, null;

	if ((argv = relay_argv(pa, &words)) == NULL) {
		snprintf(why, whylen, "%s", strerror(errno));
		return -1;
	}
	if (lseek(pa->sp.fd, 0, SEEK_SET) == -1 || (pid = fork()) == -1) {
		snprintf(why, whylen, "%s", strerror(errno));
		free(argv);
		free(words);
		return -1;
	}
	if (pid == 0) {
		null = open("/dev/null", O_RDWR);
		if (dup2(pa->sp.fd, STDIN_FILENO) == -1 || null == -1 ||
		    dup2(null, STDOUT_FILENO) == -1)
			_exit(127);
		closefrom(STDERR_FILENO + 1);
		execve(argv[0], argv, env);
		_exit(127);
	}
	status = wait_child(pid, pa->s->conf->idle_timeout, &timedout);
	free(argv);
	free(words);
	if (status != -1 && WIFEXITED(status) && WEXITSTATUS(status) == 0)
		return 0;
	if (timedout)
		snprintf(why, whylen, "timed out");
	else if (status != -1 && WIFEXITED(status))
		snprintf(why, whylen, "exit status %d", WEXITSTATUS(status));
	else if (status != -1 && WIFSIGNALED(status))
		snprintf(why, whylen, "killed by signal %d", WTERMSIG(status));
	else
		snprintf(why, whylen, "lost");
	return -1;
}

/* copy_failed: the reply and log line for the copy of rcpt addr (account
 * user) that could not be written (err): nothing is delivered. */
static void
copy_failed(struct papm *pa, const char *user, const char *addr, int err)
{
	log_warnx("papm: failed: user=<%s> rip=%s from=<%s> rcpt=<%s>: %s",
	    user, pa->s->rip, pa->from, addr, strerror(err));
	reply(pa, "-ERR cannot deliver to %s: %s, nothing delivered", addr,
	    strerror(err));
}

/* ask_all: asks the auth process for a copy in tmp/ for each local
 * recipient of another uid.  Returns -1 after the reply when one could
 * not be written (then it wrote none). */
static int
ask_all(struct papm *pa)
{
	struct delegate_rcpt *dr;
	size_t		 i, n = 0;
	int		 err;

	for (i = 0; i < pa->nrcpt; i++)
		if (pa->rcpt[i].asked)
			n++;
	if (n == 0)
		return 0;
	if ((pa->asked = calloc(n, sizeof(*pa->asked))) == NULL) {
		for (i = 0; !pa->rcpt[i].asked; i++)
			;
		copy_failed(pa, pa->rcpt[i].user, pa->rcpt[i].addr, errno);
		return -1;
	}
	for (i = 0; i < pa->nrcpt; i++)
		if (pa->rcpt[i].asked) {
			dr = &pa->asked[pa->nasked++];
			dr->addr = pa->rcpt[i].addr;
			dr->user = pa->rcpt[i].user;
		}
	if (delegate_begin(pa->s, pa->from, pa->sp.fd, pa->asked, n) == 0)
		return 0;
	err = errno != 0 ? errno : EIO;
	for (dr = pa->asked, i = 0; i < n; i++)
		if (pa->asked[i].err != 0) {
			dr = &pa->asked[i];
			err = dr->err;
			break;
		}
	copy_failed(pa, dr->user, dr->addr, err);
	free(pa->asked);
	pa->asked = NULL;
	pa->nasked = 0;
	return -1;
}

/* write_all: a copy of the spool in tmp/ for each local recipient: this
 * process writes those of its uid, the auth process the others.  Returns
 * -1 after the reply when one failed (nothing delivered). */
static int
write_all(struct papm *pa)
{
	struct mda_msg	 m = { pa->sp.fd, NULL };	/* no header added */
	struct auth_user u;
	struct prcpt	*r;
	size_t		 i;

	for (i = 0; i < pa->nrcpt; i++) {
		r = &pa->rcpt[i];
		if (r->user == NULL || r->asked)
			continue;
		memset(&u, 0, sizeof(u));
		strlcpy(u.name, r->user, sizeof(u.name));
		strlcpy(u.maildir, r->maildir, sizeof(u.maildir));
		u.uid = r->uid;
		u.gid = r->gid;
		if (mda_begin(pa->s->conf, &m, &u, NULL, &r->job, 0) == -1) {
			copy_failed(pa, r->user, r->addr, r->job.err);
			abort_all(pa);
			return -1;
		}
	}
	if (ask_all(pa) == -1) {
		abort_all(pa);
		return -1;
	}
	return 0;
}

/* committed: logs one local copy's commit (err 0) or its failure, which
 * it adds to the list failed. */
static void
committed(struct papm *pa, const char *user, const char *addr, int err,
    const char *name, off_t size, char *failed, size_t len)
{
	if (err != 0) {
		log_warnx("papm: failed: user=<%s> rip=%s from=<%s> "
		    "rcpt=<%s>: %s", user, pa->s->rip, pa->from, addr,
		    strerror(err));
		if (failed[0] != '\0')
			strlcat(failed, " ", len);
		strlcat(failed, addr, len);
		return;
	}
	pa->pushed_n++;
	log_info("papm: delivered: user=<%s> rip=%s from=<%s> rcpt=<%s> "
	    "name=%s size=%lld", user, pa->s->rip, pa->from, addr, name,
	    (long long)size);
}

/* commit_all: links each local copy into new/, here and at the auth
 * process; the reply names the recipients whose copy could not be. */
static void
commit_all(struct papm *pa)
{
	const struct delegate_rcpt *dr;
	struct prcpt	*r;
	char		 failed[256] = "";
	size_t		 i;

	for (i = 0; i < pa->nrcpt; i++) {
		r = &pa->rcpt[i];
		if (r->user == NULL || r->asked)
			continue;
		(void)mda_end(&r->job, true);
		committed(pa, r->user, r->addr, r->job.err, r->job.name,
		    r->job.size, failed, sizeof(failed));
	}
	if (pa->nasked > 0)
		(void)delegate_end(pa->s, true, pa->asked, pa->nasked);
	for (i = 0; i < pa->nasked; i++) {
		dr = &pa->asked[i];
		committed(pa, dr->user, dr->addr, dr->err, dr->name, dr->size,
		    failed, sizeof(failed));
	}
	free(pa->asked);
	pa->asked = NULL;
	pa->nasked = 0;
	if (failed[0] != '\0')
		reply(pa, "-ERR not delivered to %s; delivered to the other "
		    "recipients", failed);
	else
		reply(pa, "+OK");
}

/*
 * push_all: delivers the spooled message: first a tmp/ copy for every
 * local recipient, then the relay command for the remote ones (a failure
 * of either delivers nothing at all), then each local copy into new/.
 */
static void
push_all(struct papm *pa)
{
	char	 why[128];

	session_title(pa->s, "push");
	if (write_all(pa) == 0) {
		if (pa->nremote > 0 && relay(pa, why, sizeof(why)) == -1) {
			log_warnx("papm: relay failed: user=<%s> rip=%s "
			    "from=<%s> rcpts=%zu: %s", pa->s->user, pa->s->rip,
			    pa->from, pa->nremote, why);
			abort_all(pa);
			reply(pa, "-ERR relay failed: %s, nothing delivered",
			    why);
		} else {
			if (pa->nremote > 0) {
				pa->pushed_n += (unsigned)pa->nremote;
				log_info("papm: relayed: user=<%s> rip=%s "
				    "from=<%s> rcpts=%zu", pa->s->user,
				    pa->s->rip, pa->from, pa->nremote);
			}
			commit_all(pa);
		}
	}
	session_title(pa->s, pa->s->user);
}

/* cmd_data: DATA: "+OK", the message up to a "." line, then one reply:
 * +OK when every copy is delivered. */
static int
cmd_data(struct papm *pa, char *args)
{
	const char	*why = "connection error";
	long		 max = pa->s->conf->papm_max_message_size;
	bool		 toolong;

	if (!pa->mail || pa->nrcpt == 0) {
		reply(pa, pa->mail ? "-ERR send RCPT TO: first" :
		    "-ERR send MAIL FROM: first");
		return CMD_BAD;
	}
	if (!command_end(args)) {
		reply(pa, "-ERR DATA takes no argument");
		return CMD_BAD;
	}
	if (spool_open(&pa->sp, pa->s->conf->lmtp_temp_dir, "papm") == -1) {
		log_warn("papm: rip=%s: spool file in %s", pa->s->rip,
		    pa->s->conf->lmtp_temp_dir);
		reply(pa, "-ERR cannot spool the message, try again later");
		return CMD_OK;
	}
	reply(pa, "+OK");
	if (spool_read(&pa->sp, pa->io, max, &why) == -1) {
		log_info("papm: user=<%s> rip=%s from=<%s>: %s, nothing "
		    "delivered", pa->s->user, pa->s->rip, pa->from, why);
		pa->cl.why = why;
		return CMD_CLOSE;
	}
	toolong = pa->sp.toolong;
	if (toolong)
		reply(pa, "-ERR message has a line longer than %d octets, "
		    "nothing delivered", MESSAGE_LINE_MAX);
	else if (pa->sp.size > max)
		reply(pa, "-ERR message too large: the limit is %ld octets, "
		    "nothing delivered", max);
	else if (pa->sp.err != 0)
		reply(pa, "-ERR cannot spool the message: %s, nothing "
		    "delivered", strerror(pa->sp.err));
	else
		push_all(pa);
	if (toolong || pa->sp.size > max)
		log_info("papm: user=<%s> rip=%s from=<%s>: message refused: "
		    "%s", pa->s->user, pa->s->rip, pa->from, toolong ?
		    "line too long" : "too large");
	reset(pa);
	return CMD_OK;
}

/* cmd_rste: RSTE: forgets sender, recipients and data. */
static int
cmd_rste(struct papm *pa, char *args)
{
	reset(pa);
	reply(pa, "+OK");
	return CMD_OK;
}

/* ---- the session ---- */

/* dispatch: runs one command line. */
static int
dispatch(void *ctx, char *line, size_t len)
{
	struct papm	*pa = ctx;
	const struct cmd *c;

	c = COMMAND_POP(&pa->cl, &line, cmds, pa->state, pa->state != AUTH);
	return c == NULL ? CMD_BAD : c->fn(pa, line);
}

static const struct command_ops papm_ops = { dispatch, NULL, NULL };

/* papm_serve: one PAPM session on s->fd. */
static void
papm_serve(struct session *s)
{
	struct papm	 pa;
	const char	*why;

	memset(&pa, 0, sizeof(pa));
	pa.s = s;
	pa.state = AUTH;
	spool_init(&pa.sp);
	if ((pa.io = session_io(s, (size_t)s->conf->max_line >
	    MESSAGE_LINE_MAX ? (size_t)s->conf->max_line : MESSAGE_LINE_MAX)) ==
	    NULL)
		return;
	command_init(&pa.cl, s, pa.io, &pa, &papm_ops);
	if (s->resumed) {
		/* A session process: the login was checked; answer it. */
		open_maildrop(&pa, &s->account);
		if (pa.state == TRANS)
			why = command_loop(&pa.cl);
		else {
			io_flush(pa.io);
			why = "maildrop unavailable";
		}
	} else {
		reply(&pa, "+OK Postern PAPM server ready");
		why = command_loop(&pa.cl);
	}
	reset(&pa);
	if (s->handed_off)
		return;
	/* Only QUIT and QUTI delete: every other end leaves the maildrop
	 * as it was, and a message not ended by "." is not delivered. */
	if (s->user[0] != '\0' && !pa.logged_out)
		logout_line(&pa, why);
	maildrop_close(&pa.md);
}

/* papm_refuse: a refusal as "-ERR text", PAPM's negative reply. */
static size_t
papm_refuse(const struct session *s, const char *text, char *buf, size_t len)
{
	int	 n = snprintf(buf, len, "-ERR %s\r\n", text);

	return n < 0 || (size_t)n >= len ? 0 : (size_t)n;
}

const struct protocol papm_protocol = {
	.name = "papm",
	.default_port = 49153,
	.serve = papm_serve,
	.local = false,
	.delivers = true,
	.refuse = papm_refuse,
};
