/*
 * pop3.c: the POP3 protocol module (RFC 1939, with RFC 2449 CAPA and
 * response codes, RFC 5034 AUTH, and the 1985 draft's RPOP).  It reads
 * like the RFC's command table: one handler per command, dispatched by
 * name and state.  Storage, locking, logins and line handling belong to
 * storage/, server/ and io.c; this file only speaks POP3, and never
 * checks a credential itself: every login goes to session_login().
 */
#include <sys/types.h>
#include <sys/stat.h>

#include <ctype.h>
#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "server/io.h"
#include "protocols/command.h"
#include "protocols/protocol.h"
#include "protocols/uidl.h"
#include "server/limits.h"
#include "server/log.h"
#include "server/sasl.h"
#include "server/session.h"
#include "storage/maildir.h"

/* States of RFC 1939 section 3; UPDATE is the end of QUIT. */
#define AUTHORIZATION	0x01
#define TRANSACTION	0x02
#define ANY		(AUTHORIZATION | TRANSACTION)

struct pop3 {
	struct session	*s;
	struct io	*io;
	struct maildrop	*md;
	int		 state;
	bool		 have_user;
	char		 user[USER_MAX + 1];
	unsigned	 top_n, retr_n;		/* for the logout line */
	off_t		 top_b, retr_b;
	bool		 logged_out;	/* the logout line is written */
	struct cmdloop	 cl;		/* the command loop; why it ended */
	char		 stamp[256];	/* the greeting's APOP timestamp;
					   "" when APOP is off */
};

struct cmd {
	const char	*name;		/* as struct command_head */
	int		 states;
	int		(*fn)(struct pop3 *, char *);
};
_Static_assert(offsetof(struct cmd, states) ==
    offsetof(struct command_head, states), "struct cmd: command.h's head");

static int	cmd_user(struct pop3 *, char *);
static int	cmd_pass(struct pop3 *, char *);
static int	cmd_apop(struct pop3 *, char *);
static int	cmd_rpop(struct pop3 *, char *);
static int	cmd_auth(struct pop3 *, char *);
static int	cmd_quit(struct pop3 *, char *);
static int	cmd_stat(struct pop3 *, char *);
static int	cmd_list(struct pop3 *, char *);
static int	cmd_retr(struct pop3 *, char *);
static int	cmd_dele(struct pop3 *, char *);
static int	cmd_noop(struct pop3 *, char *);
static int	cmd_rset(struct pop3 *, char *);
static int	cmd_top(struct pop3 *, char *);
static int	cmd_uidl(struct pop3 *, char *);
static int	cmd_capa(struct pop3 *, char *);
static int	cmd_stls(struct pop3 *, char *);

static const struct cmd cmds[] = {
	{ "USER",	AUTHORIZATION,	cmd_user },
	{ "PASS",	AUTHORIZATION,	cmd_pass },
	{ "APOP",	AUTHORIZATION,	cmd_apop },
	{ "RPOP",	AUTHORIZATION,	cmd_rpop },
	{ "AUTH",	AUTHORIZATION,	cmd_auth },
	{ "QUIT",	ANY,		cmd_quit },
	{ "STAT",	TRANSACTION,	cmd_stat },
	{ "LIST",	TRANSACTION,	cmd_list },
	{ "RETR",	TRANSACTION,	cmd_retr },
	{ "DELE",	TRANSACTION,	cmd_dele },
	{ "NOOP",	TRANSACTION,	cmd_noop },
	{ "RSET",	TRANSACTION,	cmd_rset },
	{ "TOP",	TRANSACTION,	cmd_top },
	{ "UIDL",	TRANSACTION,	cmd_uidl },
	{ "CAPA",	ANY,		cmd_capa },
	{ "STLS",	AUTHORIZATION,	cmd_stls },
};

/* reply: one buffered reply line, CRLF added. */
static int reply(struct pop3 *, const char *, ...)
    __attribute__((format(printf, 2, 3)));

static int
reply(struct pop3 *p, const char *fmt, ...)
{
	char	 line[512];
	va_list	 ap;

	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	return io_printf(p->io, "%s\r\n", line);
}

/* lost: the connection failed mid-reply; the session ends. */
static int
lost(struct pop3 *p)
{
	p->cl.why = "connection error";
	return CMD_CLOSE;
}

/* done: a multi-line reply's end, or the session's if it can't be sent. */
static int
done(struct pop3 *p)
{
	return io_puts(p->io, ".\r\n") == 0 ? CMD_OK : lost(p);
}

/* number: a decimal argument of at most 9 digits, or -1. */
static long
number(const char *w)
{
	size_t	 n = strlen(w);

	if (n == 0 || n > 9 || strspn(w, "0123456789") != n)
		return -1;
	return strtol(w, NULL, 10);
}

/*
 * msgarg: the message named by word w, as a 0-based index.  Replies with
 * -ERR and returns -1 when w is not a live message number.
 */
static long
msgarg(struct pop3 *p, const char *w)
{
	long	 n;

	if (w == NULL) {
		reply(p, "-ERR message number required");
		return -1;
	}
	if ((n = number(w)) < 0) {
		reply(p, "-ERR invalid message number");
		return -1;
	}
	if (n < 1 || (size_t)n > p->md->count) {
		reply(p, "-ERR no such message, only %zu messages in maildrop",
		    p->md->count);
		return -1;
	}
	if (p->md->mail[n - 1].flags & MAIL_DELETED) {
		reply(p, "-ERR message %ld already deleted", n);
		return -1;
	}
	return n - 1;
}

/* uidl: the unique-id of message m, as pop3_uidl_format says (uidl.c). */
static void
uidl(const struct pop3 *p, const struct mail *m, char *out, size_t outlen)
{
	uidl_format(p->s->conf->pop3_uidl_format, m, p->md->uidvalidity, out,
	    outlen);
}

/* plaintext_refused: the reply to USER or PASS where passwords may not
 * be sent in the clear; it points to STLS where that is on offer. */
static int
plaintext_refused(struct pop3 *p)
{
	reply(p, "-ERR [AUTH] plaintext authentication disallowed without "
	    "TLS%s", session_tls_available(p->s) ? ": use STLS first" : "");
	return CMD_BAD;
}

/* rpop_possible: RPOP is enabled and the client connected from a
 * reserved port, as the 1985 draft requires: USER is then taken even
 * where PASS is not, since RPOP sends no password. */
static bool
rpop_possible(const struct pop3 *p)
{
	const char	*f = p->s->conf->rpop_trust_file;

	return f != NULL && f[0] != '\0' && p->s->rport > 0 &&
	    p->s->rport < 1024;
}

/* cmd_user: USER name. */
static int
cmd_user(struct pop3 *p, char *args)
{
	size_t	 n;

	while (*args == ' ')
		args++;
	n = strlen(args);
	while (n > 0 && args[n - 1] == ' ')
		args[--n] = '\0';
	if (!session_plaintext_ok(p->s) && !rpop_possible(p))
		return plaintext_refused(p);
	if (*args == '\0') {
		reply(p, "-ERR USER needs a user name");
		return CMD_BAD;
	}
	if (n > USER_MAX) {
		reply(p, "-ERR user name too long");
		return CMD_BAD;
	}
	strlcpy(p->user, args, sizeof(p->user));
	p->have_user = true;
	return reply(p, "+OK send %s", session_plaintext_ok(p->s) ? "PASS" :
	    "RPOP") == 0 ? CMD_OK : lost(p);
}

/* maildrop_opts: how the Maildir is listed: through its index, with
 * global IDs from state_dir; lasting IDs required when the UIDL uses them. */
static const struct mail_opts *
maildrop_opts(const struct pop3 *p, struct mail_opts *opts)
{
	const char	*err;
	int		 needs;

	memset(opts, 0, sizeof(*opts));
	opts->state_dir = session_state_dir(p->s);
	opts->msgid = p->s->msgid;
	needs = uidl_check(p->s->conf->pop3_uidl_format, &err);
	opts->need_uids = needs > 0 && (needs & UIDL_NEEDS_UIDS);
	opts->need_gids = needs > 0 && (needs & UIDL_NEEDS_GIDS);
	return opts;
}

/*
 * broken_maildir: whether maildrop_open failed with err because the
 * Maildir exists but lacks new/, cur/ or tmp/, or its path runs through
 * a file: a lasting fault.  A Maildir that does not exist yet may be
 * made by the next delivery, so that is no lasting fault.
 */
static bool
broken_maildir(const char *path, int err)
{
	struct stat	 st;

	if (err == ENOTDIR)
		return true;
	return err == ENOENT && stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

/* open_maildrop: locks and lists the user's Maildir after a login. */
static int
open_maildrop(struct pop3 *p, const struct auth_user *u)
{
	struct mail_opts opts;
	off_t	 size;
	size_t	 n;
	int	 rc;

	rc = maildrop_open(u->maildir, maildrop_opts(p, &opts), &p->md);
	if (rc == MAILDROP_LOCKED) {
		log_info("pop3: user=<%s> rip=%s: maildrop locked by another "
		    "session", p->s->user, p->s->rip);
		reply(p, "-ERR [IN-USE] maildrop locked by another session");
		return CMD_OK;
	}
	if (rc != 0 && broken_maildir(u->maildir, errno)) {
		/* RFC 3206: trying again will not help until an admin acts. */
		reply(p, "-ERR [SYS/PERM] the maildrop is not a complete "
		    "Maildir");
		return CMD_OK;
	}
	if (rc != 0) {
		reply(p, "-ERR [SYS/TEMP] cannot open the maildrop");
		return CMD_OK;
	}
	p->state = TRANSACTION;
	command_logged_in(&p->cl, p->s->conf->idle_timeout);
	session_title(p->s, p->s->user);
	n = maildrop_live(p->md, &size);
	reply(p, "+OK maildrop has %zu messages (%lld octets)", n,
	    (long long)size);
	return CMD_OK;
}

/*
 * login_done: answers a login that session_login() judged, for PASS,
 * APOP, RPOP and AUTH alike: opens the maildrop, or hands the session
 * over, or says why not; fail is the reply to refused credentials.
 */
static int
login_done(struct pop3 *p, enum auth_result r, const struct auth_user *u,
    const char *fail)
{
	int	 rc;

	if ((rc = command_pop_login(&p->cl, r, fail, true)) != CMD_IN)
		return rc;
	rc = open_maildrop(p, u);
	if (p->state != TRANSACTION && p->s->dropped) {
		/* This worker took the user's identity: no second login. */
		p->cl.why = "maildrop unavailable";
		return CMD_CLOSE;
	}
	return rc;
}

/* request: a login request of mechanism mech for user, from this
 * session's client. */
static void
request(struct pop3 *p, struct auth_request *req, enum auth_mech mech,
    const char *user, const char *secret)
{
	session_request(p->s, req, mech, user, secret);
	req->challenge = p->stamp;
}

/* cmd_pass: PASS string; the whole rest of the line is the password. */
static int
cmd_pass(struct pop3 *p, char *args)
{
	struct auth_request req;
	struct auth_user u;
	enum auth_result r;

	if (!p->have_user) {
		reply(p, "-ERR send USER first");
		return CMD_BAD;
	}
	p->have_user = false;
	if (!session_plaintext_ok(p->s))
		return plaintext_refused(p);
	request(p, &req, AUTH_MECH_PASSWORD, p->user, args);
	r = session_login(p->s, &req, &u);
	explicit_bzero(args, strlen(args));
	return login_done(p, r, &u, "-ERR [AUTH] invalid user name or "
	    "password");
}

/* cmd_apop: APOP name digest (RFC 1939 section 7), offered when the
 * greeting carried a timestamp. */
static int
cmd_apop(struct pop3 *p, char *args)
{
	struct auth_request req;
	struct auth_user u;
	char		*name = command_word(&args), *digest = command_word(&args);

	if (p->stamp[0] == '\0') {
		reply(p, "-ERR [AUTH] APOP is not available on this server");
		return CMD_BAD;
	}
	if (digest == NULL || !command_end(args)) {
		reply(p, "-ERR APOP needs a user name and a digest");
		return CMD_BAD;
	}
	if (strlen(name) > USER_MAX) {
		reply(p, "-ERR user name too long");
		return CMD_BAD;
	}
	p->have_user = false;
	request(p, &req, AUTH_MECH_APOP, name, digest);
	return login_done(p, session_login(p->s, &req, &u), &u,
	    "-ERR [AUTH] invalid user name or digest");
}

/* cmd_rpop: RPOP user (the 1985 revised POP draft): after USER names the
 * maildrop, the client host vouches for its user; refused unless
 * rpop_trust_file lists the pair and the client's port is reserved. */
static int
cmd_rpop(struct pop3 *p, char *args)
{
	struct auth_request req;
	struct auth_user u;
	char		*ruser = command_word(&args);
	const char	*f = p->s->conf->rpop_trust_file;

	if (f == NULL || f[0] == '\0') {
		reply(p, "-ERR RPOP disabled");
		return CMD_BAD;
	}
	if (!p->have_user) {
		reply(p, "-ERR send USER first");
		return CMD_BAD;
	}
	if (ruser == NULL || !command_end(args)) {
		reply(p, "-ERR RPOP needs one user name");
		return CMD_BAD;
	}
	p->have_user = false;
	request(p, &req, AUTH_MECH_RPOP, p->user, ruser);
	return login_done(p, session_login(p->s, &req, &u), &u,
	    "-ERR [AUTH] permission denied");
}

/* mech_offered: whether SASL mechanism m may be used on this
 * connection: those that send the password only where PASS may. */
static bool
mech_offered(const struct pop3 *p, int m)
{
	return !sasl_mech_plaintext(m) || session_plaintext_ok(p->s);
}

/* auth_list: AUTH without arguments: the mechanisms on offer. */
static int
auth_list(struct pop3 *p)
{
	const char	*name;
	int		 i;

	reply(p, "+OK");
	for (i = 0; (name = sasl_mech_name(i)) != NULL; i++)
		if (mech_offered(p, i))
			io_printf(p->io, "%s\r\n", name);
	return done(p);
}

/*
 * auth_exchange: runs the SASL exchange after "AUTH mech [ir]", reading
 * each response with the session's line reader.  Returns CMD_OK with
 * SASL_DONE in *st, or the command's result after its reply.
 */
static int
auth_exchange(struct pop3 *p, struct sasl *sa, enum sasl_status *st)
{
	char	*line;
	ssize_t	 n;

	while (*st == SASL_CONTINUE) {
		reply(p, "+ %s", sa->challenge);
		n = command_getline(&p->cl, &line);
		if (n == IO_TOOLONG) {
			sasl_clear(sa);
			reply(p, "-ERR line too long");
			return CMD_BAD;
		}
		if (n < 0) {
			sasl_clear(sa);
			if (n == IO_TIMEOUT)
				reply(p, "-ERR autologout: idle for too long");
			p->cl.why = n == IO_EOF ? "disconnected" :
			    n == IO_TIMEOUT ? "timeout" : "connection error";
			return CMD_CLOSE;
		}
		*st = sasl_step(sa, line);
		explicit_bzero(line, (size_t)n);
	}
	switch (*st) {
	case SASL_DONE:
		return CMD_OK;
	case SASL_CANCELLED:
		reply(p, "-ERR AUTH cancelled");
		return CMD_OK;
	case SASL_BAD_BASE64:
		reply(p, "-ERR [AUTH] invalid base64");
		return CMD_BAD;
	case SASL_AUTHZID:
		session_auth_failed(p->s, sa->authcid, "authzid differs");
		sasl_clear(sa);
		return command_pop_refused(&p->cl, "-ERR [AUTH] "
		    "authorization identity refused: no proxy authorization",
		    true);
	case SASL_MALFORMED:
	default:
		reply(p, "-ERR [AUTH] malformed SASL response");
		return CMD_BAD;
	}
}

/* cmd_auth: AUTH [mechanism [initial-response]] (RFC 5034). */
static int
cmd_auth(struct pop3 *p, char *args)
{
	struct auth_request req;
	struct auth_user u;
	struct sasl	 sa;
	enum sasl_status st;
	enum auth_result r;
	char		*name = command_word(&args), *ir = command_word(&args);
	int		 m, rc;

	if (name == NULL)
		return auth_list(p);
	if (!command_end(args)) {
		reply(p, "-ERR AUTH takes a mechanism and at most an initial "
		    "response");
		return CMD_BAD;
	}
	if ((m = sasl_mech_find(name)) < 0) {
		reply(p, "-ERR unsupported authentication mechanism");
		return CMD_BAD;
	}
	if (!mech_offered(p, m)) {
		if (ir != NULL)
			explicit_bzero(ir, strlen(ir));
		return plaintext_refused(p);
	}
	st = sasl_start(&sa, (enum sasl_mech)m, ir);
	if (ir != NULL)
		explicit_bzero(ir, strlen(ir));
	if ((rc = auth_exchange(p, &sa, &st)) != CMD_OK || st != SASL_DONE)
		return rc;
	request(p, &req, AUTH_MECH_PASSWORD, sa.authcid, sa.passwd);
	r = session_login(p->s, &req, &u);
	sasl_clear(&sa);
	return login_done(p, r, &u, "-ERR [AUTH] invalid user name or "
	    "password");
}

/* logout_line: the counts for the logout log line. */
static void
logout_line(struct pop3 *p, const char *how)
{
	char	 stats[256];
	off_t	 left_b, del_b = 0;
	size_t	 left, del = 0, i;

	if (p->md == NULL) {
		p->logged_out = true;
		snprintf(stats, sizeof(stats), "reason=%s", how);
		session_logout(p->s, stats);
		return;
	}
	left = maildrop_live(p->md, &left_b);
	for (i = 0; i < p->md->count; i++)
		if (p->md->mail[i].flags & MAIL_DELETED) {
			del++;
			del_b += p->md->mail[i].size;
		}
	p->logged_out = true;
	snprintf(stats, sizeof(stats), "top=%u/%lld retr=%u/%lld "
	    "del=%zu/%lld size=%lld left=%zu/%lld reason=%s",
	    p->top_n, (long long)p->top_b, p->retr_n, (long long)p->retr_b,
	    del, (long long)del_b, (long long)p->md->size, left,
	    (long long)left_b, how);
	session_logout(p->s, stats);
}

/* cmd_quit: QUIT; in TRANSACTION this is the UPDATE state. */
static int
cmd_quit(struct pop3 *p, char *args)
{
	size_t	 failed = 0, left;

	p->cl.why = "quit";
	if (p->state != TRANSACTION) {
		reply(p, "+OK Postern POP3 server signing off");
		return CMD_CLOSE;
	}
	/* UPDATE: delete, then release the lock, then answer. */
	if (maildrop_commit(p->md, &failed) != 0)
		p->cl.why = "quit-with-errors";
	left = maildrop_live(p->md, NULL);
	logout_line(p, p->cl.why);
	maildrop_close(&p->md);
	if (failed > 0) {
		reply(p, "-ERR [SYS/TEMP] some deleted messages not removed "
		    "(%zu)", failed);
		return CMD_CLOSE;
	}
	if (left == 0)
		reply(p, "+OK Postern POP3 server signing off "
		    "(maildrop empty)");
	else
		reply(p, "+OK Postern POP3 server signing off "
		    "(%zu messages left)", left);
	return CMD_CLOSE;
}

/* cmd_stat: STAT. */
static int
cmd_stat(struct pop3 *p, char *args)
{
	off_t	 size;
	size_t	 n;

	if (!command_end(args)) {
		reply(p, "-ERR STAT takes no argument");
		return CMD_BAD;
	}
	n = maildrop_live(p->md, &size);
	reply(p, "+OK %zu %lld", n, (long long)size);
	return CMD_OK;
}

/* cmd_list: LIST [msg]. */
static int
cmd_list(struct pop3 *p, char *args)
{
	char	*w = command_word(&args);
	off_t	 size;
	size_t	 i, n;
	long	 m;

	if (!command_end(args)) {
		reply(p, "-ERR LIST takes at most one argument");
		return CMD_BAD;
	}
	if (w != NULL) {
		if ((m = msgarg(p, w)) < 0)
			return CMD_OK;
		reply(p, "+OK %ld %lld", m + 1,
		    (long long)p->md->mail[m].size);
		return CMD_OK;
	}
	n = maildrop_live(p->md, &size);
	reply(p, "+OK %zu messages (%lld octets)", n, (long long)size);
	for (i = 0; i < p->md->count; i++)
		if (!(p->md->mail[i].flags & MAIL_DELETED))
			io_printf(p->io, "%zu %lld\r\n", i + 1,
			    (long long)p->md->mail[i].size);
	return done(p);
}

/*
 * send_mail: opens message m and streams it after the +OK line.  Returns
 * CMD_OK, or CMD_CLOSE when the text broke off after +OK was sent.
 */
static int
send_mail(struct pop3 *p, long m, long lines, const char *ok)
{
	off_t	 sent, fsize;
	int	 fd;

	fd = maildrop_open_mail(p->md, (size_t)m, &fsize);
	if (fd == -1) {
		if (errno == ENOENT)
			reply(p, "-ERR message %ld was removed by another "
			    "agent", m + 1);
		else
			reply(p, "-ERR [SYS/TEMP] cannot read message %ld",
			    m + 1);
		return CMD_OK;
	}
	reply(p, "%s", ok);
	if (io_send_message(p->io, fd, fsize, lines, &sent) == -1) {
		log_warn("pop3: user=<%s> rip=%s: sending message %ld",
		    p->s->user, p->s->rip, m + 1);
		close(fd);
		return lost(p);
	}
	close(fd);
	if (lines < 0) {
		p->retr_n++;
		p->retr_b += sent;
		p->md->mail[m].flags |= MAIL_SEEN;
	} else {
		p->top_n++;
		p->top_b += sent;
	}
	return CMD_OK;
}

/*
 * read_ahead: after RETR m, when no further command is waiting: sends the
 * reply at once and opens the next message not marked for deletion,
 * which a client fetching in order asks for next, while it reads this
 * one.
 */
static void
read_ahead(struct pop3 *p, long m)
{
	if (io_pending(p->io) == 0 && io_flush(p->io) == 0)
		maildrop_readahead_next(p->md, (size_t)m);
}

/* cmd_retr: RETR msg. */
static int
cmd_retr(struct pop3 *p, char *args)
{
	char	*w = command_word(&args);
	char	 ok[64];
	long	 m;
	int	 rc;

	if (!command_end(args)) {
		reply(p, "-ERR RETR takes one argument");
		return CMD_BAD;
	}
	if ((m = msgarg(p, w)) < 0)
		return CMD_OK;
	snprintf(ok, sizeof(ok), "+OK %lld octets",
	    (long long)p->md->mail[m].size);
	if ((rc = send_mail(p, m, -1, ok)) == CMD_OK)
		read_ahead(p, m);
	return rc;
}

/* cmd_top: TOP msg n. */
static int
cmd_top(struct pop3 *p, char *args)
{
	char	*w = command_word(&args), *nw = command_word(&args);
	long	 m, n;

	if (!command_end(args)) {
		reply(p, "-ERR TOP takes two arguments");
		return CMD_BAD;
	}
	if ((m = msgarg(p, w)) < 0)
		return CMD_OK;
	if (nw == NULL || (n = number(nw)) < 0) {
		reply(p, "-ERR TOP needs a number of lines (0 or more)");
		return CMD_OK;
	}
	return send_mail(p, m, n, "+OK top of message follows");
}

/* cmd_dele: DELE msg; only marks, QUIT deletes. */
static int
cmd_dele(struct pop3 *p, char *args)
{
	char	*w = command_word(&args);
	long	 m;

	if (!command_end(args)) {
		reply(p, "-ERR DELE takes one argument");
		return CMD_BAD;
	}
	if ((m = msgarg(p, w)) < 0)
		return CMD_OK;
	p->md->mail[m].flags |= MAIL_DELETED;
	reply(p, "+OK message %ld deleted", m + 1);
	return CMD_OK;
}

/* cmd_noop: NOOP. */
static int
cmd_noop(struct pop3 *p, char *args)
{
	reply(p, "+OK");
	return CMD_OK;
}

/* cmd_rset: RSET; unmarks every deletion. */
static int
cmd_rset(struct pop3 *p, char *args)
{
	off_t	 size;
	size_t	 n;

	maildrop_reset(p->md);
	n = maildrop_live(p->md, &size);
	reply(p, "+OK maildrop has %zu messages (%lld octets)", n,
	    (long long)size);
	return CMD_OK;
}

/* cmd_uidl: UIDL [msg]. */
static int
cmd_uidl(struct pop3 *p, char *args)
{
	char	*w = command_word(&args);
	char	 id[UIDL_MAX + 1];
	size_t	 i;
	long	 m;

	if (!command_end(args)) {
		reply(p, "-ERR UIDL takes at most one argument");
		return CMD_BAD;
	}
	if (w != NULL) {
		if ((m = msgarg(p, w)) < 0)
			return CMD_OK;
		uidl(p, &p->md->mail[m], id, sizeof(id));
		reply(p, "+OK %ld %s", m + 1, id);
		return CMD_OK;
	}
	reply(p, "+OK unique-id listing follows");
	for (i = 0; i < p->md->count; i++) {
		if (p->md->mail[i].flags & MAIL_DELETED)
			continue;
		uidl(p, &p->md->mail[i], id, sizeof(id));
		io_printf(p->io, "%zu %s\r\n", i + 1, id);
	}
	return done(p);
}

/* cmd_capa: CAPA (RFC 2449); lists what is on offer in this state. */
static int
cmd_capa(struct pop3 *p, char *args)
{
	const struct conf *c = p->s->conf;
	const char	*name;
	int		 i, n = 0;

	reply(p, "+OK capability list follows");
	io_puts(p->io, "TOP\r\nUIDL\r\nRESP-CODES\r\nAUTH-RESP-CODE\r\n"
	    "PIPELINING\r\nEXPIRE NEVER\r\n");
	/* Advertised only: Postern does not enforce it (postern-pop3(7)). */
	if (c->pop3_login_delay > 0)
		io_printf(p->io, "LOGIN-DELAY %d\r\n", c->pop3_login_delay);
	if (c->pop3_implementation != NULL && c->pop3_implementation[0] != '\0')
		io_printf(p->io, "IMPLEMENTATION %s\r\n",
		    c->pop3_implementation);
	if (p->state == AUTHORIZATION && session_plaintext_ok(p->s))
		io_puts(p->io, "USER\r\n");
	for (i = 0; p->state == AUTHORIZATION &&
	    (name = sasl_mech_name(i)) != NULL; i++)
		if (mech_offered(p, i))
			io_printf(p->io, "%s%s", n++ == 0 ? "SASL " : " ",
			    name);
	if (n > 0)
		io_puts(p->io, "\r\n");
	if (p->state == AUTHORIZATION && session_tls_available(p->s))
		io_puts(p->io, "STLS\r\n");
	return done(p);
}

/*
 * cmd_stls: STLS (RFC 2595): "+OK", then the TLS handshake; a failed one
 * ends the session.  Afterwards the session forgets what the client said
 * in the clear: the USER name, and any command pipelined after STLS
 * (session_start_tls drops it).
 */
static int
cmd_stls(struct pop3 *p, char *args)
{
	if (p->s->tls) {
		reply(p, "-ERR TLS is already active");
		return CMD_BAD;
	}
	if (!session_tls_available(p->s)) {
		reply(p, "-ERR STLS is not available: TLS is not configured");
		return CMD_BAD;
	}
	if (!command_end(args)) {
		reply(p, "-ERR STLS takes no argument");
		return CMD_BAD;
	}
	if (reply(p, "+OK Begin TLS negotiation") == -1 ||
	    session_start_tls(p->s) == -1) {
		p->cl.why = "TLS handshake failed";
		return CMD_CLOSE;
	}
	p->have_user = false;
	explicit_bzero(p->user, sizeof(p->user));
	return CMD_OK;
}

/* dispatch: runs one command line. */
static int
dispatch(void *ctx, char *line, size_t len)
{
	struct pop3	*p = ctx;
	const struct cmd *c;

	c = COMMAND_POP(&p->cl, &line, cmds, p->state,
	    p->state != AUTHORIZATION);
	return c == NULL ? CMD_BAD : c->fn(p, line);
}

static const struct command_ops pop3_ops = { dispatch, NULL, NULL };

/* apop_stamp: the greeting's timestamp "<pid.time.random@host>" (RFC
 * 1939 section 7), new for each session, when APOP is enabled. */
static void
apop_stamp(struct pop3 *p)
{
	const struct conf *c = p->s->conf;
	const char	*host = c->hostname;
	int		 n;

	p->stamp[0] = '\0';
	if (c->apop_secrets == NULL || c->apop_secrets[0] == '\0')
		return;
	if (host == NULL || host[0] == '\0')
		host = "localhost";
	n = snprintf(p->stamp, sizeof(p->stamp), "<%ld.%lld.%u@%s>",
	    (long)getpid(), (long long)time(NULL), arc4random(), host);
	if (n < 0 || (size_t)n >= sizeof(p->stamp))
		snprintf(p->stamp, sizeof(p->stamp), "<%ld.%lld.%u@localhost>",
		    (long)getpid(), (long long)time(NULL), arc4random());
}

/* pop3_serve: one POP3 session on s->fd. */
static void
pop3_serve(struct session *s)
{
	struct pop3	 p;
	const char	*why;

	memset(&p, 0, sizeof(p));
	p.s = s;
	p.state = AUTHORIZATION;
	if ((p.io = session_io(s, (size_t)s->conf->max_line)) == NULL)
		return;
	command_init(&p.cl, s, p.io, &p, &pop3_ops);
	if (s->resumed) {
		/* A session process: the login was checked; answer it. */
		open_maildrop(&p, &s->account);
		if (p.state == TRANSACTION)
			why = command_loop(&p.cl);
		else {
			io_flush(p.io);
			why = "maildrop unavailable";
		}
	} else {
		apop_stamp(&p);
		reply(&p, "+OK Postern POP3 server ready%s%s",
		    p.stamp[0] != '\0' ? " " : "", p.stamp);
		why = command_loop(&p.cl);
	}
	if (s->handed_off)
		return;
	/* Only QUIT in TRANSACTION deleted anything (RFC 1939 section 6):
	 * every other end leaves the maildrop as it was. */
	if (s->user[0] != '\0' && !p.logged_out)
		logout_line(&p, why);
	maildrop_close(&p.md);
}

/* pop3_refuse: a refusal as "-ERR [SYS/TEMP] text": the client may try
 * again later (RFC 3206). */
static size_t
pop3_refuse(const struct session *s, const char *text, char *buf, size_t len)
{
	int	 n = snprintf(buf, len, "-ERR [SYS/TEMP] %s\r\n", text);

	return n < 0 || (size_t)n >= len ? 0 : (size_t)n;
}

const struct protocol pop3_protocol = {
	.name = "pop3",
	.default_port = 110,
	.serve = pop3_serve,
	.local = false,
	.refuse = pop3_refuse,
};
