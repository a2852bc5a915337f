/*
 * command.h: the command loop every line protocol shares.  It reads the
 * next line (before login within the login deadline), hands it to the
 * module, counts bad commands, and ends the session when told to; the
 * module keeps its command table, its states and the form of its replies,
 * except for the "-ERR" lines the POP family (POP3, RFC 918 POP, PAPM)
 * shares: the replies to the loop's events, to a command that is empty,
 * unknown or out of its state (command_pop()), and to a login that did
 * not go on here (command_pop_login()).
 */
#ifndef POSTERN_COMMAND_H
#define POSTERN_COMMAND_H

#include <sys/types.h>

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include "server/auth.h"

struct io;
struct session;

/* What a command tells the loop. */
#define CMD_OK		0	/* done, whatever the reply */
#define CMD_BAD		1	/* a bad command: counts toward the limit */
#define CMD_CLOSE	2	/* end the session */
#define CMD_IN		3	/* command_pop_login(): logged in here */

/* The events the module answers in its own form (command_ops.event). */
enum cmd_event {
	CMD_TOOLONG,		/* a line over the limit; counts as bad */
	CMD_TIMEOUT,		/* the login deadline or the idle time passed */
	CMD_TOOMANY,		/* max_bad_commands reached; the session ends */
};

struct command_ops {
	/* Runs one command line of len octets (NUL-terminated, without
	 * its line end): CMD_OK, CMD_BAD or CMD_CLOSE. */
	int	(*dispatch)(void *ctx, char *line, size_t len);
	/* Writes the reply to an event; NULL: the POP family's "-ERR line
	 * too long", "-ERR autologout: idle for too long" and "-ERR too
	 * many bad commands, closing". */
	void	(*event)(void *ctx, enum cmd_event ev);
	/* Sends what the module buffered; NULL: io_flush. */
	int	(*flush)(void *ctx);
};

struct cmdloop {
	struct io		*io;
	const struct session	*s;
	void			*ctx;		/* the module's session */
	const struct command_ops *ops;
	int			 max_bad;
	size_t			 max_line;	/* longer commands are bad, even
						   when io takes longer lines
						   for message text */
	struct timespec		 login_by;	/* zero once logged in */
	const char		*why;		/* set by a command that ends
						   the session; logged */
};

/* Sets up cl for session s: the login deadline starts now. */
void		 command_init(struct cmdloop *cl, struct session *s,
		    struct io *io, void *ctx, const struct command_ops *ops);
/* Logged in: no more deadline; each wait has idle_timeout seconds. */
void		 command_logged_in(struct cmdloop *cl, int idle_timeout);
/* The next line, as io_getline(), under the login deadline if any (for
 * the continuation lines a command reads itself: AUTH, DATA). */
ssize_t		 command_getline(struct cmdloop *cl, char **line_r);
/* Runs commands until the session ends; returns why it ended. */
const char	*command_loop(struct cmdloop *cl);
/*
 * The entry of table (n entries of size octets, each a struct whose first
 * member is its "const char *name") called name, in any case; NULL when
 * none is.  COMMAND_FIND(array, name) for a whole array.
 */
const void	*command_find(const void *table, size_t n, size_t size,
		    const char *name);
#define COMMAND_FIND(a, name)	\
	command_find((a), sizeof(a) / sizeof((a)[0]), sizeof((a)[0]), (name))
/*
 * How every command table's entries begin (command_find() needs only the
 * name): the name, then the states the command is valid in, as bits of
 * the module's own.
 */
struct command_head {
	const char	*name;
	int		 states;
};
/*
 * The POP family's dispatch: cuts the command name off *line and returns
 * its entry in table (as for command_find(), entries that begin as a
 * struct command_head) when it is valid in state; else NULL, after the
 * reply: "-ERR empty command", "-ERR unknown command", or "-ERR NAME is
 * not valid before login" ("after login" when logged_in).
 * COMMAND_POP(cl, line, array, state, logged_in) for a whole array.
 */
const void	*command_pop(struct cmdloop *cl, char **line,
		    const void *table, size_t n, size_t size, int state,
		    bool logged_in);
#define COMMAND_POP(cl, line, a, state, in)				\
	command_pop((cl), (line), (a), sizeof(a) / sizeof((a)[0]),	\
	    sizeof((a)[0]), (state), (in))
/*
 * The POP family's answer to a login that session_login() judged r.
 * CMD_IN when it succeeded in this process: the module opens the
 * maildrop and replies.  Else what the command returns, after the
 * replies: handed off to a session process, CMD_CLOSE without a word
 * (that process answers); failed with an identity half taken, "-ERR
 * login failed, try again later" and CMD_CLOSE (this process must not go
 * on); a server-side failure, "-ERR authentication is unavailable, try
 * again later" and CMD_OK; refused credentials, as command_pop_refused().
 * With codes, the replies carry POP3's response codes (RFC 3206):
 * [SYS/TEMP], and [AUTH] on the closing one.
 */
int		 command_pop_login(struct cmdloop *cl, enum auth_result r,
		    const char *fail, bool codes);
/*
 * The reply fail to refused credentials, and CMD_BAD; after
 * max_auth_failures of them "-ERR too many failures, closing" and
 * CMD_CLOSE.
 */
int		 command_pop_refused(struct cmdloop *cl, const char *fail,
		    bool codes);
/*
 * Cuts the command name off *line: the word up to the first space,
 * which is replaced with a NUL; *line then points to the arguments ("" when
 * none).  Returns the name ("" for an empty line).
 */
char		*command_name(char **line);


/* Argument helpers, for the modules' commands. */
/* Cuts the next space-separated word off *sp; NULL when none is left. */
char		*command_word(char **sp);
/* Whether nothing but spaces is left in s. */
bool		 command_end(const char *s);
/* Whether *sp starts with word, in any case; skips it if so. */
bool		 command_keyword(char **sp, const char *word);

#endif
