/*
 * protocol.h: the protocol module table.  A module is a name, a default
 * port and a session function; the server knows nothing else of it.
 * registry.c lists the modules.
 */
#ifndef POSTERN_PROTOCOL_H
#define POSTERN_PROTOCOL_H

struct session;

struct protocol {
	const char	*name;		/* as in postern.conf: "pop3" */
	int		 default_port;
	/* Runs one whole session on s->fd; returns when it is over. */
	void		(*serve)(struct session *s);
};

/* The modules; registry.c lists them for protocol_find(). */
extern const struct protocol pop3_protocol;
extern const struct protocol lmtp_protocol;

/* The module called name, or NULL. */
const struct protocol *protocol_find(const char *name);
/* The modules, NULL-terminated, for listings. */
const struct protocol *const *protocol_all(void);

#endif
