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
};

struct conf {
	char		*path;		/* the file it was read from */
	int		 workers;
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
	char		*user;		/* pre-login workers run as it */
	char		*chroot;	/* ... chrooted here */
	char		*mail_user;	/* accounts naming no uid run as it */
	char		*tls_cert;	/* PEM chain file; "" for no TLS */
	char		*tls_key;	/* PEM private key file */
	char		*tls_ciphers;	/* libtls cipher list: "secure" */
	bool		 tls_prefer_client_ciphers;

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
/* The keyword of a plaintext_auth value. */
const char *conf_plaintext_name(enum plaintext_auth);

#endif
