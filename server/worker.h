/*
 * worker.h: a pre-forked worker.  It waits on every listener, accepts one
 * connection at a time and runs its protocol's session on it, then goes
 * back to waiting, until the master tells it to stop.
 */
#ifndef POSTERN_WORKER_H
#define POSTERN_WORKER_H

#include "server/conf.h"

struct protocol;

struct listener {
	int			 fd;	/* listening, non-blocking */
	const struct protocol	*proto;
	char			 name[96];	/* "127.0.0.1:110 (pop3)" */
	bool			 tls;	/* TLS from the first byte */
};

/* Serves connections until SIGTERM, sending logins to the auth process
 * at queue authq (-1: checks them itself); never returns.  With privilege
 * separation it first chroots and drops to the unprivileged user. */
void	worker_main(const struct conf *conf, const struct listener *l,
	    int nl, int authq) __attribute__((noreturn));

#endif
