/*
 * peer.h: the two ends of a connection as sessions, limits and logs see
 * them: the numeric address and port, and whether the peer is on
 * loopback, from an accepted socket's addresses or a PROXY header's.
 */
#ifndef POSTERN_PEER_H
#define POSTERN_PEER_H

#include <sys/types.h>
#include <sys/socket.h>
#include <stdbool.h>
#include <stddef.h>

/* The numeric text of an AF_INET or AF_INET6 address and its port;
 * "unknown" and port 0 for any other family (a UNIX socket's peer). */
void	peer_name(const struct sockaddr_storage *ss, char *host,
	    size_t hostlen, int *port);
/* Whether an address is 127/8 or ::1, or 127/8 mapped into IPv6. */
bool	peer_loopback(const struct sockaddr_storage *ss);

#endif
