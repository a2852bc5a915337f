/*
 * limits.h: every built-in limit of Postern, with its default and why.
 * Settings that an admin may change live in conf.c; these are the hard
 * bounds those settings are checked against, and sizes of fixed buffers.
 */
#ifndef POSTERN_LIMITS_H
#define POSTERN_LIMITS_H

#include <sys/types.h>

/* A user name: RFC 1939 asks for nothing; Dovecot allows 255. */
#define USER_MAX		255

/* A password or secret as typed; longer input is refused, not cut. */
#define PASSWORD_MAX		1024

/* Command lines: RFC 2449 says 255 octets; popa3d takes 128, Dovecot 2048.
 * The default leaves room for SASL initial responses. */
#define LINE_DEFAULT		512
#define LINE_MIN		64
#define LINE_MAX_BOUND		65536

/*
 * Lines of message text (LMTP and PAPM DATA) may be this long: RFC 5321
 * section 4.5.3.1.6 allows 1000 octets with the CRLF; the rest is slack
 * for mailers that ignore it.  A message with a longer line is refused
 * whole, never cut.  Command lines stay within max_line_length.
 */
#define MESSAGE_LINE_MAX	LINE_MAX_BOUND

/* The output buffer: one large write per burst of replies or per 64 KiB
 * of message text, never a write per line. */
#define IO_OUTBUF		65536

/* Reading a message from disk. */
#define IO_FILEBUF		65536

/* Timeouts in seconds.  RFC 1939 section 3: the autologout timer in the
 * TRANSACTION state is at least 10 minutes. */
#define LOGIN_TIMEOUT_DEFAULT	60
#define IDLE_TIMEOUT_DEFAULT	600
#define IDLE_TIMEOUT_MIN	600
#define TIMEOUT_MAX		86400

/* Bad commands before the session is closed (Dovecot: 20). */
#define BAD_COMMANDS_DEFAULT	20

/* Seconds before answering a failed login (Dovecot: 2). */
#define AUTH_FAIL_DELAY_DEFAULT	2
#define AUTH_FAIL_DELAY_MAX	60

/* The failure delay doubles with each failure of a connection up to
 * auth_fail_delay_max seconds; after max_auth_failures failures the
 * connection is closed (Dovecot drops a client after 3 bad commands). */
#define AUTH_FAIL_DELAY_CAP_DEFAULT	15
#define AUTH_FAILURES_DEFAULT	3
#define AUTH_FAILURES_MAX	100

/* System accounts below this uid never log in (Debian's first user id;
 * Dovecot's first_valid_uid). */
#define FIRST_VALID_UID_DEFAULT	1000

/* Lines of the apop_secrets and rpop_trust_file files; longer ones are
 * skipped and logged. */
#define AUTH_FILE_LINE_MAX	4096

/* Workers pre-forked by the master (the pool's floor, `workers`), the
 * idle ones it keeps ready and retires (Apache's MinSpareServers and
 * MaxSpareServers are 5 and 10), and the most it runs (Apache's
 * MaxRequestWorkers: 256).  A worker starts afresh after this many
 * connections, bounding what a leak can cost (0: never). */
#define WORKERS_DEFAULT		4
#define WORKERS_MAX		1024
#define MIN_SPARE_DEFAULT	2
#define MAX_SPARE_DEFAULT	10
#define MAX_WORKERS_DEFAULT	256
#define SESSIONS_PER_WORKER_DEFAULT 1000

/* Unsandboxed workers for LMTP: Postfix delivers over at most 20
 * connections to one destination by default. */
#define LOCAL_WORKERS_DEFAULT	20
#define LOCAL_WORKERS_MAX	256

/* Connections at once (popa3d: 100 in all, 10 per source; Dovecot: 10
 * per user and address), and sessions of one user at once.  Each
 * logged-in session is a process, hence the cap. */
#define CONNECTIONS_DEFAULT	1000
#define CONNECTIONS_MAX		65536
#define CONNECTIONS_PER_IP_DEFAULT 10
#define SESSIONS_PER_USER_DEFAULT 10

/* The longest session, in seconds: 4 hours fetch 2 GB at 1 Mbit/s. */
#define SESSION_TIME_DEFAULT	14400
#define SESSION_TIME_MAX	604800

/* LMTP waits this long for a line (RFC 5321 section 4.5.3.2.7: a
 * server waits at least 5 minutes for the next command). */
#define LMTP_IDLE_TIMEOUT_DEFAULT 300

/* Seconds busy workers get to finish after SIGTERM. */
#define SHUTDOWN_GRACE_DEFAULT	10

/* Messages in one maildrop (popa3d: 200000); more are not listed and
 * the login says so in the log. */
#define MAILDROP_MESSAGES_MAX	1000000

/* The largest message size believed from a name's ,W= or ,S= or from the
 * index (1 TiB): larger claims are ignored and the file counted, so that
 * the sum over MAILDROP_MESSAGES_MAX messages can never overflow. */
#define MAIL_SIZE_MAX		((off_t)1 << 40)

/* Files in tmp/ untouched this long are removed (maildir(5): 36 hours). */
#define MAILDIR_TMP_STALE	(36 * 60 * 60)

/* tmp/ is scanned for them when a session opens the Maildir at most
 * this often; its access time records the last scan (as Dovecot does). */
#define MAILDIR_TMP_SCAN	(8 * 60 * 60)

/* Listeners in one configuration. */
#define LISTENERS_MAX		64

/* Milliseconds a session's end waits to send the TLS close_notify when
 * the client does not read: the worker must move on. */
#define TLS_CLOSE_WAIT_MS	1000

/* UIDL: RFC 1939 section 7, 1 to 70 characters 0x21-0x7E. */
#define UIDL_MAX		70

#endif
