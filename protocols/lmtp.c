/*
 * lmtp.c: the LMTP protocol module (RFC 2033 over RFC 5321's commands,
 * with PIPELINING, ENHANCEDSTATUSCODES, 8BITMIME and SIZE).  It reads
 * like the RFC's command table; the message goes to a spool file in
 * lmtp_temp_dir and from there into each recipient's Maildir through
 * server/mda.c, in a child that takes the recipient's uid when the
 * worker is root; a root worker serves the session in a child without
 * root, which asks it for lookups and deliveries (server/delegate.h).
 * It never holds a message in memory, never delivers as
 * uid 0 by a passwd-file entry's asking, and never replies 250 for a
 * message that is not synced into new/.
 */
#include <sys/types.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
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
#include "server/session.h"

/* An address between < and > (RFC 5321 4.5.3.1.3: a path is 256). */
#define LMTP_ADDR_MAX		DELEGATE_ADDR_MAX

/* Recipients in one transaction (RFC 5321 4.5.3.1.8: at least 100). */
#define LMTP_RCPT_MAX		1000

struct rcpt {
	char	*addr;		/* as given, without < > */
	char	*user;		/* the passwd-file entry it found */
	char	*maildir;
	long	 uid;		/* the account's (auth.h) */
	long	 gid;
};

struct lmtp {
	struct session	*s;
	struct io	*io;
	bool		 lhlo;		/* LHLO has been accepted */
	bool		 mail;		/* in a transaction: MAIL accepted */
	char		 from[LMTP_ADDR_MAX + 1];
	struct rcpt	*rcpt;
	size_t		 nrcpt;
	struct spool	 sp;		/* the message text */
	unsigned	 ok_n, fail_n;	/* deliveries, for the last log line */
	struct cmdloop	 cl;		/* the command loop; why it ended */
};

struct cmd {
	const char	*name;
	int		(*fn)(struct lmtp *, char *);
};

static int	cmd_lhlo(struct lmtp *, char *);
static int	cmd_helo(struct lmtp *, char *);
static int	cmd_mail(struct lmtp *, char *);
static int	cmd_rcpt(struct lmtp *, char *);
static int	cmd_data(struct lmtp *, char *);
static int	cmd_rset(struct lmtp *, char *);
static int	cmd_noop(struct lmtp *, char *);
static int	cmd_quit(struct lmtp *, char *);
static int	cmd_vrfy(struct lmtp *, char *);
static int	cmd_help(struct lmtp *, char *);

static const struct cmd cmds[] = {
	{ "LHLO",	cmd_lhlo },
	{ "HELO",	cmd_helo },
	{ "EHLO",	cmd_helo },
	{ "MAIL",	cmd_mail },
	{ "RCPT",	cmd_rcpt },
	{ "DATA",	cmd_data },
	{ "RSET",	cmd_rset },
	{ "NOOP",	cmd_noop },
	{ "QUIT",	cmd_quit },
	{ "VRFY",	cmd_vrfy },
	{ "HELP",	cmd_help },
};

/* reply: one buffered reply line, CRLF added. */
static int __attribute__((format(printf, 2, 3)))
reply(struct lmtp *l, const char *fmt, ...)
{
	char	 line[1024];
	va_list	 ap;

	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	return io_printf(l->io, "%s\r\n", line);
}

/* reset: ends the transaction: sender, recipients and spool. */
static void
reset(struct lmtp *l)
{
	size_t	 i;

	for (i = 0; i < l->nrcpt; i++) {
		free(l->rcpt[i].addr);
		free(l->rcpt[i].user);
		free(l->rcpt[i].maildir);
	}
	free(l->rcpt);
	l->rcpt = NULL;
	l->nrcpt = 0;
	l->mail = false;
	l->from[0] = '\0';
	spool_close(&l->sp);
}

/*
 * path_arg: parses "<address>" at *sp (after "FROM:" or "TO:", spaces
 * allowed before it), leaving *sp after the '>'.  A source route
 * ("<@a,@b:user@c>") is dropped.  Returns the address, "" for "<>", or
 * NULL when the syntax is wrong or the address too long.
 */
static char *
path_arg(char **sp)
{
	char		*s = *sp, *addr, *end, *colon;
	unsigned char	*p;

	s += strspn(s, " ");
	if (*s != '<' || (end = strchr(s, '>')) == NULL)
		return NULL;
	addr = s + 1;
	*end = '\0';
	if (*addr == '@' && (colon = strchr(addr, ':')) != NULL)
		addr = colon + 1;
	if (strlen(addr) > LMTP_ADDR_MAX || (end[1] != '\0' && end[1] != ' '))
		return NULL;
	for (p = (unsigned char *)addr; *p != '\0'; p++)
		if (*p <= 0x20 || *p == 0x7f || *p == '<')
			return NULL;
	*sp = end + 1;
	return addr;
}

/* cmd_lhlo: LHLO domain; starts afresh, says what is on offer. */
static int
cmd_lhlo(struct lmtp *l, char *args)
{
	args += strspn(args, " ");
	if (*args == '\0') {
		reply(l, "501 5.5.4 LHLO needs a host name");
		return CMD_BAD;
	}
	reset(l);
	l->lhlo = true;
	reply(l, "250-%s", l->s->conf->hostname);
	reply(l, "250-PIPELINING");
	reply(l, "250-ENHANCEDSTATUSCODES");
	reply(l, "250-8BITMIME");
	reply(l, "250 SIZE %ld", l->s->conf->lmtp_max_message_size);
	return CMD_OK;
}

/* cmd_helo: HELO and EHLO are SMTP's: RFC 2033 section 4.1. */
static int
cmd_helo(struct lmtp *l, char *args)
{
	reply(l, "500 5.5.1 this is LMTP: use LHLO");
	return CMD_BAD;
}

/* mail_params: the parameters of MAIL FROM; replies to a bad one. */
static int
mail_params(struct lmtp *l, char *args)
{
	char	*w;
	long long size;
	size_t	 n;

	while ((w = strsep(&args, " ")) != NULL) {
		if (*w == '\0')
			continue;
		if (command_keyword(&w, "SIZE=")) {
			n = strlen(w);
			if (n == 0 || n > 18 || strspn(w, "0123456789") != n) {
				reply(l, "501 5.5.4 bad SIZE parameter");
				return CMD_BAD;
			}
			size = strtoll(w, NULL, 10);
			if (size > l->s->conf->lmtp_max_message_size) {
				reply(l, "552 5.3.4 message size exceeds "
				    "fixed maximum message size");
				return CMD_OK;
			}
		} else if (command_keyword(&w, "BODY=")) {
			if (strcasecmp(w, "7BIT") != 0 &&
			    strcasecmp(w, "8BITMIME") != 0) {
				reply(l, "501 5.5.4 bad BODY parameter");
				return CMD_BAD;
			}
		} else {
			reply(l, "555 5.5.4 unsupported parameter");
			return CMD_BAD;
		}
	}
	return -1;
}

/* cmd_mail: MAIL FROM:<address> [SIZE=n] [BODY=7BIT|8BITMIME]. */
static int
cmd_mail(struct lmtp *l, char *args)
{
	char	*addr;
	int	 rc;

	if (!l->lhlo) {
		reply(l, "503 5.5.1 send LHLO first");
		return CMD_BAD;
	}
	if (l->mail) {
		reply(l, "503 5.5.1 nested MAIL command");
		return CMD_BAD;
	}
	if (!command_keyword(&args, "FROM:") || (addr = path_arg(&args)) == NULL) {
		reply(l, "501 5.5.4 syntax: MAIL FROM:<address>");
		return CMD_BAD;
	}
	if ((rc = mail_params(l, args)) != -1)
		return rc;
	strlcpy(l->from, addr, sizeof(l->from));
	l->mail = true;
	reply(l, "250 2.1.0 sender <%s> OK", addr);
	return CMD_OK;
}

/* add_rcpt: records an accepted recipient.  -1 when out of memory. */
static int
add_rcpt(struct lmtp *l, const char *addr, const struct auth_user *u)
{
	struct rcpt	*r;

	if ((r = reallocarray(l->rcpt, l->nrcpt + 1, sizeof(*r))) == NULL)
		return -1;
	l->rcpt = r;
	r = &l->rcpt[l->nrcpt];
	r->addr = strdup(addr);
	r->user = strdup(u->name);
	r->maildir = strdup(u->maildir);
	r->uid = u->uid;
	r->gid = u->gid;
	if (r->addr == NULL || r->user == NULL || r->maildir == NULL) {
		free(r->addr);
		free(r->user);
		free(r->maildir);
		return -1;
	}
	l->nrcpt++;
	return 0;
}

/*
 * refuse_rcpt: replies to a recipient mda_lookup() did not find as rc
 * says, logging why.
 */
static void
refuse_rcpt(struct lmtp *l, const char *addr, enum mda_found rc)
{
	switch (rc) {
	case MDA_UNREADABLE:
		reply(l, "451 4.3.0 <%s> cannot look the user up, try again "
		    "later", addr);
		break;
	case MDA_ROOT:
		log_warnx("lmtp: rcpt=<%s> rip=%s: uid 0 refused", addr,
		    l->s->rip);
		reply(l, "550 5.7.1 <%s> delivery as uid 0 refused", addr);
		break;
	case MDA_BADPATH:
		log_warnx("lmtp: rcpt=<%s>: bad maildir path", addr);
		reply(l, "451 4.3.5 <%s> bad maildir path, try again later",
		    addr);
		break;
	case MDA_NOIDENT:
		reply(l, "451 4.3.5 <%s> cannot take the account's identity, "
		    "try again later", addr);
		break;
	default:
		log_info("lmtp: rcpt=<%s> rip=%s: unknown user", addr,
		    l->s->rip);
		reply(l, "550 5.1.1 <%s> unknown user", addr);
		break;
	}
}

/* cmd_rcpt: RCPT TO:<address>; the user must be in the passwd-file. */
static int
cmd_rcpt(struct lmtp *l, char *args)
{
	struct auth_user u;
	char		*addr;
	enum mda_found	 rc;

	if (!l->mail) {
		reply(l, "503 5.5.1 need MAIL before RCPT");
		return CMD_BAD;
	}
	if (!command_keyword(&args, "TO:") || (addr = path_arg(&args)) == NULL ||
	    *addr == '\0') {
		reply(l, "501 5.5.4 syntax: RCPT TO:<address>");
		return CMD_BAD;
	}
	if (!command_end(args)) {
		reply(l, "555 5.5.4 unsupported parameter");
		return CMD_BAD;
	}
	if (l->nrcpt >= LMTP_RCPT_MAX) {
		reply(l, "452 4.5.3 too many recipients");
		return CMD_OK;
	}
	rc = delegate_available(l->s) ? delegate_find(l->s, addr, &u) :
	    mda_lookup(l->s->conf, addr, &u);
	if (rc != MDA_FOUND)
		refuse_rcpt(l, addr, rc);
	else if (add_rcpt(l, addr, &u) == -1) {
		log_warn("lmtp: rcpt");
		reply(l, "452 4.3.0 <%s> out of memory", addr);
	} else
		reply(l, "250 2.1.5 <%s> OK", addr);
	return CMD_OK;
}

/* store: delivers the spool to r: in this process when r runs as its
 * uid, else in a delivery child that takes r's (mda.h).  Fills *j. */
static void
store(struct lmtp *l, const struct rcpt *r, struct mda_job *j)
{
	struct mda_msg	 m = { l->sp.fd, l->from };
	struct auth_user u;

	memset(&u, 0, sizeof(u));
	strlcpy(u.name, r->user, sizeof(u.name));
	strlcpy(u.maildir, r->maildir, sizeof(u.maildir));
	u.uid = r->uid;
	u.gid = r->gid;
	if (mda_begin(l->s->conf, &m, &u, r->addr, j, 0) == 0)
		(void)mda_end(j, true);
}

/* deliver_reply: the reply line for one recipient's delivery. */
static void
deliver_reply(struct lmtp *l, const struct rcpt *r, const struct mda_job *res)
{
	if (res->err == 0) {
		l->ok_n++;
		log_info("lmtp: delivered: user=<%s> rip=%s from=<%s> "
		    "rcpt=<%s> name=%s size=%lld", r->user, l->s->rip, l->from,
		    r->addr, res->name, (long long)res->size);
		reply(l, "250 2.0.0 <%s> delivered as %s", r->addr, res->name);
		return;
	}
	l->fail_n++;
	log_warnx("lmtp: failed: user=<%s> rip=%s from=<%s> rcpt=<%s> "
	    "reason=%s", r->user, l->s->rip, l->from, r->addr,
	    strerror(res->err));
	if (res->err == ENOSPC)
		reply(l, "452 4.3.1 <%s> mail system full, try again later",
		    r->addr);
	else if (res->err == EDQUOT)
		reply(l, "452 4.2.2 <%s> mailbox full, try again later",
		    r->addr);
	else if (deliver_tempfail(res->err))
		reply(l, "451 4.3.0 <%s> temporary failure: %s", r->addr,
		    strerror(res->err));
	else if (res->err == EFBIG)
		reply(l, "552 5.3.4 <%s> message too big for the mailbox",
		    r->addr);
	else
		reply(l, "550 5.2.0 <%s> cannot deliver: %s", r->addr,
		    strerror(res->err));
}

/* delegated: has the root local worker write the copies of the n
 * recipients from rcpt[first], each on its own (delegate_deliver()),
 * and replies for each. */
static void
delegated(struct lmtp *l, size_t first, size_t n)
{
	struct delegate_rcpt r[DELEGATE_RCPT_MAX];
	struct mda_job	 res;
	size_t		 i;

	memset(r, 0, sizeof(r));
	for (i = 0; i < n; i++) {
		r[i].addr = l->rcpt[first + i].addr;
		r[i].user = l->rcpt[first + i].user;
	}
	(void)delegate_deliver(l->s, l->from, l->sp.fd, r, n);
	for (i = 0; i < n; i++) {
		memset(&res, 0, sizeof(res));
		res.err = r[i].err;
		res.size = r[i].size;
		memcpy(res.name, r[i].name, sizeof(res.name));
		deliver_reply(l, &l->rcpt[first + i], &res);
	}
}

/* deliver_all: delivers the spooled message to every recipient, one
 * reply each (RFC 2033 section 4.2): through the root local worker, a
 * request per DELEGATE_RCPT_MAX of them, when this is its session's
 * child, else here. */
static void
deliver_all(struct lmtp *l)
{
	struct mda_job	 res;
	const struct rcpt *r;
	size_t		 i;

	if (delegate_available(l->s)) {
		session_title(l->s, "delivering");
		for (i = 0; i < l->nrcpt; i += DELEGATE_RCPT_MAX)
			delegated(l, i, l->nrcpt - i < DELEGATE_RCPT_MAX ?
			    l->nrcpt - i : DELEGATE_RCPT_MAX);
		session_title(l->s, "idle");
		return;
	}
	for (i = 0; i < l->nrcpt; i++) {
		r = &l->rcpt[i];
		session_title(l->s, r->user);
		store(l, r, &res);
		deliver_reply(l, r, &res);
	}
	session_title(l->s, "idle");
}

/* refuse_all: one refusal per recipient, for a message not taken. */
static void
refuse_all(struct lmtp *l, bool toolong, off_t size)
{
	size_t	 i;

	for (i = 0; i < l->nrcpt; i++) {
		if (toolong)
			reply(l, "554 5.6.0 <%s> message has a line longer "
			    "than %d octets, not delivered", l->rcpt[i].addr,
			    MESSAGE_LINE_MAX);
		else if (size > l->s->conf->lmtp_max_message_size)
			reply(l, "552 5.3.4 <%s> message too big: the limit "
			    "is %ld octets", l->rcpt[i].addr,
			    l->s->conf->lmtp_max_message_size);
		else
			reply(l, "451 4.3.0 <%s> cannot spool the message: %s",
			    l->rcpt[i].addr, strerror(l->sp.err));
	}
	log_info("lmtp: rip=%s from=<%s>: message refused: %s", l->s->rip,
	    l->from, toolong ? "line too long" : l->sp.err != 0 ?
	    strerror(l->sp.err) : "too big");
}

/* cmd_data: DATA; the message, then one reply per recipient. */
static int
cmd_data(struct lmtp *l, char *args)
{
	const char	*why = "connection error";
	off_t		 max = l->s->conf->lmtp_max_message_size;

	if (!l->mail || l->nrcpt == 0) {
		reply(l, "503 5.5.1 need %s before DATA",
		    l->mail ? "a valid RCPT" : "MAIL");
		return CMD_BAD;
	}
	if (!command_end(args)) {
		reply(l, "501 5.5.4 DATA takes no argument");
		return CMD_BAD;
	}
	if (spool_open(&l->sp, l->s->conf->lmtp_temp_dir, "lmtp") == -1) {
		log_warn("lmtp: rip=%s: spool file in %s", l->s->rip,
		    l->s->conf->lmtp_temp_dir);
		reply(l, "451 4.3.0 cannot create a spool file, try again "
		    "later");
		return CMD_OK;
	}
	reply(l, "354 2.0.0 send the message, ending with \".\" on a line "
	    "by itself");
	if (spool_read(&l->sp, l->io, max, &why) == -1) {
		if (strcmp(why, "timeout") == 0)
			reply(l, "421 4.4.2 %s timeout, closing",
			    l->s->conf->hostname);
		log_info("lmtp: rip=%s from=<%s>: %s, nothing delivered",
		    l->s->rip, l->from, why);
		l->cl.why = why;
		return CMD_CLOSE;
	}
	if (l->sp.toolong || l->sp.size > max || l->sp.err != 0)
		refuse_all(l, l->sp.toolong, l->sp.size);
	else
		deliver_all(l);
	reset(l);
	return CMD_OK;
}

/* cmd_rset: RSET; drops the transaction. */
static int
cmd_rset(struct lmtp *l, char *args)
{
	reset(l);
	reply(l, "250 2.0.0 OK");
	return CMD_OK;
}

/* cmd_noop: NOOP. */
static int
cmd_noop(struct lmtp *l, char *args)
{
	reply(l, "250 2.0.0 OK");
	return CMD_OK;
}

/* cmd_quit: QUIT. */
static int
cmd_quit(struct lmtp *l, char *args)
{
	reply(l, "221 2.0.0 %s closing connection", l->s->conf->hostname);
	l->cl.why = "quit";
	return CMD_CLOSE;
}

/* cmd_vrfy: VRFY; users are not disclosed (RFC 5321 3.5.3). */
static int
cmd_vrfy(struct lmtp *l, char *args)
{
	reply(l, "252 2.5.0 cannot VRFY user, but will accept message and "
	    "attempt delivery");
	return CMD_OK;
}

/* cmd_help: HELP. */
static int
cmd_help(struct lmtp *l, char *args)
{
	reply(l, "214 2.0.0 commands: LHLO MAIL RCPT DATA RSET NOOP QUIT "
	    "VRFY HELP");
	return CMD_OK;
}

/* dispatch: runs one command line. */
static int
dispatch(void *ctx, char *line, size_t len)
{
	struct lmtp	*l = ctx;
	const struct cmd *c;
	const char	*name = command_name(&line);

	if ((c = COMMAND_FIND(cmds, name)) == NULL) {
		reply(l, "500 5.5.1 unknown command");
		return CMD_BAD;
	}
	return c->fn(l, line);
}

/* event: the replies to the command loop's events. */
static void
event(void *ctx, enum cmd_event ev)
{
	struct lmtp	*l = ctx;

	if (ev == CMD_TOOLONG)
		reply(l, "500 5.5.2 line too long");
	else if (ev == CMD_TIMEOUT)
		reply(l, "421 4.4.2 %s timeout, closing", l->s->conf->hostname);
	else
		reply(l, "421 4.7.0 %s too many errors, closing",
		    l->s->conf->hostname);
}

static const struct command_ops lmtp_ops = { dispatch, event, NULL };

/* lmtp_serve: one LMTP session on s->fd. */
static void
lmtp_serve(struct session *s)
{
	struct lmtp	 l;
	const char	*why;
	size_t		 max = MESSAGE_LINE_MAX;

	memset(&l, 0, sizeof(l));
	l.s = s;
	spool_init(&l.sp);
	if ((size_t)s->conf->max_line > max)
		max = (size_t)s->conf->max_line;
	if ((l.io = session_io(s, max)) == NULL)
		return;
	command_init(&l.cl, s, l.io, &l, &lmtp_ops);
	command_logged_in(&l.cl, s->conf->lmtp_idle_timeout);
	session_title(s, "idle");
	reply(&l, "220 %s LMTP Postern ready", s->conf->hostname);
	why = command_loop(&l.cl);
	io_flush(l.io);
	reset(&l);
	log_debug("lmtp: rip=%s delivered=%u failed=%u reason=%s", s->rip,
	    l.ok_n, l.fail_n, why);
}

/* lmtp_refuse: a refusal as "421 4.3.2 host text" (RFC 5321 section
 * 3.8, RFC 3463: the system is not accepting messages): the client
 * keeps its mail and tries again later. */
static size_t
lmtp_refuse(const struct session *s, const char *text, char *buf, size_t len)
{
	int	 n = snprintf(buf, len, "421 4.3.2 %s %s\r\n",
		    s->conf->hostname, text);

	return n < 0 || (size_t)n >= len ? 0 : (size_t)n;
}

/* LMTP reads the passwd-file and delivers as each recipient before any
 * login: it runs in the local workers (posternd(8)). */
const struct protocol lmtp_protocol = {
	.name = "lmtp",
	.default_port = 24,
	.serve = lmtp_serve,
	.local = true,
	.refuse = lmtp_refuse,
};
