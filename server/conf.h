/*
 * conf.h: Postern's configuration, read from postern.conf(5) with
 * libconfuse.  Every setting is declared, defaulted and validated in
 * conf.c and nowhere else; the rest of the program reads struct conf.
 */
#ifndef POSTERN_CONF_H
#define POSTERN_CONF_H

#include <stdio.h>

enum plaintext_auth {
	PLAINTEXT_NEVER,	/* password logins only over TLS */
	PLAINTEXT_LOOPBACK,	/* ... or from a loopback address (default) */
	PLAINTEXT_ALWAYS,	/* anywhere: unsafe on a network */
};

struct listener_conf {
	char	*protocol;	/* a name protocol_find() knows */
	char	*address;	/* numeric IPv4 or IPv6 address */
	int	 port;		/* 0: let the kernel choose (tests) */
};

struct conf {
	char		*path;		/* the file it was read from */
	int		 workers;
	char		*pidfile;	/* "" for none */
	int		 shutdown_grace;
	char		*hostname;	/* in greetings */
	char		*passwd_file;
	char		*maildir;	/* template: %u %n %d %h */
	int		 login_timeout;
	int		 idle_timeout;
	int		 max_line;
	int		 max_bad_commands;
	int		 auth_fail_delay;
	enum plaintext_auth plaintext_auth;
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
