/*
 * conf.c: every setting of postern.conf(5): its name, default, bounds and
 * meaning to the program.  Reads the file with libconfuse, reports each
 * error as "file:line: reason", and fills struct conf.  Nothing else in
 * Postern parses configuration.
 */
#include <sys/types.h>
#include <sys/stat.h>

#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <arpa/inet.h>

#include <confuse.h>

#include "protocols/protocol.h"
#include "protocols/uidl.h"
#include "server/auth.h"
#include "server/conf.h"
#include "server/limits.h"
#include "server/proxy.h"

/* A configuration file larger than this is refused. */
#define CONF_SIZE_MAX	(1024 * 1024)

/* LMTP's message size limit: 50 MiB by default (Postfix's
 * message_size_limit is 10 MB), at most 2 GiB - 1 anywhere. */
#define LMTP_SIZE_DEFAULT	(50L * 1024 * 1024)
#define LMTP_SIZE_MAX		2147483647L

/* PAPM push's message size limit: 10 MiB by default (Postfix's
 * message_size_limit), bounded as LMTP's. */
#define PAPM_SIZE_DEFAULT	(10L * 1024 * 1024)

/* Bounds of the integer settings, checked as each value is read. */
static const struct bound {
	const char	*name;
	long		 min, max;
} bounds[] = {
	{ "workers",		1, WORKERS_MAX },
	{ "min_spare",		1, WORKERS_MAX },
	{ "max_spare",		1, WORKERS_MAX },
	{ "max_workers",	1, WORKERS_MAX },
	{ "max_local_workers",	1, LOCAL_WORKERS_MAX },
	{ "max_sessions_per_worker", 0, 1000000000 },
	{ "max_connections",	1, CONNECTIONS_MAX },
	{ "max_connections_per_ip", 0, CONNECTIONS_MAX },
	{ "max_sessions_per_user", 0, CONNECTIONS_MAX },
	{ "max_session_time",	0, SESSION_TIME_MAX },
	{ "lmtp_idle_timeout",	1, TIMEOUT_MAX },
	{ "shutdown_grace",	0, 3600 },
	{ "login_timeout",	1, TIMEOUT_MAX },
	{ "idle_timeout",	IDLE_TIMEOUT_MIN, TIMEOUT_MAX },
	{ "max_line_length",	LINE_MIN, LINE_MAX_BOUND },
	{ "max_bad_commands",	1, 1000 },
	{ "mail_workers",	0, WORKERS_MAX },
	{ "auth_fail_delay",	0, AUTH_FAIL_DELAY_MAX },
	{ "auth_fail_delay_max", 0, AUTH_FAIL_DELAY_MAX },
	{ "max_auth_failures",	1, AUTH_FAILURES_MAX },
	{ "first_valid_uid",	1, 2147483647L },
	{ "pop3_login_delay",	0, TIMEOUT_MAX },
	{ "port",		0, 65535 },
	{ "lmtp_max_message_size", 1024, LMTP_SIZE_MAX },
	{ "papm_max_message_size", 1024, LMTP_SIZE_MAX },
	{ "proxy_timeout",	PROXY_TIMEOUT_MIN, PROXY_TIMEOUT_MAX },
	{ "mrp_create_rate",	1, 1000 },
};

static const char *const plaintext_names[] = {
	[PLAINTEXT_NEVER] = "never",
	[PLAINTEXT_LOOPBACK] = "loopback",
	[PLAINTEXT_ALWAYS] = "always",
};

static const char *const passdb_names[] = {
	[PASSDB_PASSWD_FILE] = "passwd-file",
	[PASSDB_SYSTEM] = "system",
};

static cfg_opt_t listen_opts[] = {
	CFG_STR("protocol", NULL, CFGF_NODEFAULT),
	CFG_STR("address", "*", CFGF_NONE),
	CFG_INT("port", -1, CFGF_NONE),
	CFG_STR("path", "", CFGF_NONE),
	CFG_BOOL("tls", cfg_false, CFGF_NONE),
	CFG_BOOL("proxy", cfg_false, CFGF_NONE),
	CFG_END()
};

static cfg_opt_t opts[] = {
	CFG_INT("workers", WORKERS_DEFAULT, CFGF_NONE),
	CFG_INT("min_spare", MIN_SPARE_DEFAULT, CFGF_NONE),
	CFG_INT("max_spare", MAX_SPARE_DEFAULT, CFGF_NONE),
	CFG_INT("max_workers", 0, CFGF_NONE),	/* 0: see fill_pool() */
	CFG_INT("max_local_workers", LOCAL_WORKERS_DEFAULT, CFGF_NONE),
	CFG_INT("max_sessions_per_worker", SESSIONS_PER_WORKER_DEFAULT,
	    CFGF_NONE),
	CFG_INT("max_connections", CONNECTIONS_DEFAULT, CFGF_NONE),
	CFG_INT("max_connections_per_ip", CONNECTIONS_PER_IP_DEFAULT,
	    CFGF_NONE),
	CFG_INT("max_sessions_per_user", SESSIONS_PER_USER_DEFAULT, CFGF_NONE),
	CFG_INT("max_session_time", SESSION_TIME_DEFAULT, CFGF_NONE),
	CFG_INT("lmtp_idle_timeout", LMTP_IDLE_TIMEOUT_DEFAULT, CFGF_NONE),
	CFG_STR("pidfile", "/run/posternd.pid", CFGF_NONE),
	CFG_INT("shutdown_grace", SHUTDOWN_GRACE_DEFAULT, CFGF_NONE),
	CFG_STR("hostname", "", CFGF_NONE),
	CFG_STR("passwd_file", "/etc/postern/passwd", CFGF_NONE),
	CFG_STR("maildir", "%h/Maildir", CFGF_NONE),
	CFG_STR("state_dir", "/var/lib/postern", CFGF_NONE),
	CFG_STR("pop3_uidl_format", UIDL_DEFAULT_FORMAT, CFGF_NONE),
	CFG_INT("login_timeout", LOGIN_TIMEOUT_DEFAULT, CFGF_NONE),
	CFG_INT("idle_timeout", IDLE_TIMEOUT_DEFAULT, CFGF_NONE),
	CFG_INT("max_line_length", LINE_DEFAULT, CFGF_NONE),
	CFG_INT("max_bad_commands", BAD_COMMANDS_DEFAULT, CFGF_NONE),
	CFG_INT("auth_fail_delay", AUTH_FAIL_DELAY_DEFAULT, CFGF_NONE),
	CFG_INT("auth_fail_delay_max", AUTH_FAIL_DELAY_CAP_DEFAULT, CFGF_NONE),
	CFG_INT("max_auth_failures", AUTH_FAILURES_DEFAULT, CFGF_NONE),
	CFG_STR("passdb", "passwd-file", CFGF_NONE),
	CFG_STR("pam_service", "postern", CFGF_NONE),
	CFG_INT("first_valid_uid", FIRST_VALID_UID_DEFAULT, CFGF_NONE),
	CFG_STR("apop_secrets", "", CFGF_NONE),
	CFG_STR("rpop_trust_file", "", CFGF_NONE),
	CFG_INT("pop3_login_delay", 0, CFGF_NONE),
	CFG_STR("pop3_implementation", "", CFGF_NONE),
	CFG_STR("plaintext_auth", "loopback", CFGF_NONE),
	CFG_STR("user", "postern", CFGF_NONE),
	CFG_STR("chroot", "/var/empty", CFGF_NONE),
	CFG_STR("mail_user", "", CFGF_NONE),
	CFG_INT("mail_workers", 4, CFGF_NONE),
	CFG_INT("lmtp_max_message_size", LMTP_SIZE_DEFAULT, CFGF_NONE),
	CFG_STR("lmtp_temp_dir", "/tmp", CFGF_NONE),
	CFG_BOOL("mrp_create", cfg_false, CFGF_NONE),
	CFG_STR("mrp_create_home", "", CFGF_NONE),
	CFG_INT("mrp_create_rate", 3, CFGF_NONE),
	CFG_BOOL("mrp_auth_ecb", cfg_false, CFGF_NONE),
	CFG_INT("papm_max_message_size", PAPM_SIZE_DEFAULT, CFGF_NONE),
	CFG_STR("papm_helo_domains", "", CFGF_NONE),
	CFG_STR("papm_relay_command", "", CFGF_NONE),
	CFG_STR("tls_cert", "", CFGF_NONE),
	CFG_STR("tls_key", "", CFGF_NONE),
	CFG_STR("tls_ciphers", "secure", CFGF_NONE),
	CFG_BOOL("tls_prefer_client_ciphers", cfg_false, CFGF_NONE),
	CFG_INT("proxy_timeout", PROXY_TIMEOUT_DEFAULT, CFGF_NONE),
	CFG_STR("proxy_trusted_networks", "", CFGF_NONE),
	CFG_SEC("listen", listen_opts, CFGF_MULTI),
	CFG_END()
};

/* report: the libconfuse error hook, "file:line: reason". */
static void report(cfg_t *, const char *, va_list)
    __attribute__((format(printf, 2, 0)));

static void
report(cfg_t *cfg, const char *fmt, va_list ap)
{
	if (cfg != NULL && cfg->filename != NULL && cfg->line > 0)
		fprintf(stderr, "%s:%d: ", cfg->filename, cfg->line);
	else if (cfg != NULL && cfg->filename != NULL)
		fprintf(stderr, "%s: ", cfg->filename);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
}

/* check_int: keeps an integer setting within its bounds. */
static int
check_int(cfg_t *cfg, cfg_opt_t *opt)
{
	long	 v = cfg_opt_getnint(opt, cfg_opt_size(opt) - 1);
	size_t	 i;

	for (i = 0; i < sizeof(bounds) / sizeof(bounds[0]); i++) {
		if (strcmp(bounds[i].name, opt->name) != 0)
			continue;
		if (v < bounds[i].min || v > bounds[i].max) {
			cfg_error(cfg, "%s must be from %ld to %ld, not %ld",
			    opt->name, bounds[i].min, bounds[i].max, v);
			return -1;
		}
	}
	return 0;
}

/* plaintext_value: the enum for a plaintext_auth keyword, or -1. */
static int
plaintext_value(const char *s)
{
	size_t	 i;

	for (i = 0; i < sizeof(plaintext_names) / sizeof(plaintext_names[0]);
	    i++)
		if (strcmp(s, plaintext_names[i]) == 0)
			return (int)i;
	return -1;
}

/* check_plaintext: plaintext_auth is one of its keywords. */
static int
check_plaintext(cfg_t *cfg, cfg_opt_t *opt)
{
	const char *v = cfg_opt_getnstr(opt, 0);

	if (v == NULL || plaintext_value(v) < 0) {
		cfg_error(cfg, "plaintext_auth must be never, loopback or "
		    "always, not \"%s\"", v ? v : "");
		return -1;
	}
	return 0;
}

/* passdb_value: the enum for a passdb keyword, or -1. */
static int
passdb_value(const char *s)
{
	size_t	 i;

	for (i = 0; i < sizeof(passdb_names) / sizeof(passdb_names[0]); i++)
		if (strcmp(s, passdb_names[i]) == 0)
			return (int)i;
	return -1;
}

/* check_passdb: passdb is one of its keywords. */
static int
check_passdb(cfg_t *cfg, cfg_opt_t *opt)
{
	const char *v = cfg_opt_getnstr(opt, 0);

	if (v == NULL || passdb_value(v) < 0) {
		cfg_error(cfg, "passdb must be passwd-file or system, not "
		    "\"%s\"", v ? v : "");
		return -1;
	}
	return 0;
}

/* check_word: a short text sent to clients (an IMPLEMENTATION string, a
 * PAM service name) is printable ASCII, at most 64 characters. */
static int
check_word(cfg_t *cfg, cfg_opt_t *opt)
{
	const char	*v = cfg_opt_getnstr(opt, 0), *p;

	if (v == NULL)
		return 0;
	for (p = v; *p != '\0'; p++)
		if (*p < 0x20 || *p > 0x7e)
			break;
	if (*p == '\0' && p - v <= 64)
		return 0;
	cfg_error(cfg, "%s must be at most 64 printable ASCII characters",
	    opt->name);
	return -1;
}

/* check_protocol: a listener names a protocol Postern has. */
static int
check_protocol(cfg_t *cfg, cfg_opt_t *opt)
{
	const char *v = cfg_opt_getnstr(opt, 0);

	if (v == NULL || protocol_find(v) == NULL) {
		cfg_error(cfg, "unknown protocol \"%s\"", v ? v : "");
		return -1;
	}
	return 0;
}

/* check_address: a listen address is "*" or a numeric IPv4 or IPv6
 * address (names would need DNS at start-up and could change). */
static int
check_address(cfg_t *cfg, cfg_opt_t *opt)
{
	const char	*v = cfg_opt_getnstr(opt, 0);
	struct in6_addr	 a6;
	char		 v4[INET_ADDRSTRLEN];

	if (v != NULL && inet_pton(AF_INET6, v, &a6) == 1 &&
	    IN6_IS_ADDR_V4MAPPED(&a6)) {
		/* Listeners have IPV6_V6ONLY: bind(2) would refuse it. */
		cfg_error(cfg, "address \"%s\" is an IPv4 address mapped "
		    "into IPv6: write it as \"%s\"", v, inet_ntop(AF_INET,
		    &a6.s6_addr[12], v4, sizeof(v4)) ? v4 : "");
		return -1;
	}
	if (v != NULL && (strcmp(v, "*") == 0 ||
	    inet_pton(AF_INET, v, &a6) == 1 ||
	    inet_pton(AF_INET6, v, &a6) == 1))
		return 0;
	cfg_error(cfg, "address must be \"*\" or a numeric IPv4 or IPv6 "
	    "address, not \"%s\"", v ? v : "");
	return -1;
}

/* check_maildir: the Maildir template expands for a typical account. */
static int
check_maildir(cfg_t *cfg, cfg_opt_t *opt)
{
	const char	*v = cfg_opt_getnstr(opt, 0);
	char		 out[PATH_MAX];

	if (v != NULL && auth_maildir_path(v, "user@example.org",
	    "/home/user", out, sizeof(out)) == 0)
		return 0;
	cfg_error(cfg, "maildir \"%s\" does not expand to an absolute path "
	    "(escapes: %%u %%n %%d %%h %%%%)", v ? v : "");
	return -1;
}

/* check_uidl: pop3_uidl_format has only escapes uidl.c knows. */
static int
check_uidl(cfg_t *cfg, cfg_opt_t *opt)
{
	const char *v = cfg_opt_getnstr(opt, 0), *err;

	if (v == NULL || uidl_check(v, &err) == -1) {
		cfg_error(cfg, "%s", v == NULL ? "pop3_uidl_format is empty" :
		    err);
		return -1;
	}
	return 0;
}

/* check_state_dir: state_dir is an absolute path. */
static int
check_state_dir(cfg_t *cfg, cfg_opt_t *opt)
{
	const char *v = cfg_opt_getnstr(opt, 0);

	if (v == NULL || v[0] != '/') {
		cfg_error(cfg, "state_dir must be an absolute path, not "
		    "\"%s\"", v ? v : "");
		return -1;
	}
	return 0;
}

/* check_path: a file setting is empty or absolute. */
static int
check_path(cfg_t *cfg, cfg_opt_t *opt)
{
	const char *v = cfg_opt_getnstr(opt, 0);

	if (v != NULL && v[0] != '\0' && v[0] != '/') {
		cfg_error(cfg, "%s must be an absolute path, not \"%s\"",
		    opt->name, v);
		return -1;
	}
	return 0;
}

/* check_networks: proxy_trusted_networks is a list of networks. */
static int
check_networks(cfg_t *cfg, cfg_opt_t *opt)
{
	const char		*v = cfg_opt_getnstr(opt, 0);
	struct proxy_net	*nets;
	char			 err[160];
	int			 n;

	if (proxy_networks(v != NULL ? v : "", &nets, &n, err,
	    sizeof(err)) == -1) {
		cfg_error(cfg, "proxy_trusted_networks: %s", err);
		return -1;
	}
	free(nets);
	return 0;
}

/* check_domains: papm_helo_domains is a list of domain names, separated
 * by spaces or commas. */
static int
check_domains(cfg_t *cfg, cfg_opt_t *opt)
{
	const char	*v = cfg_opt_getnstr(opt, 0), *p;

	for (p = v != NULL ? v : ""; *p != '\0'; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		    (*p >= '0' && *p <= '9') || strchr("-. ,\t", *p) != NULL)) {
			cfg_error(cfg, "papm_helo_domains must list domain "
			    "names, not \"%s\"", v);
			return -1;
		}
	return 0;
}

/* check_command: papm_relay_command is empty or starts with an absolute
 * path (it is run without a shell). */
static int
check_command(cfg_t *cfg, cfg_opt_t *opt)
{
	const char	*v = cfg_opt_getnstr(opt, 0);

	if (v != NULL && v[0] != '\0' && v[0] != '/') {
		cfg_error(cfg, "%s must start with an absolute path, not "
		    "\"%s\"", opt->name, v);
		return -1;
	}
	return 0;
}

/* xstrdup: strdup that gives up on memory exhaustion. */
static char *
xstrdup(const char *s)
{
	char	*p = strdup(s ? s : "");

	if (p == NULL) {
		perror("postern: strdup");
		exit(1);
	}
	return p;
}

/* endpoint: a listen address as its family and 16 octets ("*" is
 * 0.0.0.0); check_address() has let only numeric ones through. */
static int
endpoint(const char *address, unsigned char a[16])
{
	memset(a, 0, 16);
	if (strcmp(address, "*") == 0 || inet_pton(AF_INET, address, a) == 1)
		return AF_INET;
	(void)inet_pton(AF_INET6, address, a);
	return AF_INET6;
}

/* same_socket: whether two listeners name the same socket, which the
 * second could not bind: the same path, or the same address and port
 * (0, the kernel's choice, never clashes). */
static bool
same_socket(const struct listener_conf *a, const struct listener_conf *b)
{
	unsigned char	 x[16], y[16];

	if (a->path != NULL || b->path != NULL)
		return a->path != NULL && b->path != NULL &&
		    strcmp(a->path, b->path) == 0;
	return a->port != 0 && a->port == b->port &&
	    endpoint(a->address, x) == endpoint(b->address, y) &&
	    memcmp(x, y, sizeof(x)) == 0;
}

/* fill_listeners: copies the listen sections, with default ports; no
 * two may name one socket. */
static int
fill_listeners(cfg_t *cfg, struct conf *conf)
{
	unsigned int	 i, j, n = cfg_size(cfg, "listen");
	cfg_t		*sec;
	long		 port;

	if (n == 0) {
		fprintf(stderr, "%s: no listen section: nothing to serve\n",
		    conf->path);
		return -1;
	}
	if (n > LISTENERS_MAX) {
		fprintf(stderr, "%s: more than %d listen sections\n",
		    conf->path, LISTENERS_MAX);
		return -1;
	}
	conf->listeners = calloc(n, sizeof(*conf->listeners));
	if (conf->listeners == NULL)
		return -1;
	conf->nlisteners = (int)n;
	for (i = 0; i < n; i++) {
		sec = cfg_getnsec(cfg, "listen", i);
		if (cfg_getstr(sec, "protocol") == NULL) {
			fprintf(stderr, "%s: listen section %u has no "
			    "protocol\n", conf->path, i + 1);
			return -1;
		}
		conf->listeners[i].protocol = xstrdup(cfg_getstr(sec,
		    "protocol"));
		conf->listeners[i].address = xstrdup(cfg_getstr(sec,
		    "address"));
		port = cfg_getint(sec, "port");
		if (cfg_getstr(sec, "path")[0] != '\0') {
			if (port >= 0 || strcmp(cfg_getstr(sec, "address"),
			    "*") != 0) {
				fprintf(stderr, "%s: listen section %u: path "
				    "excludes address and port\n", conf->path,
				    i + 1);
				return -1;
			}
			conf->listeners[i].path = xstrdup(cfg_getstr(sec,
			    "path"));
		}
		conf->listeners[i].tls = cfg_getbool(sec, "tls");
		conf->listeners[i].proxy = cfg_getbool(sec, "proxy");
		if (conf->listeners[i].proxy && conf->nproxy_nets == 0) {
			fprintf(stderr, "%s:%d: a listen section with proxy = "
			    "true needs proxy_trusted_networks\n", conf->path,
			    sec->line);
			return -1;
		}
		if (conf->listeners[i].tls && conf->tls_cert[0] == '\0') {
			fprintf(stderr, "%s:%d: a listen section with tls = "
			    "true needs tls_cert and tls_key\n", conf->path,
			    sec->line);
			return -1;
		}
		if (port < 0)
			port = protocol_find(conf->listeners[i].protocol)->
			    default_port;
		conf->listeners[i].port = (int)port;
		for (j = 0; j < i; j++)
			if (same_socket(&conf->listeners[j],
			    &conf->listeners[i])) {
				fprintf(stderr, "%s:%d: listen section %u has "
				    "the address and port (or path) of "
				    "section %u\n", conf->path, sec->line,
				    i + 1, j + 1);
				return -1;
			}
	}
	return 0;
}

/* fill_tls: the TLS settings; a certificate needs its key and back. */
static int
fill_tls(cfg_t *cfg, struct conf *conf)
{
	conf->tls_cert = xstrdup(cfg_getstr(cfg, "tls_cert"));
	conf->tls_key = xstrdup(cfg_getstr(cfg, "tls_key"));
	conf->tls_ciphers = xstrdup(cfg_getstr(cfg, "tls_ciphers"));
	conf->tls_prefer_client_ciphers = cfg_getbool(cfg,
	    "tls_prefer_client_ciphers");
	if ((conf->tls_cert[0] == '\0') != (conf->tls_key[0] == '\0')) {
		fprintf(stderr, "%s: tls_cert and tls_key go together: set "
		    "both or neither\n", conf->path);
		return -1;
	}
	if (conf->tls_ciphers[0] == '\0') {
		fprintf(stderr, "%s: tls_ciphers is empty\n", conf->path);
		return -1;
	}
	return 0;
}

/* fill_proxy: the PROXY protocol's settings (checked as read). */
static int
fill_proxy(cfg_t *cfg, struct conf *conf)
{
	char	 err[160];

	conf->proxy_timeout = (int)cfg_getint(cfg, "proxy_timeout");
	conf->proxy_trusted_networks = xstrdup(cfg_getstr(cfg,
	    "proxy_trusted_networks"));
	if (proxy_networks(conf->proxy_trusted_networks, &conf->proxy_nets,
	    &conf->nproxy_nets, err, sizeof(err)) == -1) {
		fprintf(stderr, "%s: proxy_trusted_networks: %s\n", conf->path,
		    err);
		return -1;
	}
	return 0;
}

/*
 * fill_pool: the worker pools and the limits.  max_workers defaults to
 * MAX_WORKERS_DEFAULT or workers, whichever is larger, so that a file
 * written for a fixed pool of workers keeps working; set, it must hold
 * workers and min_spare.
 */
static int
fill_pool(cfg_t *cfg, struct conf *conf)
{
	conf->min_spare = (int)cfg_getint(cfg, "min_spare");
	conf->max_spare = (int)cfg_getint(cfg, "max_spare");
	conf->max_workers = (int)cfg_getint(cfg, "max_workers");
	conf->max_local_workers = (int)cfg_getint(cfg, "max_local_workers");
	conf->max_sessions_per_worker = (int)cfg_getint(cfg,
	    "max_sessions_per_worker");
	conf->max_connections = (int)cfg_getint(cfg, "max_connections");
	conf->max_connections_per_ip = (int)cfg_getint(cfg,
	    "max_connections_per_ip");
	conf->max_sessions_per_user = (int)cfg_getint(cfg,
	    "max_sessions_per_user");
	conf->max_session_time = (int)cfg_getint(cfg, "max_session_time");
	conf->lmtp_idle_timeout = (int)cfg_getint(cfg, "lmtp_idle_timeout");
	if (conf->max_workers == 0)
		conf->max_workers = conf->workers > MAX_WORKERS_DEFAULT ?
		    conf->workers : MAX_WORKERS_DEFAULT;
	if (conf->workers > conf->max_workers ||
	    conf->min_spare > conf->max_workers) {
		fprintf(stderr, "%s: workers (%d) and min_spare (%d) must not "
		    "exceed max_workers (%d)\n", conf->path, conf->workers,
		    conf->min_spare, conf->max_workers);
		return -1;
	}
	if (conf->max_spare < conf->min_spare) {
		fprintf(stderr, "%s: max_spare (%d) must be at least min_spare "
		    "(%d)\n", conf->path, conf->max_spare, conf->min_spare);
		return -1;
	}
	return 0;
}

/* fill: copies the parsed settings into conf. */
static int
fill(cfg_t *cfg, struct conf *conf)
{
	char	 host[256];

	conf->workers = (int)cfg_getint(cfg, "workers");
	conf->pidfile = xstrdup(cfg_getstr(cfg, "pidfile"));
	conf->shutdown_grace = (int)cfg_getint(cfg, "shutdown_grace");
	conf->hostname = xstrdup(cfg_getstr(cfg, "hostname"));
	if (conf->hostname[0] == '\0') {
		if (gethostname(host, sizeof(host)) != 0)
			strlcpy(host, "localhost", sizeof(host));
		host[sizeof(host) - 1] = '\0';
		free(conf->hostname);
		conf->hostname = xstrdup(host);
	}
	conf->passwd_file = xstrdup(cfg_getstr(cfg, "passwd_file"));
	conf->maildir = xstrdup(cfg_getstr(cfg, "maildir"));
	conf->state_dir = xstrdup(cfg_getstr(cfg, "state_dir"));
	conf->pop3_uidl_format = xstrdup(cfg_getstr(cfg, "pop3_uidl_format"));
	conf->login_timeout = (int)cfg_getint(cfg, "login_timeout");
	conf->idle_timeout = (int)cfg_getint(cfg, "idle_timeout");
	conf->max_line = (int)cfg_getint(cfg, "max_line_length");
	conf->max_bad_commands = (int)cfg_getint(cfg, "max_bad_commands");
	conf->auth_fail_delay = (int)cfg_getint(cfg, "auth_fail_delay");
	conf->auth_fail_delay_max = (int)cfg_getint(cfg,
	    "auth_fail_delay_max");
	conf->max_auth_failures = (int)cfg_getint(cfg, "max_auth_failures");
	conf->passdb = passdb_value(cfg_getstr(cfg, "passdb"));
	conf->pam_service = xstrdup(cfg_getstr(cfg, "pam_service"));
	conf->first_valid_uid = cfg_getint(cfg, "first_valid_uid");
	conf->apop_secrets = xstrdup(cfg_getstr(cfg, "apop_secrets"));
	conf->rpop_trust_file = xstrdup(cfg_getstr(cfg, "rpop_trust_file"));
	conf->pop3_login_delay = (int)cfg_getint(cfg, "pop3_login_delay");
	conf->pop3_implementation = xstrdup(cfg_getstr(cfg,
	    "pop3_implementation"));
	conf->plaintext_auth = plaintext_value(cfg_getstr(cfg,
	    "plaintext_auth"));
	conf->lmtp_max_message_size = cfg_getint(cfg,
	    "lmtp_max_message_size");
	conf->lmtp_temp_dir = xstrdup(cfg_getstr(cfg, "lmtp_temp_dir"));
	if (conf->lmtp_temp_dir[0] == '\0') {
		fprintf(stderr, "%s: lmtp_temp_dir is empty\n", conf->path);
		return -1;
	}
	conf->mrp_create = cfg_getbool(cfg, "mrp_create");
	conf->mrp_create_home = xstrdup(cfg_getstr(cfg, "mrp_create_home"));
	conf->mrp_create_rate = (int)cfg_getint(cfg, "mrp_create_rate");
	conf->mrp_auth_ecb = cfg_getbool(cfg, "mrp_auth_ecb");
	if (conf->mrp_create && conf->mrp_create_home[0] != '/') {
		fprintf(stderr, "%s: mrp_create needs mrp_create_home, an "
		    "absolute path\n", conf->path);
		return -1;
	}
	conf->papm_max_message_size = cfg_getint(cfg,
	    "papm_max_message_size");
	conf->papm_helo_domains = xstrdup(cfg_getstr(cfg,
	    "papm_helo_domains"));
	conf->papm_relay_command = xstrdup(cfg_getstr(cfg,
	    "papm_relay_command"));
	conf->user = xstrdup(cfg_getstr(cfg, "user"));
	conf->chroot = xstrdup(cfg_getstr(cfg, "chroot"));
	conf->mail_user = xstrdup(cfg_getstr(cfg, "mail_user"));
	conf->mail_workers = (int)cfg_getint(cfg, "mail_workers");
	if (conf->user[0] == '\0' || conf->chroot[0] != '/') {
		fprintf(stderr, "%s: user must be set and chroot absolute\n",
		    conf->path);
		return -1;
	}
	if (conf->passdb == PASSDB_PASSWD_FILE &&
	    conf->passwd_file[0] == '\0') {
		fprintf(stderr, "%s: passwd_file is empty\n", conf->path);
		return -1;
	}
	if (fill_tls(cfg, conf) == -1 || fill_proxy(cfg, conf) == -1 ||
	    fill_pool(cfg, conf) == -1)
		return -1;
	return fill_listeners(cfg, conf);
}

/* validators: installs the per-value checks. */
static void
validators(cfg_t *cfg)
{
	size_t	 i;

	for (i = 0; i < sizeof(bounds) / sizeof(bounds[0]); i++) {
		if (strcmp(bounds[i].name, "port") == 0)
			continue;
		cfg_set_validate_func(cfg, bounds[i].name, check_int);
	}
	cfg_set_validate_func(cfg, "listen|port", check_int);
	cfg_set_validate_func(cfg, "listen|protocol", check_protocol);
	cfg_set_validate_func(cfg, "listen|address", check_address);
	cfg_set_validate_func(cfg, "maildir", check_maildir);
	cfg_set_validate_func(cfg, "state_dir", check_state_dir);
	cfg_set_validate_func(cfg, "pop3_uidl_format", check_uidl);
	cfg_set_validate_func(cfg, "plaintext_auth", check_plaintext);
	cfg_set_validate_func(cfg, "pidfile", check_path);
	cfg_set_validate_func(cfg, "passwd_file", check_path);
	cfg_set_validate_func(cfg, "passdb", check_passdb);
	cfg_set_validate_func(cfg, "pam_service", check_word);
	cfg_set_validate_func(cfg, "pop3_implementation", check_word);
	cfg_set_validate_func(cfg, "apop_secrets", check_path);
	cfg_set_validate_func(cfg, "rpop_trust_file", check_path);
	cfg_set_validate_func(cfg, "lmtp_temp_dir", check_path);
	cfg_set_validate_func(cfg, "papm_helo_domains", check_domains);
	cfg_set_validate_func(cfg, "papm_relay_command", check_command);
	cfg_set_validate_func(cfg, "listen|path", check_path);
	cfg_set_validate_func(cfg, "tls_cert", check_path);
	cfg_set_validate_func(cfg, "tls_key", check_path);
	cfg_set_validate_func(cfg, "proxy_trusted_networks", check_networks);
}

/* blank_block: blanks a comment from its opening to its closing mark,
 * newlines kept; returns where to go on. */
static char *
blank_block(char *s)
{
	*s++ = ' ';
	*s++ = ' ';
	while (*s != '\0' && !(s[0] == '*' && s[1] == '/')) {
		if (*s != '\n')
			*s = ' ';
		s++;
	}
	if (*s != '\0') {
		*s++ = ' ';
		*s = ' ';
	}
	return s;
}

/*
 * blank_comments: replaces comments outside quotes with spaces.
 * libconfuse 3.3 counts each comment line as three lines, so errors
 * after a comment named the wrong line; with the comments blanked, the
 * line numbers it reports are right.
 */
static void
blank_comments(char *s)
{
	char	 quote = 0;

	for (; *s != '\0'; s++) {
		if (quote) {
			if (*s == '\\' && s[1] != '\0')
				s++;
			else if (*s == quote)
				quote = 0;
		} else if (*s == '"' || *s == '\'')
			quote = *s;
		else if (*s == '#' || (*s == '/' && s[1] == '/'))
			while (*s != '\0' && *s != '\n')
				*s++ = ' ';
		else if (*s == '/' && s[1] == '*')
			s = blank_block(s);
		if (*s == '\0')
			break;
	}
}

/* slurp: the configuration file's text, NUL-terminated, or NULL. */
static char *
slurp(const char *path)
{
	FILE	*fp;
	char	*buf;
	size_t	 n;

	if ((fp = fopen(path, "re")) == NULL)
		return NULL;
	if ((buf = malloc(CONF_SIZE_MAX + 1)) == NULL) {
		fclose(fp);
		return NULL;
	}
	n = fread(buf, 1, CONF_SIZE_MAX + 1, fp);
	if (ferror(fp) || n > CONF_SIZE_MAX) {
		if (!ferror(fp))
			errno = EFBIG;
		fclose(fp);
		free(buf);
		return NULL;
	}
	fclose(fp);
	buf[n] = '\0';
	return buf;
}

/* parse: runs libconfuse over the file's text with comments blanked. */
static int
parse(cfg_t *cfg, const char *path)
{
	char	*text;
	FILE	*fp;
	int	 rc;

	if ((text = slurp(path)) == NULL) {
		fprintf(stderr, "%s: %s\n", path, strerror(errno));
		return -1;
	}
	blank_comments(text);
	if ((fp = fmemopen(text, strlen(text), "r")) == NULL) {
		fprintf(stderr, "%s: fmemopen: %s\n", path, strerror(errno));
		free(text);
		return -1;
	}
	free(cfg->filename);
	cfg->filename = xstrdup(path);
	cfg->line = 1;
	rc = cfg_parse_fp(cfg, fp);
	fclose(fp);
	free(text);
	return rc == CFG_SUCCESS ? 0 : -1;
}

int
conf_load(const char *path, struct conf *conf)
{
	cfg_t	*cfg;
	int	 rc;

	memset(conf, 0, sizeof(*conf));
	conf->path = xstrdup(path);
	cfg = cfg_init(opts, CFGF_NONE);
	if (cfg == NULL) {
		fprintf(stderr, "%s: cannot initialise the parser\n", path);
		conf_free(conf);
		return -1;
	}
	cfg_set_error_function(cfg, report);
	validators(cfg);
	if (parse(cfg, path) != 0) {
		cfg_free(cfg);
		conf_free(conf);
		return -1;
	}
	rc = fill(cfg, conf);
	cfg_free(cfg);
	if (rc != 0)
		conf_free(conf);
	return rc;
}

int
conf_check_pidfile(const struct conf *conf, char *why, size_t len)
{
	struct stat	 st;
	char		 dir[PATH_MAX], *slash;

	if (conf->pidfile[0] == '\0')
		return 0;
	if (lstat(conf->pidfile, &st) == 0) {
		if (S_ISREG(st.st_mode))
			return 0;
		snprintf(why, len, "pidfile %s is no regular file",
		    conf->pidfile);
		return -1;
	}
	strlcpy(dir, conf->pidfile, sizeof(dir));
	if ((slash = strrchr(dir, '/')) != NULL)
		slash[slash == dir] = '\0';
	if (stat(dir, &st) == -1 || !S_ISDIR(st.st_mode)) {
		snprintf(why, len, "pidfile %s cannot be made: %s is no "
		    "directory", conf->pidfile, dir);
		return -1;
	}
	return 0;
}

const char *
conf_plaintext_name(enum plaintext_auth p)
{
	return plaintext_names[p];
}

/* print_str: name = "value", with quotes and backslashes escaped so
 * that the output reads back as the same value. */
static void
print_str(FILE *fp, const char *indent, const char *name, const char *v)
{
	fprintf(fp, "%s%s = \"", indent, name);
	for (; *v != '\0'; v++) {
		/* libconfuse expands ${NAME} in strings: keep '$' literal. */
		if (*v == '"' || *v == '\\' || *v == '$')
			fputc('\\', fp);
		fputc(*v, fp);
	}
	fputs("\"\n", fp);
}

void
conf_print(const struct conf *c, FILE *fp)
{
	int	 i;

	fprintf(fp, "# %s\n", c->path);
	fprintf(fp, "workers = %d\n", c->workers);
	fprintf(fp, "min_spare = %d\n", c->min_spare);
	fprintf(fp, "max_spare = %d\n", c->max_spare);
	fprintf(fp, "max_workers = %d\n", c->max_workers);
	fprintf(fp, "max_local_workers = %d\n", c->max_local_workers);
	fprintf(fp, "max_sessions_per_worker = %d\n",
	    c->max_sessions_per_worker);
	fprintf(fp, "max_connections = %d\n", c->max_connections);
	fprintf(fp, "max_connections_per_ip = %d\n",
	    c->max_connections_per_ip);
	fprintf(fp, "max_sessions_per_user = %d\n", c->max_sessions_per_user);
	fprintf(fp, "max_session_time = %d\n", c->max_session_time);
	fprintf(fp, "lmtp_idle_timeout = %d\n", c->lmtp_idle_timeout);
	print_str(fp, "", "pidfile", c->pidfile);
	fprintf(fp, "shutdown_grace = %d\n", c->shutdown_grace);
	print_str(fp, "", "hostname", c->hostname);
	print_str(fp, "", "passwd_file", c->passwd_file);
	print_str(fp, "", "maildir", c->maildir);
	print_str(fp, "", "state_dir", c->state_dir);
	print_str(fp, "", "pop3_uidl_format", c->pop3_uidl_format);
	fprintf(fp, "login_timeout = %d\n", c->login_timeout);
	fprintf(fp, "idle_timeout = %d\n", c->idle_timeout);
	fprintf(fp, "max_line_length = %d\n", c->max_line);
	fprintf(fp, "max_bad_commands = %d\n", c->max_bad_commands);
	fprintf(fp, "auth_fail_delay = %d\n", c->auth_fail_delay);
	fprintf(fp, "auth_fail_delay_max = %d\n", c->auth_fail_delay_max);
	fprintf(fp, "max_auth_failures = %d\n", c->max_auth_failures);
	fprintf(fp, "passdb = %s\n", passdb_names[c->passdb]);
	print_str(fp, "", "pam_service", c->pam_service);
	fprintf(fp, "first_valid_uid = %ld\n", c->first_valid_uid);
	print_str(fp, "", "apop_secrets", c->apop_secrets);
	print_str(fp, "", "rpop_trust_file", c->rpop_trust_file);
	fprintf(fp, "pop3_login_delay = %d\n", c->pop3_login_delay);
	print_str(fp, "", "pop3_implementation", c->pop3_implementation);
	fprintf(fp, "plaintext_auth = %s\n",
	    conf_plaintext_name(c->plaintext_auth));
	print_str(fp, "", "user", c->user);
	print_str(fp, "", "chroot", c->chroot);
	print_str(fp, "", "mail_user", c->mail_user);
	fprintf(fp, "mail_workers = %d\n", c->mail_workers);
	fprintf(fp, "lmtp_max_message_size = %ld\n",
	    c->lmtp_max_message_size);
	print_str(fp, "", "lmtp_temp_dir", c->lmtp_temp_dir);
	fprintf(fp, "mrp_create = %s\n", c->mrp_create ? "true" : "false");
	print_str(fp, "", "mrp_create_home", c->mrp_create_home);
	fprintf(fp, "mrp_create_rate = %d\n", c->mrp_create_rate);
	fprintf(fp, "mrp_auth_ecb = %s\n", c->mrp_auth_ecb ? "true" :
	    "false");
	fprintf(fp, "papm_max_message_size = %ld\n",
	    c->papm_max_message_size);
	print_str(fp, "", "papm_helo_domains", c->papm_helo_domains);
	print_str(fp, "", "papm_relay_command", c->papm_relay_command);
	print_str(fp, "", "tls_cert", c->tls_cert);
	print_str(fp, "", "tls_key", c->tls_key);
	print_str(fp, "", "tls_ciphers", c->tls_ciphers);
	fprintf(fp, "tls_prefer_client_ciphers = %s\n",
	    c->tls_prefer_client_ciphers ? "true" : "false");
	fprintf(fp, "proxy_timeout = %d\n", c->proxy_timeout);
	print_str(fp, "", "proxy_trusted_networks",
	    c->proxy_trusted_networks);
	for (i = 0; i < c->nlisteners; i++) {
		fputs("listen {\n", fp);
		print_str(fp, "\t", "protocol", c->listeners[i].protocol);
		if (c->listeners[i].tls)
			fputs("\ttls = true\n", fp);
		if (c->listeners[i].proxy)
			fputs("\tproxy = true\n", fp);
		if (c->listeners[i].path != NULL) {
			print_str(fp, "\t", "path", c->listeners[i].path);
			fputs("}\n", fp);
			continue;
		}
		print_str(fp, "\t", "address", c->listeners[i].address);
		fprintf(fp, "\tport = %d\n}\n", c->listeners[i].port);
	}
}

void
conf_free(struct conf *c)
{
	int	 i;

	for (i = 0; i < c->nlisteners; i++) {
		free(c->listeners[i].protocol);
		free(c->listeners[i].address);
		free(c->listeners[i].path);
	}
	free(c->listeners);
	free(c->path);
	free(c->pidfile);
	free(c->hostname);
	free(c->passwd_file);
	free(c->maildir);
	free(c->pam_service);
	free(c->apop_secrets);
	free(c->rpop_trust_file);
	free(c->pop3_implementation);
	free(c->state_dir);
	free(c->pop3_uidl_format);
	free(c->user);
	free(c->chroot);
	free(c->mail_user);
	free(c->lmtp_temp_dir);
	free(c->mrp_create_home);
	free(c->papm_helo_domains);
	free(c->papm_relay_command);
	free(c->tls_cert);
	free(c->tls_key);
	free(c->tls_ciphers);
	free(c->proxy_trusted_networks);
	free(c->proxy_nets);
	memset(c, 0, sizeof(*c));
}
