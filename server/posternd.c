/*
 * posternd.c: main() of the daemon.  Reads the options and the
 * configuration, binds the listeners, writes the pidfile, goes into the
 * background unless told not to, and hands over to the master.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <sysexits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <libutil.h>

#include "server/conf.h"
#include "server/limits.h"
#include "server/log.h"
#include "server/master.h"
#include "server/privsep.h"
#include "storage/msgid.h"
#include "server/tls.h"

#ifndef SYSCONFDIR
#define SYSCONFDIR	"/etc"
#endif
#define CONF_DEFAULT	SYSCONFDIR "/postern/postern.conf"

extern char **environ;

static struct pidfh *pfh;

/* usage: the options, then exit EX_USAGE. */
static void __attribute__((noreturn))
usage(void)
{
	fprintf(stderr, "usage: posternd [-fnv] [-c file]\n");
	exit(EX_USAGE);
}

/* close_pidfile: in a worker, the pidfile belongs to the master. */
static void
close_pidfile(void)
{
	if (pfh != NULL)
		pidfile_close(pfh);
	pfh = NULL;
}

/*
 * prepare_state: as root, makes the global message-ID counter root's,
 * mode 0600.  Session processes and mail workers open it before they
 * give up root (authd.c), as its owner, which needs no CAP_DAC_OVERRIDE
 * (contrib/posternd.service gives none), and no account's uid can
 * write it.
 */
static void
prepare_state(const struct conf *conf)
{
	if (!conf->privsep)
		return;
	if (msgid_prepare(conf->state_dir, 0, 0, 0600) == -1)
		log_warnx("%s: sessions will not allocate global message IDs",
		    conf->state_dir);
}

/* open_pidfile: creates and locks the pidfile, or exits if in use. */
static void
open_pidfile(const char *path)
{
	pid_t	 other;

	if (path[0] == '\0')
		return;
	pfh = pidfile_open(path, 0644, &other);
	if (pfh == NULL) {
		if (errno == EEXIST)
			fatalx("already running as pid %ld (%s)", (long)other,
			    path);
		fatal("pidfile %s", path);
	}
}

int
main(int argc, char *argv[])
{
	struct conf	 conf;
	struct listener	 l[LISTENERS_MAX];
	const char	*path = CONF_DEFAULT;
	char		 why[PATH_MAX + 128];
	int		 ch, foreground = 0, check = 0, verbose = 0, nl, rc;

#ifdef HAVE_LIBBSD
	setproctitle_init(argc, argv, environ);
#endif
	while ((ch = getopt(argc, argv, "c:fnv")) != -1) {
		switch (ch) {
		case 'c':
			path = optarg;
			break;
		case 'f':
			foreground = 1;
			break;
		case 'n':
			check = 1;
			break;
		case 'v':
			verbose = 1;
			break;
		default:
			usage();
		}
	}
	if (optind != argc)
		usage();
	if (conf_load(path, &conf) != 0)
		exit(1);
	/* The TLS certificate and key are read into memory now, before the
	 * workers fork and chroot; one that does not load fails -n too. */
	if (tls_load(&conf) == -1)
		exit(1);
	if (check) {
		if (privsep_check(&conf, why, sizeof(why)) == -1 ||
		    conf_check_pidfile(&conf, why, sizeof(why)) == -1) {
			fprintf(stderr, "%s: %s\n", path, why);
			exit(1);
		}
		conf_print(&conf, stdout);
		tls_unload();
		conf_free(&conf);
		exit(0);
	}
	/* Until it detaches, the daemon reports on stderr too. */
	log_init("posternd", 1);
	log_verbose(verbose);
	if (privsep_init(&conf) == -1)
		exit(1);
	prepare_state(&conf);
	open_pidfile(conf.pidfile);
	if ((nl = master_listen(&conf, l)) == -1) {
		if (pfh != NULL)
			pidfile_remove(pfh);
		exit(1);
	}
	if (!foreground) {
		if (daemon(0, 0) == -1)
			fatal("daemon");
		log_init("posternd", 0);
	}
	if (pfh != NULL)
		pidfile_write(pfh);
	rc = master_run(&conf, l, nl, close_pidfile);
	if (pfh != NULL)
		pidfile_remove(pfh);
	conf_free(&conf);
	return rc;
}
