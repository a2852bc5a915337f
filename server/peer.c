/*
 * peer.c: the text form of connection addresses, and what counts as
 * loopback (the plaintext policy's and the per-address limits' test).
 */
#include <sys/types.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <string.h>

#include "server/peer.h"

void
peer_name(const struct sockaddr_storage *ss, char *host, size_t hostlen,
    int *port)
{
	const struct sockaddr_in  *sin = (const struct sockaddr_in *)ss;
	const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)ss;
	const void	*a;

	*port = 0;
	if (ss->ss_family == AF_INET) {
		a = &sin->sin_addr;
		*port = ntohs(sin->sin_port);
	} else if (ss->ss_family == AF_INET6) {
		a = &sin6->sin6_addr;
		*port = ntohs(sin6->sin6_port);
	} else
		a = NULL;
	if (a == NULL ||
	    inet_ntop(ss->ss_family, a, host, (socklen_t)hostlen) == NULL) {
		strlcpy(host, "unknown", hostlen);
		*port = 0;
	}
}

bool
peer_loopback(const struct sockaddr_storage *ss)
{
	const struct sockaddr_in  *sin = (const struct sockaddr_in *)ss;
	const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)ss;

	if (ss->ss_family == AF_INET)
		return (ntohl(sin->sin_addr.s_addr) >> 24) == 127;
	if (ss->ss_family != AF_INET6)
		return false;
	if (IN6_IS_ADDR_LOOPBACK(&sin6->sin6_addr))
		return true;
	return IN6_IS_ADDR_V4MAPPED(&sin6->sin6_addr) &&
	    sin6->sin6_addr.s6_addr[12] == 127;
}
