/*
 * mrp.c: the MRP protocol module (the Mail Retrieval Protocol draft of
 * January 2018, as postern-mrp(7) specifies it).  One handler per
 * command, dispatched by name and state; the ABNF of the draft's section
 * 7 is checked strictly.  It never checks a credential itself (every
 * login goes to session_login()) and never touches a file name: folders,
 * flags, UIDs and global IDs are storage/folder.h's.
 */
#include <sys/types.h>

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "protocols/mrpcrypt.h"
#include "protocols/command.h"
#include "protocols/protocol.h"
#include "server/account.h"
#include "server/io.h"
#include "server/limits.h"
#include "server/log.h"
#include "server/session.h"
#include "server/token.h"
#include "storage/flags.h"
#include "storage/folder.h"

/* The draft's states: its "authenticated" state is the one before a
 * login, its "selected" state the one after, "control" a mailbox open. */
#define ST_LOGIN	0x01
#define ST_AUTHED	0x02
#define ST_CONTROL	0x04
#define ST_ANY		(ST_LOGIN | ST_AUTHED | ST_CONTROL)

/* MRP's flags; every message has exactly one (postern-mrp(7)). */
#define MF_RECENT	0x01
#define MF_SENT		0x02
#define MF_DRAFT	0x04
#define MF_SEEN		0x08
#define MF_DELETED	0x10
#define MF_ALL		0x1f

/* The keyword that stands for SENT in the Maildir. */
#define MRP_SENT_KEYWORD	"$Sent"
/* The draft's autologout timer must be at least 10 minutes. */
#define MRP_AUTOLOGOUT_MIN	600
/* The longest header field value kept for the summary and SEARCH. */
#define MRP_FIELD_MAX		1024
/* Reading a message: the chunk size. */
#define MRP_CHUNK		16384

struct mrp {
	struct session	*s;
	struct io	*io;
	struct folder	*f;
	struct mail_opts opts;		/* f's listing options */
	int		 state;
	struct cmdloop	 cl;		/* the command loop; why it ended */
	unsigned	 nfetch, nsearch, nchange, nexpunge;
	struct mrpc	*crypt;		/* after AUTH: the channel */
	char		 plain[MRPC_CHUNK];	/* output not sealed yet */
	size_t		 plainlen;
	char		*cmdbuf;	/* a command opened from a record */
	char		 chan[MRPC_STATE_SIZE];	/* the channel, for a
						   login handed over */
};

struct cmd {
	const char	*name;
	int		 states;
	int		(*fn)(struct mrp *, char *);
	const char	*usage;		/* HELP command: the syntax */
	const char	*help;		/* ... and what it does */
};

static int	cmd_noop(struct mrp *, char *);
static int	cmd_help(struct mrp *, char *);
static int	cmd_quit(struct mrp *, char *);
static int	cmd_auth(struct mrp *, char *);
static int	cmd_login(struct mrp *, char *);
static int	cmd_create(struct mrp *, char *);
static int	cmd_token(struct mrp *, char *);
static int	cmd_select(struct mrp *, char *);
static int	cmd_fetch(struct mrp *, char *);
static int	cmd_search(struct mrp *, char *);
static int	cmd_change(struct mrp *, char *);
static int	cmd_expunge(struct mrp *, char *);
static int	cmd_logout(struct mrp *, char *);

static const struct cmd cmds[] = {
	{ "NOOP", ST_ANY, cmd_noop, "NOOP",
	    "Does nothing; resets the autologout timer" },
	{ "HELP", ST_ANY, cmd_help, "HELP [command]",
	    "Lists the commands, or tells about one" },
	{ "QUIT", ST_ANY, cmd_quit, "QUIT",
	    "Ends the session" },
	{ "AUTH", ST_LOGIN, cmd_auth, "AUTH AES/CBC|AES/ECB|DES/CBC|DES/ECB",
	    "Starts an encrypted channel (see postern-mrp(7))" },
	{ "LOGIN", ST_LOGIN, cmd_login, "LOGIN name password",
	    "Logs in with a password and issues a new token" },
	{ "CREATE", ST_LOGIN, cmd_create, "CREATE name password",
	    "Creates an account and issues its token" },
	{ "TOKEN", ST_LOGIN, cmd_token, "TOKEN name token",
	    "Logs in with a token issued earlier" },
	{ "SELECT", ST_AUTHED, cmd_select, "SELECT",
	    "Opens the mailbox and numbers its messages from 1" },
	{ "FETCH", ST_CONTROL, cmd_fetch,
	    "FETCH [uid|uid:uid] [ALL|RECENT|SENT|DRAFT|SEEN|DELETED]...",
	    "Sends messages by UID, range and flags" },
	{ "SEARCH", ST_CONTROL, cmd_search,
	    "SEARCH ALL|BODY|SUBJECT|SENDER|RECIPIENT|SINCE|UNTIL=[value]",
	    "Lists the UIDs of the messages that match" },
	{ "CHANGE", ST_CONTROL, cmd_change,
	    "CHANGE id RECENT|SENT|DRAFT|SEEN|DELETED",
	    "Replaces the flag of the message with that global ID" },
	{ "EXPUNGE", ST_CONTROL, cmd_expunge, "EXPUNGE",
	    "Removes the messages flagged DELETED" },
	{ "LOGOUT", ST_CONTROL, cmd_logout, "LOGOUT",
	    "Closes the mailbox" },
};

static const struct {
	const char	*name;
	unsigned	 bit;
} flagnames[] = {
	{ "ALL",	MF_ALL },
	{ "RECENT",	MF_RECENT },
	{ "SENT",	MF_SENT },
	{ "DRAFT",	MF_DRAFT },
	{ "SEEN",	MF_SEEN },
	{ "DELETED",	MF_DELETED },
};

/* seal: sends the plaintext held so far as one record line. */
static int
seal(struct mrp *m)
{
	char	 line[MRPC_LINE_SIZE(MRPC_CHUNK) + 2];
	ssize_t	 n;

	if (m->plainlen == 0)
		return 0;
	n = mrpc_seal(m->crypt, m->plain, m->plainlen, line,
	    sizeof(line) - 2);
	m->plainlen = 0;
	if (n < 0) {
		log_warnx("mrp: user=<%s> rip=%s: sealing a record failed",
		    m->s->user, m->s->rip);
		errno = EIO;
		return -1;
	}
	memcpy(line + n, "\r\n", 3);
	return io_write(m->io, line, (size_t)n + 2);
}

/* out: buffers output, through the channel after AUTH: a record ends at
 * each CRLF, or when MRPC_CHUNK octets are held.  0 or -1. */
static int
out(struct mrp *m, const void *buf, size_t len)
{
	const char	*p = buf;
	size_t		 take;

	if (m->crypt == NULL)
		return io_write(m->io, buf, len);
	while (len > 0) {
		take = sizeof(m->plain) - m->plainlen;
		if (take > len)
			take = len;
		memcpy(m->plain + m->plainlen, p, take);
		m->plainlen += take;
		p += take;
		len -= take;
		if (m->plainlen == sizeof(m->plain) || (m->plainlen >= 2 &&
		    m->plain[m->plainlen - 1] == '\n' &&
		    m->plain[m->plainlen - 2] == '\r'))
			if (seal(m) == -1)
				return -1;
	}
	return 0;
}

/* outs: out() of a string. */
static int
outs(struct mrp *m, const char *str)
{
	return out(m, str, strlen(str));
}

/* reply: one reply line, CRLF added. */
static int __attribute__((format(printf, 2, 3)))
reply(struct mrp *m, const char *fmt, ...)
{
	char	 line[512];
	va_list	 ap;
	int	 n;

	va_start(ap, fmt);
	n = vsnprintf(line, sizeof(line) - 2, fmt, ap);
	va_end(ap);
	if (n < 0)
		return -1;
	if ((size_t)n > sizeof(line) - 3)
		n = (int)sizeof(line) - 3;
	memcpy(line + n, "\r\n", 3);
	return out(m, line, (size_t)n + 2);
}

/* flush: sends everything buffered. */
static int
flush(struct mrp *m)
{
	if (m->crypt != NULL && seal(m) == -1)
		return -1;
	return io_flush(m->io);
}

/* lost: the connection failed mid-reply; the session ends. */
static int
lost(struct mrp *m)
{
	m->cl.why = "connection error";
	return CMD_CLOSE;
}

/* completed: the final "OK <command> Completed". */
static int
completed(struct mrp *m, const char *cmd)
{
	return reply(m, "OK %s Completed", cmd) == 0 ? CMD_OK : lost(m);
}

/* syntax: "BAD Syntax error: <what>", a bad command. */
static int
syntax(struct mrp *m, const char *what)
{
	reply(m, "BAD Syntax error: %s", what);
	return CMD_BAD;
}

/* no_args: whether a command that takes no arguments got none; answers
 * the syntax error when it did. */
static bool
no_args(struct mrp *m, const char *cmd, const char *args)
{
	char	 what[64];

	if (args == NULL)
		return true;
	(void)snprintf(what, sizeof(what), "%s takes no arguments", cmd);
	syntax(m, what);
	return false;
}

/* word: cuts the next SP-separated word off *sp (NULL when none, "" for
 * an empty one: two spaces in a row, or a trailing space). */
static char *
word(char **sp)
{
	char	*w = *sp, *e;

	if (w == NULL)
		return NULL;
	if ((e = strchr(w, ' ')) != NULL) {
		*e = '\0';
		*sp = e + 1;
	} else
		*sp = NULL;
	return w;
}

/* is_string: whether w is a non-empty run of visible 7-bit ASCII
 * (the draft's undefined "string", as postern-mrp(7) defines it). */
static bool
is_string(const char *w, size_t max)
{
	size_t	 i;

	for (i = 0; w[i] != '\0'; i++)
		if (w[i] < 0x21 || w[i] > 0x7e || i >= max)
			return false;
	return i > 0;
}

/*
 * number: parses w as the ABNF's number (nz_first false: 1*DIGIT) or
 * number-nz (nz_first true: no leading zero), 0 < n < 2^32.  Returns 0,
 * or -1 with *err_r saying what is wrong.
 */
static int
number(const char *w, bool nz_first, uint32_t *n_r, const char **err_r)
{
	uint64_t v = 0;
	size_t	 i;

	if (w == NULL || *w == '\0') {
		*err_r = "missing number";
		return -1;
	}
	for (i = 0; w[i] != '\0'; i++) {
		if (w[i] < '0' || w[i] > '9') {
			*err_r = "not a number";
			return -1;
		}
		v = v * 10 + (uint64_t)(w[i] - '0');
		if (v > UINT32_MAX) {
			*err_r = "number past 4294967295";
			return -1;
		}
	}
	if (v == 0) {
		*err_r = "0 is not a valid number";
		return -1;
	}
	if (nz_first && w[0] == '0') {
		*err_r = "a UID has no leading zero";
		return -1;
	}
	*n_r = (uint32_t)v;
	return 0;
}

/* flag_bit: the MF_* of flag name w (any case), or 0. */
static unsigned
flag_bit(const char *w)
{
	size_t	 i;

	for (i = 0; i < sizeof(flagnames) / sizeof(flagnames[0]); i++)
		if (strcasecmp(flagnames[i].name, w) == 0)
			return flagnames[i].bit;
	return 0;
}

/* sent_bit: the keyword bit of SENT in the open folder, or 0 when no
 * message has ever been flagged SENT. */
static uint32_t
sent_bit(struct mrp *m)
{
	int	 k;

	if ((k = folder_keyword(m->f, MRP_SENT_KEYWORD, false)) == -1)
		return 0;
	return KEYWORD_BIT(k);
}

/* mrp_flag: the one MRP flag of a message: T, then D, then the SENT
 * keyword, then S in cur/; anything else is RECENT (unread). */
static unsigned
mrp_flag(const struct mail *ml, uint32_t sent)
{
	if (ml->mflags & FLAG_TRASHED)
		return MF_DELETED;
	if (ml->mflags & FLAG_DRAFT)
		return MF_DRAFT;
	if (sent != 0 && (ml->keywords & sent))
		return MF_SENT;
	if ((ml->mflags & FLAG_SEEN) && strncmp(ml->name, "new/", 4) != 0)
		return MF_SEEN;
	return MF_RECENT;
}

/* ---- Reading messages: a buffered reader, header fields, dates. ---- */

struct rd {
	int		 fd;
	char		*buf;
	size_t		 pos, len;
	bool		 eof;
};

/* rd_fill: reads more into the reader when it is empty.  1 when there is
 * data, 0 at the end, -1 on an error. */
static int
rd_fill(struct rd *r)
{
	ssize_t	 n;

	if (r->pos < r->len)
		return 1;
	if (r->eof)
		return 0;
	for (;;) {
		n = read(r->fd, r->buf, MRP_CHUNK);
		if (n == -1 && errno == EINTR)
			continue;
		break;
	}
	if (n == -1)
		return -1;
	r->pos = 0;
	r->len = (size_t)n;
	if (n == 0)
		r->eof = true;
	return n > 0;
}

/* rd_getc: the next octet, or -1 at the end or on an error. */
static int
rd_getc(struct rd *r)
{
	if (rd_fill(r) != 1)
		return -1;
	return (unsigned char)r->buf[r->pos++];
}

/* rd_peek: the next octet without taking it, or -1. */
static int
rd_peek(struct rd *r)
{
	if (rd_fill(r) != 1)
		return -1;
	return (unsigned char)r->buf[r->pos];
}

/* The header fields MRP shows and searches, unfolded and cut at
 * MRP_FIELD_MAX octets. */
struct summary {
	char	 from[MRP_FIELD_MAX + 1];
	char	 to[MRP_FIELD_MAX + 1];
	char	 cc[MRP_FIELD_MAX + 1];
	char	 subject[MRP_FIELD_MAX + 1];
	char	 date[MRP_FIELD_MAX + 1];
};

/* field_dest: where the value of the field named name goes, or NULL. */
static char *
field_dest(struct summary *sm, const char *name)
{
	if (strcasecmp(name, "From") == 0)
		return sm->from;
	if (strcasecmp(name, "To") == 0)
		return sm->to;
	if (strcasecmp(name, "Cc") == 0)
		return sm->cc;
	if (strcasecmp(name, "Subject") == 0)
		return sm->subject;
	if (strcasecmp(name, "Date") == 0)
		return sm->date;
	return NULL;
}

/* trim: removes leading and trailing blanks of s in place. */
static void
trim(char *s)
{
	size_t	 len, skip = 0;

	while (s[skip] == ' ' || s[skip] == '\t')
		skip++;
	len = strlen(s + skip);
	memmove(s, s + skip, len + 1);
	while (len > 0 && (s[len - 1] == ' ' || s[len - 1] == '\t'))
		s[--len] = '\0';
}

/* trim_all: trims every field of sm. */
static void
trim_all(struct summary *sm)
{
	trim(sm->from);
	trim(sm->to);
	trim(sm->cc);
	trim(sm->subject);
	trim(sm->date);
}

/*
 * read_header: reads the message header from r into *sm (the first of
 * each field), leaving r at the start of the body.  Field values are
 * unfolded; control octets become spaces.  0, or -1 on a read error.
 */
static int
read_header(struct rd *r, struct summary *sm)
{
	char	 name[80], *dest = NULL;
	size_t	 nlen = 0, dlen = 0;
	int	 c;
	bool	 bol = true, in_name = true;

	memset(sm, 0, sizeof(*sm));
	for (;;) {
		if ((c = rd_getc(r)) == -1)
			return trim_all(sm), rd_fill(r) == -1 ? -1 : 0;
		if (bol) {
			bol = false;
			if (c == '\n' || (c == '\r' && rd_peek(r) == '\n')) {
				if (c == '\r')
					(void)rd_getc(r);
				return trim_all(sm), 0;	/* the blank line */
			}
			if (c == ' ' || c == '\t') {
				in_name = false;	/* a continuation */
			} else {
				in_name = true;
				nlen = 0;
				dest = NULL;
			}
		}
		if (c == '\n') {
			bol = true;
			continue;
		}
		if (in_name) {
			if (c == ':') {
				name[nlen] = '\0';
				in_name = false;
				dest = field_dest(sm, name);
				if (dest != NULL && dest[0] != '\0')
					dest = NULL;	/* the first one */
				dlen = 0;
			} else if (nlen < sizeof(name) - 1)
				name[nlen++] = (char)c;
			continue;
		}
		if (dest == NULL || dlen >= MRP_FIELD_MAX || c == '\r')
			continue;
		dest[dlen++] = (c < 0x20 || c == 0x7f) ? ' ' : (char)c;
		dest[dlen] = '\0';
	}
}

/* date_num: y, m, d as the number yyyymmdd, or 0 when not a date. */
static long
date_num(long y, long mo, long d)
{
	static const int mdays[] = { 31, 29, 31, 30, 31, 30, 31, 31, 30,
	    31, 30, 31 };

	if (y < 1 || y > 9999 || mo < 1 || mo > 12 || d < 1 ||
	    d > mdays[mo - 1])
		return 0;
	return y * 10000 + mo * 100 + d;
}

/* header_date: the date of an RFC 5322 Date field as yyyymmdd, as the
 * sender wrote it (its zone ignored), or 0 when it cannot be read. */
static long
header_date(const char *v)
{
	static const char months[] = "janfebmaraprmayjunjulaugsepoctnovdec";
	char		 buf[MRP_FIELD_MAX + 1], *p, *tok[3];
	const char	*mp;
	long		 y, d;
	int		 n = 0;

	(void)strlcpy(buf, v, sizeof(buf));
	for (p = strtok(buf, " \t,"); p != NULL && n < 3;
	    p = strtok(NULL, " \t,")) {
		if (n == 0 && !isdigit((unsigned char)p[0]))
			continue;	/* the day of the week */
		tok[n++] = p;
	}
	if (n < 3 || strlen(tok[0]) > 2 || strlen(tok[1]) != 3 ||
	    strspn(tok[0], "0123456789") != strlen(tok[0]) ||
	    strspn(tok[2], "0123456789") != strlen(tok[2]))
		return 0;
	for (p = tok[1]; *p != '\0'; p++)
		*p = (char)tolower((unsigned char)*p);
	if ((mp = strstr(months, tok[1])) == NULL || (mp - months) % 3 != 0)
		return 0;
	d = strtol(tok[0], NULL, 10);
	y = strtol(tok[2], NULL, 10);
	if (strlen(tok[2]) == 2)	/* RFC 5322 section 4.3 */
		y += y < 50 ? 2000 : 1900;
	else if (strlen(tok[2]) == 3)
		y += 1900;
	else if (strlen(tok[2]) != 4)
		return 0;
	return date_num(y, (mp - months) / 3 + 1, d);
}

/* mail_date: a message's date as yyyymmdd: its Date field, else its
 * delivery time in UTC. */
static long
mail_date(const struct summary *sm, const struct mail *ml)
{
	struct tm	 tm;
	long		 d;

	if ((d = header_date(sm->date)) != 0)
		return d;
	if (gmtime_r(&ml->time, &tm) == NULL)
		return 0;
	return date_num(tm.tm_year + 1900L, tm.tm_mon + 1L, tm.tm_mday);
}

/* ---- Login. ---- */

/* logged_in: the session is logged in as s->account by mech; answers
 * the command (a new token for LOGIN and CREATE). */
static int
logged_in(struct mrp *m, enum auth_mech mech)
{
	const char	*cmd = mech == AUTH_MECH_TOKEN ? "TOKEN" :
			    mech == AUTH_MECH_CREATE ? "CREATE" : "LOGIN";
	char		 tok[TOKEN_LEN + 1];

	m->state = ST_AUTHED;
	command_logged_in(&m->cl, m->s->conf->idle_timeout <
	    MRP_AUTOLOGOUT_MIN ? MRP_AUTOLOGOUT_MIN : m->s->conf->idle_timeout);
	session_title(m->s, m->s->user);
	if (mech != AUTH_MECH_TOKEN) {
		if (token_issue(m->s->account.maildir, tok) == 0)
			reply(m, "* TOKEN %s", tok);
		else
			log_warnx("mrp: user=<%s>: no token issued",
			    m->s->user);
		explicit_bzero(tok, sizeof(tok));
	}
	return completed(m, cmd);
}

/* refused: the reply to refused credentials; after max_auth_failures
 * of them the connection is closed. */
static int
refused(struct mrp *m, const char *msg)
{
	reply(m, "BAD %s", msg);
	if (session_auth_exhausted(m->s)) {
		reply(m, "OK Closing: too many failed logins");
		m->cl.why = "too many auth failures";
		return CMD_CLOSE;
	}
	return CMD_BAD;
}

/* login_done: answers a login that session_login() judged. */
static int
login_done(struct mrp *m, enum auth_result r, enum auth_mech mech,
    const char *fail)
{
	if (r != AUTH_OK && m->s->dropped) {
		/* A half-taken identity: this process must not go on. */
		reply(m, "BAD Login failed, try again later");
		reply(m, "OK Closing: internal error");
		m->cl.why = "identity change failed";
		return CMD_CLOSE;
	}
	if (r == AUTH_TEMPFAIL) {
		reply(m, "BAD Authentication is unavailable, try again later");
		return CMD_OK;
	}
	if (r != AUTH_OK)
		return refused(m, fail);
	if (m->s->handed_off) {
		/* The session process answers the login and carries on. */
		m->cl.why = "handed off";
		return CMD_CLOSE;
	}
	return logged_in(m, mech);
}

/* plaintext_refused: credentials in the clear where the policy forbids
 * them. */
static int
plaintext_refused(struct mrp *m)
{
	reply(m, "BAD Plaintext logins are disabled here: use TLS");
	return CMD_BAD;
}

/* credentials: parses "name secret" for LOGIN, TOKEN and CREATE into
 * *name_r and *secret_r; answers the syntax error and returns -1. */
static int
credentials(struct mrp *m, char *args, const char *what, char **name_r,
    char **secret_r)
{
	char	 err[80];

	*name_r = word(&args);
	*secret_r = word(&args);
	if (*name_r == NULL || **name_r == '\0')
		return syntax(m, "missing name"), -1;
	if (*secret_r == NULL || **secret_r == '\0') {
		(void)snprintf(err, sizeof(err), "missing %s", what);
		return syntax(m, err), -1;
	}
	if (args != NULL) {
		(void)snprintf(err, sizeof(err), "text after the %s", what);
		return syntax(m, err), -1;
	}
	if (!is_string(*name_r, USER_MAX))
		return syntax(m, "the name must be visible 7-bit ASCII"), -1;
	if (!is_string(*secret_r, PASSWORD_MAX)) {
		(void)snprintf(err, sizeof(err), "the %s must be visible "
		    "7-bit ASCII", what);
		return syntax(m, err), -1;
	}
	return 0;
}

/* login_request: a request of mechanism mech from this client; after
 * AUTH its challenge carries the channel to the session process. */
static void
login_request(struct mrp *m, struct auth_request *req, enum auth_mech mech,
    const char *user, const char *secret)
{
	session_request(m->s, req, mech, user, secret);
	m->chan[0] = '\0';
	if (m->crypt != NULL && m->s->authq >= 0 &&
	    mrpc_export(m->crypt, m->chan, sizeof(m->chan)) == 0)
		req->challenge = m->chan;
}

/* wipe_request: forgets the channel state a request carried. */
static void
wipe_request(struct mrp *m, struct auth_request *req)
{
	explicit_bzero(m->chan, sizeof(m->chan));
	req->challenge = NULL;
}

/* cmd_login: LOGIN name password. */
static int
cmd_login(struct mrp *m, char *args)
{
	struct auth_request req;
	struct auth_user u;
	enum auth_result r;
	char		*name, *pass;

	if (credentials(m, args, "password", &name, &pass) == -1) {
		if (args != NULL)
			explicit_bzero(args, strlen(args));
		return CMD_BAD;
	}
	if (m->crypt == NULL && !session_plaintext_ok(m->s)) {
		explicit_bzero(pass, strlen(pass));
		return plaintext_refused(m);
	}
	login_request(m, &req, AUTH_MECH_PASSWORD, name, pass);
	r = session_login(m->s, &req, &u);
	wipe_request(m, &req);
	explicit_bzero(pass, strlen(pass));
	explicit_bzero(&u, sizeof(u));
	return login_done(m, r, AUTH_MECH_PASSWORD,
	    "Invalid name or password");
}

/* cmd_token: TOKEN name token. */
static int
cmd_token(struct mrp *m, char *args)
{
	struct auth_request req;
	struct auth_user u;
	enum auth_result r;
	char		*name, *tok;

	if (credentials(m, args, "token", &name, &tok) == -1)
		return CMD_BAD;
	if (!token_valid(tok))
		return syntax(m, "a token is 36 characters");
	if (m->crypt == NULL && !session_plaintext_ok(m->s))
		return plaintext_refused(m);
	login_request(m, &req, AUTH_MECH_TOKEN, name, tok);
	r = session_login(m->s, &req, &u);
	wipe_request(m, &req);
	explicit_bzero(tok, strlen(tok));
	explicit_bzero(&u, sizeof(u));
	return login_done(m, r, AUTH_MECH_TOKEN, "Invalid name or token");
}

/* cmd_create: CREATE name password; refused unless enabled.  The
 * account is made where logins are checked (the auth process). */
static int
cmd_create(struct mrp *m, char *args)
{
	struct auth_request req;
	struct auth_user u;
	enum auth_result r;
	char		*name, *pass;
	int		 rc = CMD_BAD;

	if (credentials(m, args, "password", &name, &pass) == -1) {
		if (args != NULL)
			explicit_bzero(args, strlen(args));
		return CMD_BAD;
	}
	if (!m->s->conf->mrp_create)
		reply(m, "BAD account creation disabled");
	else if (!account_name_valid(name))
		syntax(m, "a new name is 8 to 30 letters, digits or . _ + - @");
	else if (!account_password_valid(pass))
		syntax(m, "a new password is 8 to 30 characters");
	else if (m->crypt == NULL && !session_plaintext_ok(m->s))
		rc = plaintext_refused(m);
	else {
		login_request(m, &req, AUTH_MECH_CREATE, name, pass);
		r = session_login(m->s, &req, &u);
		wipe_request(m, &req);
		explicit_bzero(&u, sizeof(u));
		rc = login_done(m, r, AUTH_MECH_CREATE, "Cannot create the "
		    "account: the name is taken or too many were created");
	}
	explicit_bzero(pass, strlen(pass));
	return rc;
}

/* cmd_auth: AUTH encryption: the key exchange, then the channel
 * (postern-mrp(7)).  The offer and the two replies go in the clear;
 * everything after them goes through the channel. */
static int
cmd_auth(struct mrp *m, char *args)
{
	enum mrpc_mode	 mode;
	struct mrpc	*c;
	char		 offer[256], *line;
	ssize_t		 n;

	if (args == NULL || *args == '\0')
		return syntax(m, "missing encryption mode");
	if (mrpc_mode(args, &mode) == -1)
		return syntax(m, "unknown encryption mode (AES/CBC, AES/ECB, "
		    "DES/CBC or DES/ECB)");
	if (m->crypt != NULL) {
		reply(m, "BAD Encryption is already established");
		return CMD_BAD;
	}
	if (mrpc_mode_weak(mode) && !m->s->conf->mrp_auth_ecb) {
		reply(m, "BAD %s is disabled: ECB shows patterns of the "
		    "plaintext", mrpc_mode_name(mode));
		return CMD_BAD;
	}
	if ((m->cmdbuf == NULL && (m->cmdbuf = malloc((size_t)
	    m->s->conf->max_line + 64)) == NULL) ||
	    (c = mrpc_new(mode, offer, sizeof(offer))) == NULL) {
		reply(m, "BAD Encryption is unavailable, try again later");
		return CMD_OK;
	}
	reply(m, "* %s", offer);
	n = command_getline(&m->cl, &line);
	if (n < 0 && n != IO_TOOLONG) {
		mrpc_free(&c);
		m->cl.why = n == IO_EOF ? "disconnected" : n == IO_TIMEOUT ?
		    "timeout" : "connection error";
		return CMD_CLOSE;
	}
	if (n == IO_TOOLONG || mrpc_accept(c, line) == -1) {
		mrpc_free(&c);
		return syntax(m, "the key exchange line is a base64 X25519 key "
		    "and a base64 16-octet nonce");
	}
	reply(m, "* %s Encryption is established", mrpc_mode_name(mode));
	reply(m, "OK AUTH Completed");
	m->crypt = c;
	log_info("mrp: rip=%s: %s channel established", m->s->rip,
	    mrpc_mode_name(mode));
	return CMD_OK;
}

/* unseal: opens the record *line into the command it carries, which
 * must be one line with its CRLF.  Its length, or -1. */
static ssize_t
unseal(struct mrp *m, char **line)
{
	ssize_t	 n;

	n = mrpc_open(m->crypt, *line, m->cmdbuf,
	    (size_t)m->s->conf->max_line + 63);
	if (n < 2 || m->cmdbuf[n - 2] != '\r' || m->cmdbuf[n - 1] != '\n' ||
	    memchr(m->cmdbuf, '\n', (size_t)n - 1) != NULL)
		return -1;
	m->cmdbuf[n - 2] = '\0';
	*line = m->cmdbuf;
	return n - 2;
}

/* ---- Any state. ---- */

/* cmd_noop: NOOP. */
static int
cmd_noop(struct mrp *m, char *args)
{
	if (!no_args(m, "NOOP", args))
		return CMD_BAD;
	return completed(m, "NOOP");
}

/* cmd_help: HELP [command]. */
static int
cmd_help(struct mrp *m, char *args)
{
	const struct cmd *c;

	if (args != NULL) {
		if ((c = COMMAND_FIND(cmds, args)) == NULL)
			return syntax(m, "HELP takes a command name");
		reply(m, "* %s", c->usage);
		reply(m, "* %s", c->help);
		return completed(m, "HELP");
	}
	reply(m, "* Server works in three STATES:");
	reply(m, "* AUTHENTICATED, SELECTED, CONTROL");
	reply(m, "* AUTHENTICATED STATE COMMANDS:");
	reply(m, "* AUTH, LOGIN, TOKEN and CREATE");
	reply(m, "* SELECTED STATE COMMANDS: SELECT");
	reply(m, "* CONTROL STATE COMMANDS: FETCH, EXPUNGE, CHANGE, SEARCH, "
	    "LOGOUT");
	reply(m, "* COMMANDS PERMITTED IN ALL STATES:");
	reply(m, "* NOOP, HELP and QUIT");
	reply(m, "* For more info use HELP<SP><COMMAND>");
	return completed(m, "HELP");
}

/* cmd_quit: QUIT; nothing is expunged. */
static int
cmd_quit(struct mrp *m, char *args)
{
	if (!no_args(m, "QUIT", args))
		return CMD_BAD;
	m->cl.why = "quit";
	reply(m, "OK QUIT Completed");
	return CMD_CLOSE;
}

/* ---- The mailbox. ---- */

/* cmd_select: SELECT: opens the INBOX and counts its flags. */
static int
cmd_select(struct mrp *m, char *args)
{
	unsigned	 n[5] = { 0, 0, 0, 0, 0 }, fl;
	uint32_t	 sent;
	size_t		 i;

	if (!no_args(m, "SELECT", args))
		return CMD_BAD;
	memset(&m->opts, 0, sizeof(m->opts));
	m->opts.state_dir = session_state_dir(m->s);
	m->opts.msgid = m->s->msgid;
	m->opts.need_gids = true;
	if (folder_open(m->s->account.maildir, FOLDER_INBOX, &m->opts,
	    &m->f) == -1) {
		log_warn("mrp: user=<%s>: cannot open %s", m->s->user,
		    m->s->account.maildir);
		reply(m, "BAD Cannot open the mailbox, try again later");
		return CMD_OK;
	}
	sent = sent_bit(m);
	for (i = 0; i < m->f->count; i++) {
		fl = mrp_flag(&m->f->mail[i], sent);
		n[fl == MF_RECENT ? 0 : fl == MF_SENT ? 1 : fl == MF_DRAFT ?
		    2 : fl == MF_SEEN ? 3 : 4]++;
	}
	m->state = ST_CONTROL;
	reply(m, "* %zu EXISTS", m->f->count);
	reply(m, "* %u RECENT", n[0]);
	reply(m, "* %u SENT", n[1]);
	reply(m, "* %u DRAFT", n[2]);
	reply(m, "* %u SEEN", n[3]);
	reply(m, "* %u DELETED", n[4]);
	return completed(m, "SELECT");
}

/* cmd_logout: LOGOUT: closes the mailbox; SELECT may follow. */
static int
cmd_logout(struct mrp *m, char *args)
{
	if (!no_args(m, "LOGOUT", args))
		return CMD_BAD;
	folder_close(&m->f);
	m->state = ST_AUTHED;
	return completed(m, "LOGOUT");
}

/* cmd_expunge: EXPUNGE: removes the messages flagged DELETED; UIDs are
 * numbered afresh. */
static int
cmd_expunge(struct mrp *m, char *args)
{
	size_t	 n = 0;

	if (!no_args(m, "EXPUNGE", args))
		return CMD_BAD;
	if (folder_expunge(m->f, &n) == -1) {
		reply(m, "BAD Some messages could not be removed");
		return CMD_OK;
	}
	m->nexpunge += (unsigned)n;
	return completed(m, "EXPUNGE");
}

/* cmd_change: CHANGE message-id flag. */
static int
cmd_change(struct mrp *m, char *args)
{
	const char	*err;
	char		*idw, *flw;
	uint32_t	 id, add, sent, kw_add = 0;
	unsigned	 fl;
	size_t		 i;
	int		 k;

	idw = word(&args);
	flw = word(&args);
	if (number(idw, false, &id, &err) == -1)
		return syntax(m, err);
	if (flw == NULL || *flw == '\0')
		return syntax(m, "missing flag");
	if (args != NULL)
		return syntax(m, "text after the flag");
	if ((fl = flag_bit(flw)) == 0)
		return syntax(m, "unknown flag (RECENT, SENT, DRAFT, SEEN or "
		    "DELETED)");
	if (fl == MF_ALL)
		return syntax(m, "ALL is not a flag a message can have");
	for (i = 0; i < m->f->count; i++)
		if (m->f->mail[i].gid == id)
			break;
	if (i == m->f->count) {
		reply(m, "BAD Message ID is not valid!");
		return CMD_BAD;
	}
	add = fl == MF_SEEN || fl == MF_SENT ? FLAG_SEEN : fl == MF_DRAFT ?
	    FLAG_DRAFT : fl == MF_DELETED ? FLAG_TRASHED : 0;
	if (fl == MF_SENT) {
		if ((k = folder_keyword(m->f, MRP_SENT_KEYWORD, true)) == -1) {
			reply(m, "BAD Cannot flag the message SENT");
			return CMD_OK;
		}
		kw_add = KEYWORD_BIT(k);
	}
	sent = sent_bit(m);
	if (folder_set_flags(m->f, i, add, (FLAG_SEEN | FLAG_DRAFT |
	    FLAG_TRASHED) & ~add, kw_add, sent & ~kw_add) == -1) {
		if (errno == ENOENT)
			reply(m, "BAD Message ID is not valid!");
		else if (errno == EINVAL)
			reply(m, "BAD Cannot change the flag: the message's "
			    "file name has flags of an unknown form");
		else
			reply(m, "BAD Cannot change the flag, try again "
			    "later");
		return CMD_OK;
	}
	m->nchange++;
	return completed(m, "CHANGE");
}

/* ---- FETCH. ---- */

/* send_body: streams the message in r as n octets: bare LF as CRLF, a
 * missing final newline added; cut or padded with spaces to n octets so
 * that the framing holds whatever happened to the file.  0 or -1. */
static int
send_body(struct mrp *m, struct rd *r, off_t n, const char *what)
{
	char	 obuf[2 * MRP_CHUNK], last = '\n';
	size_t	 o, i;

	while (n > 0 && rd_fill(r) == 1) {
		for (o = 0, i = r->pos; i < r->len; i++) {
			if (r->buf[i] == '\n' && last != '\r')
				obuf[o++] = '\r';
			obuf[o++] = r->buf[i];
			last = r->buf[i];
		}
		r->pos = r->len;
		if ((off_t)o > n)
			o = (size_t)n;
		if (out(m, obuf, o) == -1)
			return -1;
		n -= (off_t)o;
	}
	if (n >= 2 && last != '\n') {
		if (out(m, "\r\n", 2) == -1)
			return -1;
		n -= 2;
	}
	if (n > 0)
		log_warnx("mrp: %s: shorter than its size, padded", what);
	for (; n > 0; n--)
		if (out(m, " ", 1) == -1)
			return -1;
	return 0;
}

/* fetch_one: sends message i: "* FETCH ID id SIZE n", then n octets:
 * the summary lines and the message.  Returns 1 when sent, 0 when left
 * out (removed or unreadable since SELECT), -1 when the connection is
 * lost. */
static int
fetch_one(struct mrp *m, size_t i, char *buf)
{
	struct mail	*ml = &m->f->mail[i];
	struct summary	 sm;
	struct rd	 r;
	char		 sum[5 * MRP_FIELD_MAX + 128], dbuf[32];
	long		 d;
	int		 fd, n, rc;

	if ((fd = folder_open_mail(m->f, i)) == -1) {
		log_warn("mrp: user=<%s>: UID %zu", m->s->user, i + 1);
		return 0;	/* removed by another agent: left out */
	}
	memset(&r, 0, sizeof(r));
	r.fd = fd;
	r.buf = buf;
	if (read_header(&r, &sm) == -1 || lseek(fd, 0, SEEK_SET) == -1) {
		log_warn("mrp: user=<%s>: UID %zu", m->s->user, i + 1);
		(void)close(fd);
		return 0;
	}
	d = mail_date(&sm, ml);
	(void)snprintf(dbuf, sizeof(dbuf), "%04u-%02u-%02u",
	    (unsigned)(d / 10000 % 10000), (unsigned)(d / 100 % 100),
	    (unsigned)(d % 100));
	n = snprintf(sum, sizeof(sum), "UID: %zu\r\nSender: %s\r\n"
	    "Recipient: %s\r\nSubject: %s\r\nDate: %s\r\n", i + 1, sm.from,
	    sm.to, sm.subject, dbuf);
	if (n < 0 || (size_t)n >= sizeof(sum)) {
		(void)close(fd);
		return -1;
	}
	memset(&r, 0, sizeof(r));
	r.fd = fd;
	r.buf = buf;
	rc = reply(m, "* FETCH ID %u SIZE %lld", ml->gid,
	    (long long)n + (long long)ml->size);
	if (rc == 0)
		rc = out(m, sum, (size_t)n);
	if (rc == 0)
		rc = send_body(m, &r, ml->size, ml->name);
	(void)close(fd);
	return rc == 0 ? 1 : -1;
}

/* fetch_args: parses FETCH's arguments: an optional UID or range first,
 * then flags.  Returns 0, or -1 after answering the syntax error. */
static int
fetch_args(struct mrp *m, char *args, uint32_t *lo, uint32_t *hi,
    unsigned *flags, bool *ranged)
{
	const char	*err;
	char		*w, *colon;
	uint32_t	 a, b, t;
	bool		 any = false;

	*lo = 1;
	*hi = UINT32_MAX;
	*flags = 0;
	*ranged = false;
	if (args == NULL || *args == '\0')
		return syntax(m, "FETCH needs a UID, a range or a flag"), -1;
	while ((w = word(&args)) != NULL) {
		if (*w == '\0')
			return syntax(m, "empty argument (two spaces?)"), -1;
		if (isdigit((unsigned char)*w) || *w == ':') {
			if (*ranged)
				return syntax(m, "only one UID or range"), -1;
			if (any)
				return syntax(m, "the UID or range comes "
				    "first, before any flag"), -1;
			if ((colon = strchr(w, ':')) != NULL)
				*colon++ = '\0';
			if (number(w, true, &a, &err) == -1 ||
			    (colon != NULL &&
			    number(colon, true, &b, &err) == -1))
				return syntax(m, err), -1;
			if (colon == NULL)
				b = a;
			if (a > b) {
				t = a;
				a = b;
				b = t;
			}
			*lo = a;
			*hi = b;
			*ranged = true;
		} else {
			if (flag_bit(w) == 0)
				return syntax(m, "unknown flag (ALL, RECENT, "
				    "SENT, DRAFT, SEEN or DELETED)"), -1;
			*flags |= flag_bit(w);
		}
		any = true;
	}
	if (*flags == 0)
		*flags = MF_ALL;
	return 0;
}

/* cmd_fetch: FETCH [sequence-set] *(flag). */
static int
cmd_fetch(struct mrp *m, char *args)
{
	uint32_t	 lo, hi, sent;
	unsigned	 flags;
	size_t		 i, last;
	char		*buf;
	bool		 ranged;
	int		 rc;

	if (fetch_args(m, args, &lo, &hi, &flags, &ranged) == -1)
		return CMD_BAD;
	if (ranged && hi > m->f->count) {
		reply(m, "BAD UID %u is beyond the mailbox (%zu messages)",
		    hi, m->f->count);
		return CMD_BAD;
	}
	last = ranged ? hi : m->f->count;
	if ((buf = malloc(MRP_CHUNK)) == NULL) {
		reply(m, "BAD Out of memory");
		return CMD_OK;
	}
	sent = sent_bit(m);
	for (i = lo - 1; i < last; i++) {
		if (!(mrp_flag(&m->f->mail[i], sent) & flags))
			continue;
		if ((rc = fetch_one(m, i, buf)) == -1) {
			free(buf);
			return lost(m);
		}
		m->nfetch += (unsigned)rc;
	}
	free(buf);
	return completed(m, "FETCH");
}

/* ---- SEARCH. ---- */

enum skey { SK_ALL, SK_BODY, SK_SUBJECT, SK_SENDER, SK_RECIPIENT,
	SK_SINCE, SK_UNTIL };

static const char *const skeys[] = { "ALL", "BODY", "SUBJECT", "SENDER",
	"RECIPIENT", "SINCE", "UNTIL" };

/* parse_date: "YYYY-MM-DD" as yyyymmdd, or 0. */
static long
parse_date(const char *s)
{
	size_t	 i;

	if (strlen(s) != 10 || s[4] != '-' || s[7] != '-')
		return 0;
	for (i = 0; i < 10; i++)
		if (i != 4 && i != 7 && !isdigit((unsigned char)s[i]))
			return 0;
	return date_num(strtol(s, NULL, 10), strtol(s + 5, NULL, 10),
	    strtol(s + 8, NULL, 10));
}

/* body_has: whether the rest of the message in r contains needle,
 * read in chunks with an overlap of the needle's length. */
static int
body_has(struct rd *r, const char *needle, size_t nlen, char *win)
{
	size_t	 have = 0, take;
	int	 more;

	while ((more = rd_fill(r)) == 1) {
		take = r->len - r->pos;
		if (take > MRP_CHUNK)
			take = MRP_CHUNK;
		memcpy(win + have, r->buf + r->pos, take);
		r->pos += take;
		have += take;
		if (memmem(win, have, needle, nlen) != NULL)
			return 1;
		if (have >= nlen) {
			memmove(win, win + have - (nlen - 1), nlen - 1);
			have = nlen - 1;
		}
	}
	return more == -1 ? -1 : 0;
}

/* matches: whether message i matches key and value.  1, 0, or -1 when
 * it cannot be read (it is then left out). */
static int
matches(struct mrp *m, size_t i, enum skey key, const char *val,
    long date, char *buf, char *win)
{
	struct summary	 sm;
	struct rd	 r;
	long		 d;
	int		 fd, rc = 0;

	if ((fd = folder_open_mail(m->f, i)) == -1)
		return -1;
	memset(&r, 0, sizeof(r));
	r.fd = fd;
	r.buf = buf;
	if (read_header(&r, &sm) == -1) {
		(void)close(fd);
		return -1;
	}
	switch (key) {
	case SK_SINCE:
	case SK_UNTIL:
		d = mail_date(&sm, &m->f->mail[i]);
		rc = key == SK_SINCE ? d >= date : d < date;
		break;
	case SK_SUBJECT:
		rc = strstr(sm.subject, val) != NULL;
		break;
	case SK_SENDER:
		rc = strstr(sm.from, val) != NULL;
		break;
	case SK_RECIPIENT:
		rc = strstr(sm.to, val) != NULL || strstr(sm.cc, val) != NULL;
		break;
	case SK_ALL:
		if (strstr(sm.subject, val) != NULL ||
		    strstr(sm.from, val) != NULL ||
		    strstr(sm.to, val) != NULL || strstr(sm.cc, val) != NULL) {
			rc = 1;
			break;
		}
		/* FALLTHROUGH */
	case SK_BODY:
		rc = body_has(&r, val, strlen(val), win);
		break;
	}
	(void)close(fd);
	return rc;
}

/* search_args: parses key=[value]; -1 after answering the error. */
static int
search_args(struct mrp *m, char *args, enum skey *key, char **val,
    long *date)
{
	char	*eq, *end, *p;
	size_t	 i;

	if (args == NULL || *args == '\0')
		return syntax(m, "SEARCH needs key=[value]"), -1;
	if ((eq = strchr(args, '=')) == NULL)
		return syntax(m, "missing '=' after the search key"), -1;
	*eq = '\0';
	for (i = 0; i < sizeof(skeys) / sizeof(skeys[0]); i++)
		if (strcasecmp(args, skeys[i]) == 0)
			break;
	if (i == sizeof(skeys) / sizeof(skeys[0]))
		return syntax(m, "unknown search key (ALL, BODY, SUBJECT, "
		    "SENDER, RECIPIENT, SINCE or UNTIL)"), -1;
	*key = (enum skey)i;
	if (eq[1] != '[')
		return syntax(m, "missing '[' after '='"), -1;
	*val = eq + 2;
	if ((end = strchr(*val, ']')) == NULL)
		return syntax(m, "unterminated '['"), -1;
	if (end[1] != '\0')
		return syntax(m, "text after ']'"), -1;
	*end = '\0';
	if (**val == '\0')
		return syntax(m, "empty search value"), -1;
	for (p = *val; *p != '\0'; p++)
		if ((unsigned char)*p > 0x7f)
			return syntax(m, "the search value must be 7-bit "
			    "ASCII"), -1;
	*date = 0;
	if ((*key == SK_SINCE || *key == SK_UNTIL) &&
	    (*date = parse_date(*val)) == 0)
		return syntax(m, "a date is YYYY-MM-DD"), -1;
	return 0;
}

/* cmd_search: SEARCH key=[value]; the UIDs are sent as they are found,
 * messages read one at a time. */
static int
cmd_search(struct mrp *m, char *args)
{
	enum skey	 key;
	char		*val, *buf, *win;
	long		 date;
	size_t		 i, found = 0;
	char		 num[32];

	if (search_args(m, args, &key, &val, &date) == -1)
		return CMD_BAD;
	buf = malloc(MRP_CHUNK);
	win = malloc(MRP_CHUNK + strlen(val));
	if (buf == NULL || win == NULL) {
		free(buf);
		free(win);
		reply(m, "BAD Out of memory");
		return CMD_OK;
	}
	for (i = 0; i < m->f->count; i++) {
		if (matches(m, i, key, val, date, buf, win) != 1)
			continue;
		(void)snprintf(num, sizeof(num), " %zu", i + 1);
		if ((found++ == 0 ? outs(m, "* SEARCH") : 0) == -1 ||
		    outs(m, num) == -1) {
			free(buf);
			free(win);
			return lost(m);
		}
	}
	free(buf);
	free(win);
	m->nsearch++;
	if ((found > 0 ? outs(m, "\r\n") :
	    outs(m, "* SEARCH FOUND NO RESULTS\r\n")) == -1)
		return lost(m);
	return completed(m, "SEARCH");
}

/* ---- The command loop. ---- */

/* wrong_state: the BAD reply for c in the current state. */
static int
wrong_state(struct mrp *m, const struct cmd *c)
{
	if (m->state == ST_LOGIN)
		reply(m, "BAD Not logged in: LOGIN or TOKEN first");
	else if (c->states == ST_LOGIN)
		reply(m, "BAD Already logged in");
	else if (c->states == ST_CONTROL)
		reply(m, "BAD Syntax error: no mailbox selected, SELECT "
		    "first");
	else
		reply(m, "BAD Mailbox already selected: LOGOUT first");
	return CMD_BAD;
}

/* dispatch: runs one command line of len octets; inside an encrypted
 * channel, the line is a record to open first. */
static int
dispatch(void *ctx, char *line, size_t len)
{
	struct mrp	*m = ctx;
	const struct cmd *c;
	char		*name, *args = NULL, *p;
	ssize_t		 n;

	if (m->crypt != NULL) {
		if ((n = unseal(m, &line)) < 0) {
			/* Tampered, replayed or garbled: not one more word. */
			log_warnx("mrp: rip=%s: a record failed its check, "
			    "closing", m->s->rip);
			m->cl.why = "bad record";
			return CMD_CLOSE;
		}
		len = (size_t)n;
	}
	if (strlen(line) != len)
		return syntax(m, "NUL in the command line");
	for (p = line; *p != '\0'; p++)
		if ((unsigned char)*p > 0x7f)
			return syntax(m, "8-bit octet in the command line");
	name = line;
	if ((p = strchr(line, ' ')) != NULL) {
		*p = '\0';
		args = p + 1;
	}
	if (*name == '\0')
		return syntax(m, "empty command");
	for (p = name; *p != '\0'; p++)
		if (!isalpha((unsigned char)*p))
			return syntax(m, "unknown command");
	if ((c = COMMAND_FIND(cmds, name)) == NULL)
		return syntax(m, "unknown command");
	if (!(c->states & m->state))
		return wrong_state(m, c);
	return c->fn(m, args);
}

/* event: the replies to the command loop's events. */
static void
event(void *ctx, enum cmd_event ev)
{
	struct mrp	*m = ctx;

	if (ev == CMD_TOOLONG)
		(void)syntax(m, "line too long");
	else if (ev == CMD_TIMEOUT)
		reply(m, "OK Autologout: idle for too long");
	else
		reply(m, "OK Closing: too many bad commands");
}

/* flush_ops: flush() for the command loop. */
static int
flush_ops(void *ctx)
{
	return flush(ctx);
}

static const struct command_ops mrp_ops = { dispatch, event, flush_ops };

/* logout_line: the counts for the logout log line. */
static void
logout_line(struct mrp *m, const char *why)
{
	char	 stats[160];

	(void)snprintf(stats, sizeof(stats), "fetch=%u search=%u change=%u "
	    "expunge=%u reason=%s", m->nfetch, m->nsearch, m->nchange,
	    m->nexpunge, why);
	session_logout(m->s, stats);
}

/* mrp_serve: one MRP session on s->fd. */
static void
mrp_serve(struct session *s)
{
	struct mrp	 m;
	const char	*why;

	memset(&m, 0, sizeof(m));
	m.s = s;
	m.state = ST_LOGIN;
	if ((m.io = session_io(s, (size_t)s->conf->max_line)) == NULL)
		return;
	command_init(&m.cl, s, m.io, &m, &mrp_ops);
	if (s->resumed && s->login_state[0] != '\0') {
		/* The login came through an AUTH channel: carry it on. */
		m.crypt = mrpc_import(s->login_state);
		explicit_bzero(s->login_state, sizeof(s->login_state));
		if (m.crypt == NULL || (m.cmdbuf = malloc((size_t)
		    s->conf->max_line + 64)) == NULL) {
			log_warnx("mrp: rip=%s: cannot resume the channel",
			    s->rip);
			mrpc_free(&m.crypt);
			return;
		}
	}
	if (s->resumed) {
		/* A session process: the login was checked; answer it. */
		if (logged_in(&m, s->login_mech) == CMD_OK)
			why = command_loop(&m.cl);
		else
			why = m.cl.why;
	} else {
		reply(&m, "OK Postern MRP server ready");
		why = command_loop(&m.cl);
	}
	mrpc_free(&m.crypt);
	free(m.cmdbuf);
	if (s->handed_off)
		return;
	folder_close(&m.f);
	if (s->user[0] != '\0')
		logout_line(&m, why);
}

/* mrp_refuse: a refusal as "OK Closing: text": the draft's section 4.4
 * wants an OK line before the server closes. */
static size_t
mrp_refuse(const struct session *s, const char *text, char *buf, size_t len)
{
	int	 n = snprintf(buf, len, "OK Closing: %s\r\n", text);

	return n < 0 || (size_t)n >= len ? 0 : (size_t)n;
}

const struct protocol mrp_protocol = {
	.name = "mrp",
	.default_port = 5000,
	.serve = mrp_serve,
	.local = false,
	.refuse = mrp_refuse,
};
