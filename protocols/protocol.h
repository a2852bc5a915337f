/*
 * protocol.h: the protocol module table.  A module is a name, a default
 * port, a session function, the worker pool it needs and the form of
 * its refusals; the server knows nothing else of it.
 * registry.c lists the modules.
 */
#ifndef POSTERN_PROTOCOL_H
#define POSTERN_PROTOCOL_H

#include <stdbool.h>
#include <stddef.h>

struct session;

struct protocol {
	const char	*name;		/* as in postern.conf: "pop3" */
	int		 default_port;
	/* Runs one whole session on s->fd; returns when it is over. */
	void		(*serve)(struct session *s);
	/* Served by the unsandboxed local workers, not the chrooted
	 * pre-login ones: the module reads the account database and
	 * writes Maildirs without a login (LMTP).  See posternd(8). */
	bool		 local;
	/* Its sessions deliver mail to local accounts after a login (PAPM's
	 * push): with privilege separation each session process gets a
	 * channel to the auth process, which delivers as the accounts its
	 * uid cannot write for (server/delegate.h). */
	bool		 delivers;
	/*
	 * Writes into buf (len octets) the reply that turns the client of
	 * s away, with its line end, saying why in text ("too many
	 * connections", "server shutting down"): before the greeting, at a
	 * login, or in the middle of a session.  Returns its length, 0 when
	 * it does not fit.  NULL: such clients are closed without a word.
	 */
	size_t		(*refuse)(const struct session *s, const char *text,
			    char *buf, size_t len);
};

/* The modules; registry.c lists them for protocol_find(). */
extern const struct protocol pop3_protocol;
extern const struct protocol lmtp_protocol;
extern const struct protocol pop1_protocol;	/* RFC 918 */
extern const struct protocol papm_protocol;	/* Push And Pull For Mail */
extern const struct protocol mrp_protocol;	/* Mail Retrieval Protocol */

/* The module called name, or NULL. */
const struct protocol *protocol_find(const char *name);
/* The modules, NULL-terminated, for listings. */
const struct protocol *const *protocol_all(void);

#endif
