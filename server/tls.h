/*
 * tls.h: the server's TLS context, built with libtls from the tls_*
 * settings of postern.conf(5).  The master loads it before the workers
 * fork (the certificate and key are read into memory then, so workers
 * may chroot), and replaces it on SIGHUP; workers forked afterwards
 * inherit the new one.  Sessions start TLS through session.h.
 */
#ifndef POSTERN_TLS_H
#define POSTERN_TLS_H

#include "server/conf.h"

struct tls;

/*
 * Loads tls_cert and tls_key with conf's ciphers, TLS 1.2 and 1.3 only.
 * Without tls_cert TLS is off and nothing is loaded.  Returns 0, or -1
 * after printing "file: TLS: reason" to stderr, as conf_load does (a
 * file that cannot be read, a bad certificate or key, a key that does
 * not match the certificate, a bad cipher list).
 */
int		 tls_load(const struct conf *conf);
/*
 * Loads the same files again into a new context and swaps it in only if
 * it loads.  Returns 1 when swapped in, 0 when TLS is not configured,
 * -1 when loading failed: the old context stays in use and the reason
 * is logged.
 */
int		 tls_reload(const struct conf *conf);
/* The current context for tls_accept_socket(), or NULL when TLS is off. */
struct tls	*tls_context(void);
/* Frees the context; TLS is off afterwards. */
void		 tls_unload(void);

#endif
