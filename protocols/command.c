/*
 * command.c: the command loop of every line protocol (command.h): line
 * limits, the login deadline, the bad-command count; and the "-ERR"
 * replies the POP family shares, with what a login's verdict means for
 * the session.  Every other reply is the module's, in its protocol's
 * form.
 */
#include <sys/types.h>

#include <string.h>
#include <strings.h>
#include <time.h>

#include "protocols/command.h"
#include "server/io.h"
#include "server/session.h"

void
command_init(struct cmdloop *cl, struct session *s, struct io *io,
    void *ctx, const struct command_ops *ops)
{
	memset(cl, 0, sizeof(*cl));
	cl->io = io;
	cl->s = s;
	cl->ctx = ctx;
	cl->ops = ops;
	cl->max_bad = s->conf->max_bad_commands;
	cl->max_line = (size_t)s->conf->max_line;
	clock_gettime(CLOCK_MONOTONIC, &cl->login_by);
	cl->login_by.tv_sec += s->conf->login_timeout;
}

void
command_logged_in(struct cmdloop *cl, int idle_timeout)
{
	memset(&cl->login_by, 0, sizeof(cl->login_by));
	io_set_timeout(cl->io, idle_timeout);
}

ssize_t
command_getline(struct cmdloop *cl, char **line_r)
{
	struct timespec	 now;
	long long	 ms;

	if (cl->login_by.tv_sec != 0) {
		clock_gettime(CLOCK_MONOTONIC, &now);
		ms = (cl->login_by.tv_sec - now.tv_sec) * 1000LL +
		    (cl->login_by.tv_nsec - now.tv_nsec) / 1000000;
		if (ms <= 0)
			return IO_TIMEOUT;
		io_set_timeout(cl->io, (int)((ms + 999) / 1000));
	}
	return io_getline(cl->io, line_r);
}

/* last: sends what the module buffered, the session's last reply, with
 * the end of the stream: the client need not wait for the process to
 * finish and close.  A session handed to another process has flushed
 * already and goes on there. */
static void
last(struct cmdloop *cl)
{
	if (!cl->s->handed_off)
		io_last(cl->io);
	if (cl->ops->flush != NULL)
		(void)cl->ops->flush(cl->ctx);
	else
		(void)io_flush(cl->io);
}

/* event: the reply to an event: the module's, or the POP family's. */
static void
event(struct cmdloop *cl, enum cmd_event ev)
{
	if (cl->ops->event != NULL)
		cl->ops->event(cl->ctx, ev);
	else if (ev == CMD_TOOLONG)
		(void)io_puts(cl->io, "-ERR line too long\r\n");
	else if (ev == CMD_TIMEOUT)
		(void)io_puts(cl->io, "-ERR autologout: idle for too long\r\n");
	else
		(void)io_puts(cl->io, "-ERR too many bad commands, closing\r\n");
}

const char *
command_loop(struct cmdloop *cl)
{
	char	*line;
	ssize_t	 n;
	int	 bad = 0, rc;

	for (;;) {
		n = command_getline(cl, &line);
		if (n == IO_EOF)
			return "disconnected";
		if (n == IO_ERROR)
			return "connection error";
		if (n == IO_TIMEOUT) {
			event(cl, CMD_TIMEOUT);
			last(cl);
			return "timeout";
		}
		if (n == IO_TOOLONG || (size_t)n > cl->max_line) {
			event(cl, CMD_TOOLONG);
			rc = CMD_BAD;
		} else
			rc = cl->ops->dispatch(cl->ctx, line, (size_t)n);
		if (rc == CMD_CLOSE) {
			last(cl);
			return cl->why != NULL ? cl->why : "closed";
		}
		if (rc == CMD_BAD && ++bad >= cl->max_bad) {
			event(cl, CMD_TOOMANY);
			last(cl);
			return "too many bad commands";
		}
	}
}

char *
command_name(char **line)
{
	char	*name = *line, *p = *line;

	while (*p != '\0' && *p != ' ')
		p++;
	if (*p == ' ')
		*p++ = '\0';
	*line = p;
	return name;
}

const void *
command_find(const void *table, size_t n, size_t size, const char *name)
{
	const char	*entry = table;
	const char	*entry_name;
	size_t		 i;

	for (i = 0; i < n; i++, entry += size) {
		memcpy(&entry_name, entry, sizeof(entry_name));
		if (strcasecmp(entry_name, name) == 0)
			return entry;
	}
	return NULL;
}

const void *
command_pop(struct cmdloop *cl, char **line, const void *table, size_t n,
    size_t size, int state, bool logged_in)
{
	struct command_head	 head;
	const char		*name = command_name(line);
	const void		*entry;

	if (*name == '\0') {
		(void)io_puts(cl->io, "-ERR empty command\r\n");
		return NULL;
	}
	if ((entry = command_find(table, n, size, name)) == NULL) {
		(void)io_puts(cl->io, "-ERR unknown command\r\n");
		return NULL;
	}
	memcpy(&head, entry, sizeof(head));
	if (!(head.states & state)) {
		(void)io_printf(cl->io, "-ERR %s is not valid %s login\r\n",
		    head.name, logged_in ? "after" : "before");
		return NULL;
	}
	return entry;
}

int
command_pop_refused(struct cmdloop *cl, const char *fail, bool codes)
{
	(void)io_printf(cl->io, "%s\r\n", fail);
	if (!session_auth_exhausted(cl->s))
		return CMD_BAD;
	(void)io_printf(cl->io, "-ERR %stoo many failures, closing\r\n",
	    codes ? "[AUTH] " : "");
	cl->why = "too many auth failures";
	return CMD_CLOSE;
}

int
command_pop_login(struct cmdloop *cl, enum auth_result r, const char *fail,
    bool codes)
{
	const char	*temp = codes ? "[SYS/TEMP] " : "";

	if (r != AUTH_OK && cl->s->dropped) {
		(void)io_printf(cl->io, "-ERR %slogin failed, try again "
		    "later\r\n", temp);
		cl->why = "identity change failed";
		return CMD_CLOSE;
	}
	if (r == AUTH_TEMPFAIL) {
		(void)io_printf(cl->io, "-ERR %sauthentication is "
		    "unavailable, try again later\r\n", temp);
		return CMD_OK;
	}
	if (r != AUTH_OK)
		return command_pop_refused(cl, fail, codes);
	if (cl->s->handed_off) {
		cl->why = "handed off";
		return CMD_CLOSE;
	}
	return CMD_IN;
}

char *
command_word(char **sp)
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

bool
command_end(const char *s)
{
	return s[strspn(s, " ")] == '\0';
}

bool
command_keyword(char **sp, const char *word)
{
	size_t	 n = strlen(word);

	if (strncasecmp(*sp, word, n) != 0)
		return false;
	*sp += n;
	return true;
}
