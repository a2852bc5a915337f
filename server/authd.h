/*
 * authd.h: the auth process and its wire protocol.  Pre-login workers
 * (unprivileged, chrooted) send each login request, with the client's
 * connection and the bytes it pipelined, to the auth process over a UNIX
 * socket; the auth process (root) checks the credentials and, when they
 * are good, forks the session process, which takes the account's
 * identity and carries on the session.  Requests have a fixed layout and
 * bounded sizes; one request is answered at a time per connection.
 */
#ifndef POSTERN_AUTHD_H
#define POSTERN_AUTHD_H

#include <stddef.h>

#include "server/auth.h"
#include "server/conf.h"
#include "server/session.h"

/* Pipelined input that may follow a login to the session process. */
#define AUTHD_PENDING_MAX	16384

/*
 * Makes the request queue: a socket pair whose [0] the auth processes
 * read and whose [1] every worker writes.  Returns 0 or -1 (errno).
 */
int	authd_queue(int q[2]);

/*
 * The auth process: answers requests on fd q until SIGTERM, then lets its
 * sessions finish until SIGUSR2 (the master's end of shutdown_grace),
 * which has them send their closing reply and end.  SIGHUP reads the
 * configuration again.  A login over max_sessions_per_user, or with no
 * scoreboard slot left, gets the protocol's refusal on its connection
 * and no session.  Never returns.
 */
void	authd_main(const struct conf *conf, int q) __attribute__((noreturn));

/*
 * In a worker: asks the auth process at queue q to log s in with req and,
 * on success, to take over the connection conn (with the pending input).
 * Returns the verdict; on AUTH_OK *u holds the account's name only (its
 * Maildir and identity stay with the auth process and the session's),
 * or an empty name when the auth process took the connection only to
 * refuse the session over a limit (*why_r); *why_r says why otherwise.
 */
enum auth_result authd_login(int q, const struct session *s,
	    const struct auth_request *req, int conn, const void *pending,
	    size_t plen, struct auth_user *u, const char **why_r);

#endif
