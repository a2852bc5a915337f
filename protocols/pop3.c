/*
 * pop3.c: the POP3 protocol module (RFC 1939, with RFC 2449 CAPA and
 * response codes).  It reads like the RFC's command table: one handler per
 * command, dispatched by name and state.  Storage, locking, logins and
 * line handling belong to storage/, server/ and io.c; this file only
 * speaks POP3.
 */
#include <sys/types.h>

#include <ctype.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <openssl/sha.h>

#include "server/io.h"
#include "protocols/protocol.h"
#include "server/limits.h"
#include "server/log.h"
#include "server/session.h"
#include "storage/maildir.h"

/* States of RFC 1939 section 3; UPDATE is the end of QUIT. */
#define AUTHORIZATION	0x01
#define TRANSACTION	0x02
#define ANY		(AUTHORIZATION | TRANSACTION)

/* What a handler tells the command loop. */
#define CMD_OK		0	/* done, whatever the reply */
#define CMD_BAD		1	/* a bad command: counts toward the limit */
#define CMD_CLOSE	2	/* end the session */

struct pop3 {
	struct session	*s;
	struct io	*io;
	struct maildrop	*md;
	int		 state;
	bool		 have_user;
	char		 user[USER_MAX + 1];
	unsigned	 top_n, retr_n;		/* for the logout line */
	off_t		 top_b, retr_b;
	const char	*why;		/* why the session ends */
	bool		 logged_out;	/* the logout line is written */
	struct timespec	 login_by;	/* AUTHORIZATION ends then */
};

struct cmd {
	const char	*name;
	int		 states;
	int		(*fn)(struct pop3 *, char *);
};

static int	cmd_user(struct pop3 *, char *);
static int	cmd_pass(struct pop3 *, char *);
static int	cmd_apop(struct pop3 *, char *);
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

static const struct cmd cmds[] = {
	{ "USER",	AUTHORIZATION,	cmd_user },
	{ "PASS",	AUTHORIZATION,	cmd_pass },
	{ "APOP",	AUTHORIZATION,	cmd_apop },
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
};

/* reply: one buffered reply line, CRLF added. */
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
	p->why = "connection error";
	return CMD_CLOSE;
}

/* done: a multi-line reply's end, or the session's if it can't be sent. */
static int
done(struct pop3 *p)
{
	return io_puts(p->io, ".\r\n") == 0 ? CMD_OK : lost(p);
}

/* split: cuts the next space-separated word off *sp; NULL when none. */
static char *
split(char **sp)
{
	char	*s = *sp, *w;

	while (*s == ' ')
		s++;
	if (*s == '\0') {
		*sp = s;
		return NULL;
	}
	w = s;
	while (*s != '\0' && *s != ' ')
		s++;
	if (*s != '\0')
		*s++ = '\0';
	*sp = s;
	return w;
}

/* no_more: true when nothing but spaces is left in s. */
static bool
no_more(const char *s)
{
	return s[strspn(s, " ")] == '\0';
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

/* uidl: the unique-id of message i: its Maildir base name, or a digest
 * of it when the name is not 1-70 characters 0x21-0x7E (RFC 1939). */
static void
uidl(const struct mail *m, char *out, size_t outlen)
{
	const char	*b = mail_base(m);
	unsigned char	 md[SHA256_DIGEST_LENGTH];
	size_t		 i;
	bool		 ok = m->baselen >= 1 && m->baselen <= UIDL_MAX;

	for (i = 0; ok && i < m->baselen; i++)
		ok = b[i] >= 0x21 && b[i] <= 0x7e;
	if (ok && m->baselen < outlen) {
		memcpy(out, b, m->baselen);
		out[m->baselen] = '\0';
		return;
	}
	SHA256((const unsigned char *)b, m->baselen, md);
	out[0] = 'h';
	for (i = 0; i < 16 && 2 * i + 2 < outlen; i++)
		snprintf(out + 1 + 2 * i, 3, "%02x", md[i]);
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
	if (!session_plaintext_ok(p->s)) {
		reply(p, "-ERR [AUTH] plaintext authentication disallowed "
		    "without TLS");
		return CMD_BAD;
	}
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
	return reply(p, "+OK send PASS") == 0 ? CMD_OK : lost(p);
}

/* open_maildrop: locks and lists the user's Maildir after a login. */
static int
open_maildrop(struct pop3 *p, const struct auth_user *u)
{
	off_t	 size;
	size_t	 n;
	int	 rc;

	rc = maildrop_open(u->maildir, &p->md);
	if (rc == MAILDROP_LOCKED) {
		log_info("pop3: user=<%s> rip=%s: maildrop locked by another "
		    "session", p->s->user, p->s->rip);
		reply(p, "-ERR [IN-USE] maildrop locked by another session");
		return CMD_OK;
	}
	if (rc != 0) {
		reply(p, "-ERR [SYS/TEMP] cannot open the maildrop");
		return CMD_OK;
	}
	p->state = TRANSACTION;
	io_set_timeout(p->io, p->s->conf->idle_timeout);
	session_title(p->s, p->s->user);
	n = maildrop_live(p->md, &size);
	reply(p, "+OK maildrop has %zu messages (%lld octets)", n,
	    (long long)size);
	return CMD_OK;
}

/* cmd_pass: PASS string; the whole rest of the line is the password. */
static int
cmd_pass(struct pop3 *p, char *args)
{
	struct auth_request req;
	struct auth_user u;
	enum auth_result r;
	int		 rc;

	if (!p->have_user) {
		reply(p, "-ERR send USER first");
		return CMD_BAD;
	}
	p->have_user = false;
	if (!session_plaintext_ok(p->s)) {
		reply(p, "-ERR [AUTH] plaintext authentication disallowed "
		    "without TLS");
		return CMD_BAD;
	}
	memset(&req, 0, sizeof(req));
	req.mech = AUTH_MECH_PASSWORD;
	req.user = p->user;
	req.secret = args;
	r = session_login(p->s, &req, &u);
	explicit_bzero(args, strlen(args));
	if (r != AUTH_OK && p->s->dropped) {
		/* A half-taken identity: this process must not go on. */
		reply(p, "-ERR [SYS/TEMP] login failed, try again later");
		p->why = "identity change failed";
		return CMD_CLOSE;
	}
	if (r == AUTH_TEMPFAIL) {
		reply(p, "-ERR [SYS/TEMP] authentication is unavailable, "
		    "try again later");
		return CMD_OK;
	}
	if (r != AUTH_OK) {
		reply(p, "-ERR [AUTH] invalid user name or password");
		return CMD_BAD;
	}
	rc = open_maildrop(p, &u);
	if (p->state != TRANSACTION && p->s->dropped) {
		/* This worker took the user's identity: no second login. */
		p->why = "maildrop unavailable";
		return CMD_CLOSE;
	}
	return rc;
}

/* cmd_apop: not offered until APOP secrets exist. */
static int
cmd_apop(struct pop3 *p, char *args)
{
	reply(p, "-ERR [AUTH] APOP is not available on this server");
	return CMD_BAD;
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
	    "del=%zu/%lld size=%lld left=%zu reason=%s",
	    p->top_n, (long long)p->top_b, p->retr_n, (long long)p->retr_b,
	    del, (long long)del_b, (long long)p->md->size, left, how);
	session_logout(p->s, stats);
}

/* cmd_quit: QUIT; in TRANSACTION this is the UPDATE state. */
static int
cmd_quit(struct pop3 *p, char *args)
{
	size_t	 failed = 0, left;

	p->why = "quit";
	if (p->state != TRANSACTION) {
		reply(p, "+OK Postern POP3 server signing off");
		return CMD_CLOSE;
	}
	/* UPDATE: delete, then release the lock, then answer. */
	if (maildrop_commit(p->md, &failed) != 0)
		p->why = "quit-with-errors";
	left = maildrop_live(p->md, NULL);
	logout_line(p, p->why);
	maildrop_close(&p->md);
	if (failed > 0) {
		reply(p, "-ERR some deleted messages not removed (%zu)",
		    failed);
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

	if (!no_more(args)) {
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
	char	*w = split(&args);
	off_t	 size;
	size_t	 i, n;
	long	 m;

	if (!no_more(args)) {
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
	off_t	 sent;
	int	 fd;

	fd = maildrop_open_mail(p->md, (size_t)m);
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
	if (io_send_message(p->io, fd, lines, &sent) == -1) {
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

/* cmd_retr: RETR msg. */
static int
cmd_retr(struct pop3 *p, char *args)
{
	char	*w = split(&args);
	char	 ok[64];
	long	 m;

	if (!no_more(args)) {
		reply(p, "-ERR RETR takes one argument");
		return CMD_BAD;
	}
	if ((m = msgarg(p, w)) < 0)
		return CMD_OK;
	snprintf(ok, sizeof(ok), "+OK %lld octets",
	    (long long)p->md->mail[m].size);
	return send_mail(p, m, -1, ok);
}

/* cmd_top: TOP msg n. */
static int
cmd_top(struct pop3 *p, char *args)
{
	char	*w = split(&args), *nw = split(&args);
	long	 m, n;

	if (!no_more(args)) {
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
	char	*w = split(&args);
	long	 m;

	if (!no_more(args)) {
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
	char	*w = split(&args);
	char	 id[UIDL_MAX + 1];
	size_t	 i;
	long	 m;

	if (!no_more(args)) {
		reply(p, "-ERR UIDL takes at most one argument");
		return CMD_BAD;
	}
	if (w != NULL) {
		if ((m = msgarg(p, w)) < 0)
			return CMD_OK;
		uidl(&p->md->mail[m], id, sizeof(id));
		reply(p, "+OK %ld %s", m + 1, id);
		return CMD_OK;
	}
	reply(p, "+OK unique-id listing follows");
	for (i = 0; i < p->md->count; i++) {
		if (p->md->mail[i].flags & MAIL_DELETED)
			continue;
		uidl(&p->md->mail[i], id, sizeof(id));
		io_printf(p->io, "%zu %s\r\n", i + 1, id);
	}
	return done(p);
}

/* cmd_capa: CAPA (RFC 2449); lists what is on offer in this state. */
static int
cmd_capa(struct pop3 *p, char *args)
{
	reply(p, "+OK capability list follows");
	io_puts(p->io, "TOP\r\nUIDL\r\nRESP-CODES\r\nAUTH-RESP-CODE\r\n"
	    "PIPELINING\r\n");
	if (p->state == AUTHORIZATION && session_plaintext_ok(p->s))
		io_puts(p->io, "USER\r\n");
	return done(p);
}

/* find: the command called name (any case), or NULL. */
static const struct cmd *
find(const char *name)
{
	size_t	 i;

	for (i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++)
		if (strcasecmp(cmds[i].name, name) == 0)
			return &cmds[i];
	return NULL;
}

/* dispatch: runs one command line. */
static int
dispatch(struct pop3 *p, char *line)
{
	const struct cmd *c;
	char		*name = line;

	while (*line != '\0' && *line != ' ')
		line++;
	if (*line == ' ')
		*line++ = '\0';
	if (*name == '\0') {
		reply(p, "-ERR empty command");
		return CMD_BAD;
	}
	if ((c = find(name)) == NULL) {
		reply(p, "-ERR unknown command");
		return CMD_BAD;
	}
	if (!(c->states & p->state)) {
		reply(p, "-ERR %s is not valid %s", c->name,
		    p->state == AUTHORIZATION ? "before login" :
		    "after login");
		return CMD_BAD;
	}
	return c->fn(p, line);
}

/*
 * next_line: the next command line.  Before login the whole dialogue has
 * login_timeout seconds, however the client paces its bytes; after it,
 * each wait has idle_timeout.
 */
static ssize_t
next_line(struct pop3 *p, char **line)
{
	struct timespec	 now;
	long long	 ms;

	if (p->state == AUTHORIZATION) {
		clock_gettime(CLOCK_MONOTONIC, &now);
		ms = (p->login_by.tv_sec - now.tv_sec) * 1000LL +
		    (p->login_by.tv_nsec - now.tv_nsec) / 1000000;
		if (ms <= 0)
			return IO_TIMEOUT;
		io_set_timeout(p->io, (int)((ms + 999) / 1000));
	}
	return io_getline(p->io, line);
}

/* loop: reads and runs commands until the session ends; says why. */
static const char *
loop(struct pop3 *p)
{
	char	*line;
	ssize_t	 n;
	int	 bad = 0, rc;

	for (;;) {
		n = next_line(p, &line);
		if (n == IO_EOF)
			return "disconnected";
		if (n == IO_TIMEOUT) {
			reply(p, "-ERR autologout: idle for too long");
			io_flush(p->io);
			return "timeout";
		}
		if (n == IO_ERROR)
			return "connection error";
		if (n == IO_TOOLONG) {
			reply(p, "-ERR line too long");
			rc = CMD_BAD;
		} else
			rc = dispatch(p, line);
		if (rc == CMD_CLOSE) {
			io_flush(p->io);
			return p->why != NULL ? p->why : "closed";
		}
		if (rc == CMD_BAD && ++bad >= p->s->conf->max_bad_commands) {
			reply(p, "-ERR too many bad commands, closing");
			io_flush(p->io);
			return "too many bad commands";
		}
	}
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
	clock_gettime(CLOCK_MONOTONIC, &p.login_by);
	p.login_by.tv_sec += s->conf->login_timeout;
	reply(&p, "+OK Postern POP3 server ready");
	why = loop(&p);
	/* Only QUIT in TRANSACTION deleted anything (RFC 1939 section 6):
	 * every other end leaves the maildrop as it was. */
	if (s->user[0] != '\0' && !p.logged_out)
		logout_line(&p, why);
	maildrop_close(&p.md);
}

const struct protocol pop3_protocol = {
	.name = "pop3",
	.default_port = 110,
	.serve = pop3_serve,
};
