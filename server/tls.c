/*
 * tls.c: owns the one server-wide libtls context: builds it from the
 * certificate, key and cipher settings, and swaps in a new one on reload
 * only when it loads.  It never touches a connection: server/io.c runs
 * the handshakes and the stream.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <tls.h>

#include "server/log.h"
#include "server/tls.h"

/* The protocols offered: TLS 1.0 and 1.1 are deprecated (RFC 8996). */
#define TLS_PROTOCOLS	(TLS_PROTOCOL_TLSv1_2 | TLS_PROTOCOL_TLSv1_3)

static struct tls *server_ctx;

/* configure: a tls_config with conf's files, ciphers and protocols, or
 * NULL with the reason in why. */
static struct tls_config *
configure(const struct conf *conf, char *why, size_t whylen)
{
	struct tls_config *cfg;

	if ((cfg = tls_config_new()) == NULL) {
		strlcpy(why, "out of memory", whylen);
		return NULL;
	}
	if (tls_config_set_protocols(cfg, TLS_PROTOCOLS) == -1 ||
	    tls_config_set_ciphers(cfg, conf->tls_ciphers) == -1) {
		snprintf(why, whylen, "tls_ciphers \"%s\": %s",
		    conf->tls_ciphers, tls_config_error(cfg));
		tls_config_free(cfg);
		return NULL;
	}
	if (tls_config_set_cert_file(cfg, conf->tls_cert) == -1) {
		snprintf(why, whylen, "tls_cert %s: %s", conf->tls_cert,
		    tls_config_error(cfg));
		tls_config_free(cfg);
		return NULL;
	}
	if (tls_config_set_key_file(cfg, conf->tls_key) == -1) {
		snprintf(why, whylen, "tls_key %s: %s", conf->tls_key,
		    tls_config_error(cfg));
		tls_config_free(cfg);
		return NULL;
	}
	if (conf->tls_prefer_client_ciphers)
		tls_config_prefer_ciphers_client(cfg);
	else
		tls_config_prefer_ciphers_server(cfg);
	return cfg;
}

/* build: a server context from conf's settings, or NULL with the
 * reason in why.  libtls parses the certificate and key here. */
static struct tls *
build(const struct conf *conf, char *why, size_t whylen)
{
	struct tls_config *cfg;
	struct tls	*ctx;

	if (tls_init() == -1) {
		strlcpy(why, "cannot initialise libtls", whylen);
		return NULL;
	}
	if ((cfg = configure(conf, why, whylen)) == NULL)
		return NULL;
	if ((ctx = tls_server()) == NULL) {
		strlcpy(why, "out of memory", whylen);
		tls_config_free(cfg);
		return NULL;
	}
	if (tls_configure(ctx, cfg) == -1) {
		snprintf(why, whylen, "tls_cert %s, tls_key %s: %s",
		    conf->tls_cert, conf->tls_key, tls_error(ctx));
		tls_free(ctx);
		tls_config_free(cfg);
		return NULL;
	}
	/* The context holds its own copy of the key now. */
	tls_config_clear_keys(cfg);
	tls_config_free(cfg);
	return ctx;
}

int
tls_load(const struct conf *conf)
{
	char	 why[512];

	tls_unload();
	if (conf->tls_cert[0] == '\0')
		return 0;
	if ((server_ctx = build(conf, why, sizeof(why))) == NULL) {
		/* Before the daemon detaches, as conf_load reports. */
		fprintf(stderr, "%s: TLS: %s\n", conf->path, why);
		return -1;
	}
	log_debug("TLS: loaded %s", conf->tls_cert);
	return 0;
}

int
tls_reload(const struct conf *conf)
{
	struct tls	*ctx;
	char		 why[512];

	if (conf->tls_cert[0] == '\0')
		return 0;
	if ((ctx = build(conf, why, sizeof(why))) == NULL) {
		log_warnx("TLS reload failed, keeping the certificate in use: "
		    "%s", why);
		return -1;
	}
	tls_unload();
	server_ctx = ctx;
	log_info("TLS: reloaded %s", conf->tls_cert);
	return 1;
}

struct tls *
tls_context(void)
{
	return server_ctx;
}

void
tls_unload(void)
{
	if (server_ctx != NULL)
		tls_free(server_ctx);
	server_ctx = NULL;
}
