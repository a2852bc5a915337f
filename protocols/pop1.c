/*
 * pop1.c: the original Post Office Protocol of RFC 918 (1984): USER and
 * PASS, then transactions that send a whole mailbox as one mbox stream
 * (RETR or RDEL, RCEV, RCVD).  Logins, storage, locking and line handling
 * belong to server/ and storage/; this file only speaks RFC 918, and never
 * deletes a message before the client's RCVD.
 */
#include <sys/types.h>
#include <sys/stat.h>

#include <errno.h>
#include <limits.h>
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
#include "server/io.h"
#include "server/limits.h"
#include "server/log.h"
#include "server/session.h"
#include "storage/folder.h"
#include "storage/maildir.h"

/* States: before login, logged in, a mailbox open (after RETR or RDEL),
 * the mailbox sent (after RCEV). */
#define AUTH		0x01
#define READY		0x02
#define OPENED		0x04
#define SENT		0x08
#define LOGGED		(READY | OPENED | SENT)
#define ANY		(AUTH | LOGGED)

/* The first line of a message is read this far for its Return-Path. */
#define POP1_HEAD_MAX	1024
/* The sender in a "From " line: longer ones are MAILER-DAEMON. */
#define POP1_SENDER_MAX	256

struct pop1 {
	struct session	*s;
	struct io	*io;
	int		 state;
	bool		 have_user;
	char		 user[USER_MAX + 1];
	/* The transaction. */
	struct maildrop	*md;
	bool		 rdel;		/* RDEL: RCVD deletes */
	char		 box[FOLDER_NAME_MAX + 8];	/* for the log */
	off_t		 octets;	/* the "#xxx" count */
	unsigned char	*skip;		/* messages left out of the stream */
	char		*buf;		/* IO_FILEBUF: reading messages */
	/* The session. */
	unsigned	 sent_n, del_n;	/* for the logout line */
	off_t		 sent_b;
	struct cmdloop	 cl;		/* the command loop; why it ended */
};

/*
 * The mbox form of a mailbox being counted (io NULL) or sent: a "From "
 * line per message, every line ending in CRLF, lines matching
 * ">*From " quoted with one more '>' (mboxrd), a blank line after each
 * message.  Counting and sending run the same code, so the count is
 * exact.
 */
struct mbox {
	struct io	*io;		/* NULL: count only */
	off_t		 octets;	/* produced so far */
	off_t		 limit;		/* sending: never more than this */
	int		 err;		/* errno of a failed write */
	bool		 scan;		/* at a line's start, matching */
	size_t		 gt;		/* '>'s matched there */
	size_t		 from;		/* octets of "From " matched after */
	char		 last;		/* the last octet of the text */
};

struct cmd {
	const char	*name;		/* as struct command_head */
	int		 states;
	int		(*fn)(struct pop1 *, char *);
};
_Static_assert(offsetof(struct cmd, states) ==
    offsetof(struct command_head, states), "struct cmd: command.h's head");

static int	cmd_user(struct pop1 *, char *);
static int	cmd_pass(struct pop1 *, char *);
static int	cmd_retr(struct pop1 *, char *);
static int	cmd_rdel(struct pop1 *, char *);
static int	cmd_rcev(struct pop1 *, char *);
static int	cmd_rcvd(struct pop1 *, char *);
static int	cmd_quit(struct pop1 *, char *);
static int	cmd_noop(struct pop1 *, char *);
static int	cmd_rset(struct pop1 *, char *);

static const struct cmd cmds[] = {
	{ "USER",	AUTH,	cmd_user },
	{ "PASS",	AUTH,	cmd_pass },
	{ "RETR",	LOGGED,	cmd_retr },
	{ "RDEL",	LOGGED,	cmd_rdel },
	{ "RCEV",	LOGGED,	cmd_rcev },
	{ "RECV",	LOGGED,	cmd_rcev },	/* RFC 918's diagram */
	{ "RCVD",	LOGGED,	cmd_rcvd },
	{ "QUIT",	ANY,	cmd_quit },
	{ "NOOP",	ANY,	cmd_noop },
	{ "RSET",	ANY,	cmd_rset },
};

/* reply: one buffered reply line, CRLF added. */
static int __attribute__((format(printf, 2, 3)))
reply(struct pop1 *p, const char *fmt, ...)
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
lost(struct pop1 *p)
{
	p->cl.why = "connection error";
	return CMD_CLOSE;
}

/* trim: the argument without the spaces around it, in place. */
static char *
trim(char *s)
{
	size_t	 n;

	while (*s == ' ')
		s++;
	n = strlen(s);
	while (n > 0 && s[n - 1] == ' ')
		s[--n] = '\0';
	return s;
}

/* end_transaction: closes and unlocks the mailbox, changing nothing
 * that RCVD did not commit. */
static void
end_transaction(struct pop1 *p)
{
	maildrop_close(&p->md);
	free(p->skip);
	p->skip = NULL;
	free(p->buf);
	p->buf = NULL;
	p->octets = 0;
	p->rdel = false;
	p->box[0] = '\0';
	if (p->state != AUTH)
		p->state = READY;
}

/* cmd_user: USER name. */
static int
cmd_user(struct pop1 *p, char *args)
{
	args = trim(args);
	if (!session_plaintext_ok(p->s)) {
		reply(p, "-ERR plaintext authentication disallowed without "
		    "TLS");
		return CMD_BAD;
	}
	if (*args == '\0') {
		reply(p, "-ERR USER needs a user name");
		return CMD_BAD;
	}
	if (strlen(args) > USER_MAX) {
		reply(p, "-ERR user name too long");
		return CMD_BAD;
	}
	strlcpy(p->user, args, sizeof(p->user));
	p->have_user = true;
	return reply(p, "+OK send PASS") == 0 ? CMD_OK : lost(p);
}

/* logged_in: the session after a login, here or in a session process. */
static int
logged_in(struct pop1 *p)
{
	p->state = READY;
	command_logged_in(&p->cl, p->s->conf->idle_timeout);
	session_title(p->s, p->s->user);
	return reply(p, "+OK logged in") == 0 ? CMD_OK : lost(p);
}

/* cmd_pass: PASS password; the whole rest of the line is the password. */
static int
cmd_pass(struct pop1 *p, char *args)
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
		reply(p, "-ERR plaintext authentication disallowed without "
		    "TLS");
		return CMD_BAD;
	}
	session_request(p->s, &req, AUTH_MECH_PASSWORD, p->user, args);
	r = session_login(p->s, &req, &u);
	explicit_bzero(args, strlen(args));
	explicit_bzero(&u, sizeof(u));
	rc = command_pop_login(&p->cl, r, "-ERR invalid user name or password",
	    false);
	return rc == CMD_IN ? logged_in(p) : rc;
}

/*
 * box_path: the directory of mailbox name of the logged-in user: INBOX
 * (or the user's own name, as RFC 918's mailboxes were named) is the
 * Maildir, any other valid folder name its Maildir++ folder ".name".
 * Returns 0, or -1 when name cannot be a mailbox of this user.
 */
static int
box_path(const struct pop1 *p, const char *name, char *path, size_t len)
{
	const char	*root = p->s->account.maildir;
	int		 n;

	if (strcasecmp(name, FOLDER_INBOX) == 0 ||
	    strcmp(name, p->s->user) == 0) {
		n = snprintf(path, len, "%s", root);
		return n < 0 || (size_t)n >= len ? -1 : 0;
	}
	if (!folder_name_valid(name))
		return -1;
	if (strncasecmp(name, FOLDER_INBOX ".", 6) == 0)
		name += 6;
	n = snprintf(path, len, "%s/.%s", root, name);
	return n < 0 || (size_t)n >= len ? -1 : 0;
}

/* is_folder: whether path is a directory of its own, not a link. */
static bool
is_folder(const char *path)
{
	struct stat	 st;

	return lstat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

/* emit: adds len octets to the stream, or only counts them. */
static void
emit(struct mbox *mb, const char *s, size_t len)
{
	if (mb->io != NULL && mb->err == 0) {
		if (mb->octets + (off_t)len > mb->limit)
			mb->err = EMSGSIZE;	/* the mailbox changed */
		else if (io_write(mb->io, s, len) == -1)
			mb->err = errno != 0 ? errno : EIO;
	}
	mb->octets += (off_t)len;
}

/* emit_prefix: a line's start that turned out not to be "From ". */
static void
emit_prefix(struct mbox *mb)
{
	for (; mb->gt > 0; mb->gt--)
		emit(mb, ">", 1);
	emit(mb, "From ", mb->from);
	mb->from = 0;
	mb->scan = false;
}

/* scan_octet: one octet at a line's start; false when it is not part of
 * a ">*From " prefix (the prefix so far is then out, c is not). */
static bool
scan_octet(struct mbox *mb, char c)
{
	static const char from[] = "From ";

	if (mb->from == 0 && c == '>') {
		mb->gt++;
		return true;
	}
	if (c == from[mb->from]) {
		if (++mb->from == sizeof(from) - 1) {
			emit(mb, ">", 1);	/* the mboxrd quote */
			emit_prefix(mb);
		}
		return true;
	}
	emit_prefix(mb);
	return false;
}

/* mbox_chunk: n octets of a message's text: LF as CRLF, "From " quoted. */
static void
mbox_chunk(struct mbox *mb, const char *buf, size_t n)
{
	const char	*nl;
	size_t		 i = 0, end;

	while (i < n) {
		if (mb->scan && scan_octet(mb, buf[i])) {
			mb->last = buf[i++];
			continue;
		}
		nl = memchr(buf + i, '\n', n - i);
		end = nl != NULL ? (size_t)(nl - buf) : n;
		if (end > i) {
			emit(mb, buf + i, end - i);
			mb->last = buf[end - 1];
		}
		i = end;
		if (nl != NULL) {
			emit(mb, mb->last == '\r' ? "\n" : "\r\n",
			    mb->last == '\r' ? 1 : 2);
			mb->last = '\n';
			mb->scan = true;
			i++;
		}
	}
}

/*
 * sender: the "From " line's sender: the address of a Return-Path header
 * that is the message's first line, else MAILER-DAEMON.  Reads only the
 * first POP1_HEAD_MAX octets, so both passes find the same.
 */
static void
sender(int fd, char *buf, char *out, size_t outlen)
{
	static const char rp[] = "Return-Path:";
	size_t	 got = 0, i;
	ssize_t	 n;
	char	*s, *e;

	strlcpy(out, "MAILER-DAEMON", outlen);
	while (got < POP1_HEAD_MAX) {
		n = pread(fd, buf + got, POP1_HEAD_MAX - got, (off_t)got);
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		got += (size_t)n;
	}
	buf[got] = '\0';
	if ((e = memchr(buf, '\n', got)) == NULL ||
	    strncasecmp(buf, rp, sizeof(rp) - 1) != 0)
		return;
	*e = '\0';
	s = buf + sizeof(rp) - 1;
	s += strspn(s, " \t<");
	for (e = s; *e != '\0' && *e != '>' && *e != '\r' && *e != ' ' &&
	    *e != '\t'; e++)
		;
	*e = '\0';
	if (*s == '\0' || (size_t)(e - s) > POP1_SENDER_MAX)
		return;
	for (i = 0; s[i] != '\0'; i++)
		if (s[i] < 0x21 || s[i] > 0x7e)
			return;
	strlcpy(out, s, outlen);
}

/* from_line: the mbox separator of message m. */
static void
from_line(struct mbox *mb, const struct mail *m, int fd, char *buf)
{
	char		 who[POP1_SENDER_MAX + 1], date[64], line[400];
	struct tm	 tm;
	time_t		 t = m->time > 0 ? m->time : 0;
	int		 n;

	sender(fd, buf, who, sizeof(who));
	if (gmtime_r(&t, &tm) == NULL ||
	    strftime(date, sizeof(date), "%a %b %e %H:%M:%S %Y", &tm) == 0)
		strlcpy(date, "Thu Jan  1 00:00:00 1970", sizeof(date));
	n = snprintf(line, sizeof(line), "From %s %s\r\n", who, date);
	if (n < 0 || (size_t)n >= sizeof(line))
		n = snprintf(line, sizeof(line), "From MAILER-DAEMON %s\r\n",
		    date);
	emit(mb, line, (size_t)n);
}

/* mbox_message: one message of fd in mbox form.  0, or -1 when the file
 * could not be read (errno set). */
static int
mbox_message(struct mbox *mb, const struct mail *m, int fd, char *buf)
{
	ssize_t	 n;

	from_line(mb, m, fd, buf);
	mb->scan = true;
	mb->gt = mb->from = 0;
	mb->last = '\n';
	while ((n = read(fd, buf, IO_FILEBUF)) != 0) {
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1)
			return -1;
		mbox_chunk(mb, buf, (size_t)n);
		if (mb->err != 0)
			return 0;
	}
	if (mb->scan && (mb->gt > 0 || mb->from > 0))
		emit_prefix(mb);
	if (mb->last != '\n')
		emit(mb, "\r\n", 2);
	emit(mb, "\r\n", 2);
	return 0;
}

/*
 * mbox_pass: the open mailbox in mbox form, counted (mb->io NULL) or
 * sent.  Counting leaves out, in p->skip, the messages that cannot be
 * read; sending leaves out the same ones.  Returns 0, or -1 when sending
 * cannot go on (a message gone or unreadable since it was counted, or
 * the connection lost): the stream is then broken.
 */
static int
mbox_pass(struct pop1 *p, struct mbox *mb)
{
	struct maildrop	*md = p->md;
	size_t		 i;
	int		 fd, rc;

	for (i = 0; i < md->count; i++) {
		if (p->skip[i])
			continue;
		if ((fd = maildrop_open_mail(md, i, NULL)) == -1) {
			log_warn("pop1: user=<%s> %s: message %zu", p->s->user,
			    p->box, i + 1);
			if (mb->io != NULL)
				return -1;
			p->skip[i] = 1;
			continue;
		}
		rc = mbox_message(mb, &md->mail[i], fd, p->buf);
		if (rc == -1)
			log_warn("pop1: user=<%s> %s: reading message %zu",
			    p->s->user, p->box, i + 1);
		close(fd);
		if (rc == -1 && mb->io != NULL)
			return -1;
		if (rc == -1)
			p->skip[i] = 1;	/* counted in part: count again */
		if (mb->err != 0)
			return -1;
	}
	return 0;
}

/* skipped: how many messages are left out of the stream. */
static size_t
skipped(const struct pop1 *p)
{
	size_t	 i, n = 0;

	for (i = 0; i < p->md->count; i++)
		n += p->skip[i];
	return n;
}

/* count_box: the first pass, which sets p->octets; when it leaves a
 * message out, perhaps counted in part, the count is taken again. */
static int
count_box(struct pop1 *p)
{
	struct mbox	 mb;
	size_t		 before;

	do {
		before = skipped(p);
		memset(&mb, 0, sizeof(mb));
		if (mbox_pass(p, &mb) == -1)
			return -1;
	} while (skipped(p) != before);
	p->octets = mb.octets;
	return 0;
}

/*
 * open_box: RETR and RDEL: opens and locks mailbox name and counts it in
 * mbox form; the reply is "#" and that count.
 */
static int
open_box(struct pop1 *p, char *args, bool rdel)
{
	struct mail_opts opts;
	char		 path[PATH_MAX];
	const char	*name = trim(args);
	bool		 inbox;
	int		 rc;

	if (p->state != READY) {
		reply(p, "-ERR a transaction is open: send RCVD or RSET "
		    "first");
		return CMD_BAD;
	}
	if (*name == '\0') {
		reply(p, "-ERR %s needs a mailbox name", rdel ? "RDEL" :
		    "RETR");
		return CMD_BAD;
	}
	if (box_path(p, name, path, sizeof(path)) == -1) {
		reply(p, "-ERR no such mailbox");
		return CMD_OK;
	}
	inbox = strcmp(path, p->s->account.maildir) == 0;
	if (!inbox && !is_folder(path)) {
		reply(p, "-ERR no such mailbox");
		return CMD_OK;
	}
	memset(&opts, 0, sizeof(opts));
	opts.state_dir = session_state_dir(p->s);
	opts.msgid = p->s->msgid;
	rc = maildrop_open(path, &opts, &p->md);
	if (rc == MAILDROP_LOCKED) {
		log_info("pop1: user=<%s> rip=%s: mailbox %s locked by "
		    "another session", p->s->user, p->s->rip, name);
		reply(p, "-ERR mailbox locked by another session");
		return CMD_OK;
	}
	if (rc != 0) {
		reply(p, "-ERR cannot open the mailbox");
		return CMD_OK;
	}
	strlcpy(p->box, inbox ? FOLDER_INBOX : name, sizeof(p->box));
	p->skip = calloc(p->md->count + 1, 1);
	p->buf = malloc(IO_FILEBUF);
	p->state = OPENED;
	p->rdel = rdel;
	if (p->skip == NULL || p->buf == NULL || count_box(p) == -1) {
		log_warn("pop1: user=<%s> %s", p->s->user, p->box);
		end_transaction(p);
		reply(p, "-ERR cannot read the mailbox");
		return CMD_OK;
	}
	return reply(p, "#%lld", (long long)p->octets) == 0 ? CMD_OK :
	    lost(p);
}

/* cmd_retr: RETR mailbox: a transaction that deletes nothing. */
static int
cmd_retr(struct pop1 *p, char *args)
{
	return open_box(p, args, false);
}

/* cmd_rdel: RDEL mailbox: a transaction whose RCVD deletes what was
 * sent. */
static int
cmd_rdel(struct pop1 *p, char *args)
{
	return open_box(p, args, true);
}

/*
 * cmd_rcev: RCEV: the mailbox, exactly the octets "#xxx" announced and no
 * status line.  When that cannot be kept (a message changed or vanished
 * since it was counted, a read error), the connection is closed: RFC
 * 918's "connection aborted", and nothing is deleted.
 */
static int
cmd_rcev(struct pop1 *p, char *args)
{
	struct mbox	 mb;

	if (p->state != OPENED) {
		reply(p, p->state == SENT ? "-ERR the mailbox was sent: send "
		    "RCVD" : "-ERR no transaction: send RETR or RDEL first");
		return CMD_BAD;
	}
	if (!command_end(args)) {
		reply(p, "-ERR RCEV takes no argument");
		return CMD_BAD;
	}
	memset(&mb, 0, sizeof(mb));
	mb.io = p->io;
	mb.limit = p->octets;
	if (mbox_pass(p, &mb) == -1 || mb.octets != p->octets) {
		if (mb.err != 0 && mb.err != EMSGSIZE)
			return lost(p);
		log_warnx("pop1: user=<%s> rip=%s: mailbox %s changed while "
		    "it was sent, connection aborted", p->s->user, p->s->rip,
		    p->box);
		p->cl.why = "mailbox changed";
		return CMD_CLOSE;
	}
	p->state = SENT;
	return CMD_OK;
}

/* failed_list: the stream positions (1-based) of the messages that were
 * to be deleted and are still there, for RCVD's -ERR. */
static void
failed_list(const struct pop1 *p, char *out, size_t len)
{
	char	 num[24];
	size_t	 i, pos = 0;

	out[0] = '\0';
	for (i = 0; i < p->md->count; i++) {
		if (p->skip[i])
			continue;
		pos++;
		if (!(p->md->mail[i].flags & MAIL_DELETED) ||
		    (p->md->mail[i].flags & MAIL_GONE))
			continue;
		snprintf(num, sizeof(num), " %zu", pos);
		if (strlen(out) + strlen(num) + 5 >= len) {
			strlcat(out, " ...", len);
			return;
		}
		strlcat(out, num, len);
	}
}

/*
 * cmd_rcvd: RCVD ends the transaction: after RDEL deletes the messages
 * sent (and only those), after RETR marks them seen; then unlocks.
 */
static int
cmd_rcvd(struct pop1 *p, char *args)
{
	char	 list[200] = "";
	size_t	 i, n = 0, failed = 0;

	if (p->state != SENT) {
		reply(p, p->state == OPENED ? "-ERR send RCEV first" :
		    "-ERR no transaction: send RETR or RDEL first");
		return CMD_BAD;
	}
	for (i = 0; i < p->md->count; i++) {
		if (p->skip[i])
			continue;
		p->md->mail[i].flags |= p->rdel ? MAIL_DELETED : MAIL_SEEN;
		n++;
	}
	p->sent_n += (unsigned)n;
	p->sent_b += p->octets;
	if (maildrop_commit(p->md, &failed) == -1)
		failed_list(p, list, sizeof(list));
	if (p->rdel)
		p->del_n += (unsigned)(n - failed);
	log_info("pop1: user=<%s> rip=%s mailbox=%s %s=%zu/%lld "
	    "deleted=%zu failed=%zu", p->s->user, p->s->rip, p->box,
	    p->rdel ? "rdel" : "retr", n, (long long)p->octets,
	    p->rdel ? n - failed : 0, failed);
	end_transaction(p);
	if (failed > 0)
		reply(p, "-ERR %zu of %zu messages could not be deleted:%s",
		    failed, n, list);
	else
		reply(p, "+OK");
	return CMD_OK;
}

/* cmd_quit: QUIT; an open transaction is dropped, nothing deleted. */
static int
cmd_quit(struct pop1 *p, char *args)
{
	end_transaction(p);
	reply(p, "+OK Postern POP server signing off");
	p->cl.why = "quit";
	return CMD_CLOSE;
}

/* cmd_noop: NOOP. */
static int
cmd_noop(struct pop1 *p, char *args)
{
	reply(p, "+OK");
	return CMD_OK;
}

/* cmd_rset: RSET: aborts the transaction, closes and unlocks the
 * mailbox, deleting nothing. */
static int
cmd_rset(struct pop1 *p, char *args)
{
	end_transaction(p);
	reply(p, "+OK");
	return CMD_OK;
}

/* dispatch: runs one command line. */
static int
dispatch(void *ctx, char *line, size_t len)
{
	struct pop1	*p = ctx;
	const struct cmd *c;

	c = COMMAND_POP(&p->cl, &line, cmds, p->state, p->state != AUTH);
	return c == NULL ? CMD_BAD : c->fn(p, line);
}

static const struct command_ops pop1_ops = { dispatch, NULL, NULL };

/* pop1_serve: one RFC 918 session on s->fd. */
static void
pop1_serve(struct session *s)
{
	struct pop1	 p;
	char		 stats[160];
	const char	*why;

	memset(&p, 0, sizeof(p));
	p.s = s;
	p.state = AUTH;
	if ((p.io = session_io(s, (size_t)s->conf->max_line)) == NULL)
		return;
	command_init(&p.cl, s, p.io, &p, &pop1_ops);
	if (s->resumed) {
		/* A session process: the login was checked; answer it. */
		if (logged_in(&p) == CMD_OK)
			why = command_loop(&p.cl);
		else
			why = p.cl.why;
	} else {
		reply(&p, "+OK Postern POP server ready");
		why = command_loop(&p.cl);
	}
	if (s->handed_off)
		return;
	/* Only RCVD commits: any other end deletes nothing. */
	end_transaction(&p);
	if (s->user[0] != '\0') {
		snprintf(stats, sizeof(stats), "sent=%u/%lld deleted=%u "
		    "reason=%s", p.sent_n, (long long)p.sent_b, p.del_n, why);
		session_logout(s, stats);
	}
}

/* pop1_refuse: a refusal as "-ERR text", RFC 918's negative reply. */
static size_t
pop1_refuse(const struct session *s, const char *text, char *buf, size_t len)
{
	int	 n = snprintf(buf, len, "-ERR %s\r\n", text);

	return n < 0 || (size_t)n >= len ? 0 : (size_t)n;
}

const struct protocol pop1_protocol = {
	.name = "pop1",
	.default_port = 109,
	.serve = pop1_serve,
	.local = false,
	.refuse = pop1_refuse,
};
