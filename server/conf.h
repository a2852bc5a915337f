/*
 * conf.h: Postern's configuration, read from postern.conf(5) with
 * libconfuse.  Every setting is declared, defaulted and validated in
 * conf.c and nowhere else; the rest of the program reads struct conf.
 */
#ifndef POSTERN_CONF_H
#define POSTERN_CONF_H

#include <sys/types.h>
#include <stdbool.h>
#include <stdio.h>

enum plaintext_auth {
	PLAINTEXT_NEVER,	/* password logins only over TLS */
	PLAINTEXT_LOOPBACK,	/* ... or from a loopback address (default) */
	PLAINTEXT_ALWAYS,	/* anywhere: unsafe on a network */
};

/* Where accounts and passwords come from (auth.c, auth_system.c). */
enum passdb {
	PASSDB_PASSWD_FILE,	/* passwd_file (default) */
	PASSDB_SYSTEM,		/* getpwnam(3), then PAM or shadow(5) */
};

struct listener_conf {
	char	*protocol;	/* a name protocol_find() knows */
	char	*address;	/* numeric IPv4 or IPv6 address */
	int	 port;		/* 0: let the kernel choose (tests) */
	char	*path;		/* a UNIX socket instead; NULL for TCP */
	bool	 tls;		/* TLS from the first byte (pop3s) */
	bool	 proxy;		/* a PROXY protocol header first (proxy.h) */
};

struct proxy_net;

struct conf {
	char		*path;		/* the file it was read from */
	int		 workers;	/* started, and never fewer */
	/* The worker pools and the limits (master.c, worker.c, authd.c);
	 * 0 in a limit means none. */
	int		 min_spare;	/* idle pre-login workers kept */
	int		 max_spare;	/* ... and retired above */
	int		 max_workers;	/* pre-login workers at most */
	int		 max_local_workers;	/* LMTP's unsandboxed pool */
	int		 max_sessions_per_worker;
	int		 max_connections;
	int		 max_connections_per_ip;	/* IPv6 by /64 */
	int		 max_sessions_per_user;
	int		 max_session_time;	/* seconds */
	int		 lmtp_idle_timeout;	/* seconds */
	char		*pidfile;	/* "" for none */
	int		 shutdown_grace;
	char		*hostname;	/* in greetings */
	char		*passwd_file;
	char		*maildir;	/* template: %u %n %d %h */
	char		*state_dir;	/* the global message ID counter */
	char		*pop3_uidl_format;	/* protocols/uidl.h */
	int		 login_timeout;
	int		 idle_timeout;
	int		 max_line;
	int		 max_bad_commands;
	int		 auth_fail_delay;
	enum plaintext_auth plaintext_auth;
	/* Logins (auth.c, session.c); NULL strings read as "". */
	enum passdb	 passdb;
	char		*pam_service;	/* PAM service name; "": shadow(5) */
	long		 first_valid_uid;	/* system accounts below:
						   refused */
	char		*apop_secrets;	/* user:secret file; "": no APOP */
	char		*rpop_trust_file;	/* "": no RPOP */
	int		 auth_fail_delay_max;	/* the doubling stops here */
	int		 max_auth_failures;	/* 0: no limit (tests) */
	int		 pop3_login_delay;	/* CAPA LOGIN-DELAY; 0: none */
	char		*pop3_implementation;	/* CAPA IMPLEMENTATION */
	long		 lmtp_max_message_size;	/* octets */
	char		*lmtp_temp_dir;	/* LMTP spools messages here */
	/* MRP CREATE (server/account.c): off by default. */
	bool		 mrp_create;	/* anonymous clients may create
					   accounts */
	char		*mrp_create_home;	/* their homes go under it */
	int		 mrp_create_rate;	/* accounts per client address
						   per hour */
	bool		 mrp_auth_ecb;	/* AUTH may use the ECB modes */
	/* PAPM push (protocols/papm.c); NULL strings read as "". */
	long		 papm_max_message_size;	/* octets */
	char		*papm_helo_domains;	/* HELO's accepted domains,
						   "": any */
	char		*papm_relay_command;	/* sendmail-compatible
						   program; "": no relay */
	char		*user;		/* pre-login workers run as it */
	char		*chroot;	/* ... chrooted here */
	char		*mail_user;	/* accounts naming no uid run as it */
	int		 mail_workers;	/* processes serving them in turn */
	char		*tls_cert;	/* PEM chain file; "" for no TLS */
	char		*tls_key;	/* PEM private key file */
	char		*tls_ciphers;	/* libtls cipher list: "secure" */
	bool		 tls_prefer_client_ciphers;
	/* The PROXY protocol (proxy.c): its wait, and the networks whose
	 * peers may send it, parsed from proxy_trusted_networks. */
	int		 proxy_timeout;
	char		*proxy_trusted_networks;
	struct proxy_net *proxy_nets;
	int		 nproxy_nets;

	/* Resolved at start-up by privsep_init(), not read from the file. */
	bool		 privsep;	/* started as root: separate */
	uid_t		 user_uid, mail_uid;
	gid_t		 user_gid, mail_gid;
	int		 nlisteners;
	struct listener_conf *listeners;
};

/*
 * Reads and checks path into *conf.  Returns 0, or -1 after printing each
 * problem to stderr as "file:line: reason" (or "file: reason").
 */
int	conf_load(const char *path, struct conf *conf);
/* Writes the effective settings in postern.conf syntax. */
void	conf_print(const struct conf *conf, FILE *fp);
/* Frees what conf_load allocated and zeroes *conf. */
void	conf_free(struct conf *conf);
/*
 * Whether posternd could make conf's pidfile, which -n and postern check
 * test without making it: none is set, or its directory exists and the
 * pidfile, if present, is a regular file.  Returns 0, or -1 with the
 * reason in why.
 */
int	conf_check_pidfile(const struct conf *conf, char *why, size_t len);
/* The keyword of a plaintext_auth value. */
const char *conf_plaintext_name(enum plaintext_auth);

#endif
