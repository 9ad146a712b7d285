/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * `xbd xenstored`: run the daemon on a directory until SIGINT or SIGTERM.
 * Without --foreground it detaches once the socket is ready, printing
 * the daemon's pid, so that a script can start it and use it at once.
 * The signals are blocked before the server thread starts and taken
 * with sigwait(), so no handler and no global flag are needed.
 */

#include <sys/types.h>

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "xsd_internal.h"

/* Exit codes, as the other xbd subcommands use them. */
enum xsd_exit {
	XSD_EXIT_OK = 0,
	XSD_EXIT_FAIL = 1,
	XSD_EXIT_USAGE = 2,
};

/* Long options without a 4.17 short letter. */
enum xsd_longopt {
	XSD_OPT_TXN_NODES = 256,
	XSD_OPT_OUTSTANDING,
	XSD_OPT_MEMORY,
	XSD_OPT_WATCH_EVENTS,
	XSD_OPT_DOMAIN_CONNS,
};

static void
xsd_usage(FILE *f)
{
	fprintf(f,
	    "usage: xbd xenstored --dir DIR [--foreground] [--verbose] "
	    "[quota options]\n"
	    "\n"
	    "Serve XenStore on DIR/socket (privileged) and, once a domain "
	    "is\nintroduced, on DIR/domain/<domid>.  Point Xen's tools at "
	    "it with\nXENSTORED_PATH=DIR/socket.  Without --foreground the "
	    "daemon detaches\nonce ready and prints its pid.  It stops on "
	    "SIGINT or SIGTERM.\n"
	    "\n"
	    "  -d, --dir DIR               directory of the sockets "
	    "(created)\n"
	    "  -F, --foreground            do not detach\n"
	    "  -v, --verbose               log to stderr\n"
	    "  -h, --help                  this text\n"
	    "\n"
	    "Quotas of domain connections (Xen 4.17 defaults):\n"
	    "  -E, --nodes N               nodes a domain owns (1000)\n"
	    "  -S, --entry-size N          bytes of a stored node (2048)\n"
	    "  -W, --watches N             watches of a domain (128)\n"
	    "  -t, --transactions N        open transactions per "
	    "connection (10)\n"
	    "  -A, --perms N               entries of a SET_PERMS (5)\n"
	    "  -M, --path-max N            path bytes below a domain home "
	    "(2048)\n"
	    "      --transaction-nodes N   nodes one transaction touches "
	    "(1024)\n"
	    "      --outstanding N         unread replies before reading "
	    "stops (20)\n"
	    "      --memory N              bytes of nodes, connections, "
	    "transactions\n"
	    "                              and watches (2621440)\n"
	    "      --watch-events N        pending events before a client "
	    "is dropped (1024)\n"
	    "      --domain-connections N  connections per domain socket "
	    "(32)\n");
}

static void
xsd_main_log(void *arg, const char *line)
{
	fprintf(stderr, "xenstored: %s\n", line);
}

/*
 * A positive number option (getopt's c) into an unsigned int or size_t
 * field; a refusal names the option and the range, as the other xbd
 * subcommands do.
 */
static bool
xsd_opt_num(const struct option *lopts, int c, const char *arg,
    unsigned long max, unsigned long *v)
{
	const char *name = "?";
	int i;

	if (xsd_parse_ulong(arg, max, v) == 0 && *v > 0)
		return (true);
	for (i = 0; lopts[i].name != NULL; i++)
		if (lopts[i].val == c)
			name = lopts[i].name;
	fprintf(stderr,
	    "xbd xenstored: --%s: '%s' is not a whole number in 1..%lu\n", name,
	    arg, max);
	return (false);
}

/* Detach: the parent waits for the child's "ready" byte and exits. */
static int
xsd_daemonize(int *notify)
{
	char ok = 0;
	pid_t pid;
	int p[2], fd;

	if (pipe(p) != 0)
		return (-errno);
	if ((pid = fork()) < 0)
		return (-errno);
	if (pid > 0) {
		close(p[1]);
		if (read(p[0], &ok, 1) != 1 || ok != 1)
			exit(XSD_EXIT_FAIL);
		printf("%ld\n", (long)pid);
		exit(XSD_EXIT_OK);
	}
	close(p[0]);
	(void)setsid();
	if ((fd = open("/dev/null", O_RDWR)) >= 0) {
		(void)dup2(fd, STDIN_FILENO);
		(void)dup2(fd, STDOUT_FILENO);
		if (fd > STDERR_FILENO)
			close(fd);
	}
	*notify = p[1];
	return (0);
}

/* The options' table, for getopt_long and for xsd_opt_num's messages. */
static const struct option xsd_lopts[] = {
	{ "dir", required_argument, NULL, 'd' },
	{ "foreground", no_argument, NULL, 'F' },
	{ "verbose", no_argument, NULL, 'v' },
	{ "help", no_argument, NULL, 'h' },
	{ "nodes", required_argument, NULL, 'E' },
	{ "entry-size", required_argument, NULL, 'S' },
	{ "watches", required_argument, NULL, 'W' },
	{ "transactions", required_argument, NULL, 't' },
	{ "perms", required_argument, NULL, 'A' },
	{ "path-max", required_argument, NULL, 'M' },
	{ "transaction-nodes", required_argument, NULL, XSD_OPT_TXN_NODES },
	{ "outstanding", required_argument, NULL, XSD_OPT_OUTSTANDING },
	{ "memory", required_argument, NULL, XSD_OPT_MEMORY },
	{ "watch-events", required_argument, NULL, XSD_OPT_WATCH_EVENTS },
	{ "domain-connections", required_argument, NULL, XSD_OPT_DOMAIN_CONNS },
	{ NULL, 0, NULL, 0 },
};

/* The unsigned option c's field in o, or NULL if c is not one. */
static unsigned int *
xsd_opt_field(struct xsd_opts *o, int c)
{
	switch (c) {
	case 'E':
		return (&o->o_nodes);
	case 'S':
		return (&o->o_node_size);
	case 'W':
		return (&o->o_watches);
	case 't':
		return (&o->o_transactions);
	case 'A':
		return (&o->o_perms);
	case 'M':
		return (&o->o_path_max);
	case XSD_OPT_TXN_NODES:
		return (&o->o_txn_nodes);
	case XSD_OPT_OUTSTANDING:
		return (&o->o_outstanding);
	case XSD_OPT_WATCH_EVENTS:
		return (&o->o_watch_events);
	case XSD_OPT_DOMAIN_CONNS:
		return (&o->o_domain_conns);
	default:
		return (NULL);
	}
}

/*
 * The command line into o, *dir and *fg.  Returns -1 to go on, or the
 * exit status (--help, a usage error).
 */
static int
xsd_cmd_parse(int argc, char **argv, struct xsd_opts *o, const char **dir,
    bool *fg)
{
	unsigned int *field;
	unsigned long v;
	int c;

	optind = 1;
	while ((c = getopt_long(argc, argv, "d:FvhE:S:W:t:A:M:", xsd_lopts,
		    NULL)) != -1) {
		switch (c) {
		case 'd':
			*dir = optarg;
			continue;
		case 'F':
			*fg = true;
			continue;
		case 'v':
			o->o_log = xsd_main_log;
			continue;
		case 'h':
			xsd_usage(stdout);
			return (XSD_EXIT_OK);
		case XSD_OPT_MEMORY:
			if (!xsd_opt_num(xsd_lopts, c, optarg, SIZE_MAX, &v))
				return (XSD_EXIT_USAGE);
			o->o_memory = v;
			continue;
		}
		if ((field = xsd_opt_field(o, c)) == NULL) {
			xsd_usage(stderr);
			return (XSD_EXIT_USAGE);
		}
		if (!xsd_opt_num(xsd_lopts, c, optarg, UINT_MAX, &v))
			return (XSD_EXIT_USAGE);
		*field = (unsigned int)v;
	}
	if (*dir == NULL || optind != argc) {
		xsd_usage(stderr);
		return (XSD_EXIT_USAGE);
	}
	return (-1);
}

/* Serves dir until SIGINT or SIGTERM; detached unless fg. */
static int
xsd_cmd_serve(const char *dir, const struct xsd_opts *o, bool fg)
{
	struct xsd_server *s;
	sigset_t set;
	char ready = 1;
	ssize_t w;
	int sig, rc, notify = -1;

	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	/* Blocked before the server thread exists, so it inherits it. */
	if (pthread_sigmask(SIG_BLOCK, &set, NULL) != 0)
		return (XSD_EXIT_FAIL);
	if (!fg && (rc = xsd_daemonize(&notify)) != 0) {
		fprintf(stderr, "xenstored: cannot detach: %s\n",
		    strerror(-rc));
		return (XSD_EXIT_FAIL);
	}
	if ((rc = xsd_server_start(dir, o, &s)) != 0) {
		fprintf(stderr, "xenstored: %s: %s\n", dir, strerror(-rc));
		return (XSD_EXIT_FAIL);
	}
	if (notify >= 0) {
		/* If the parent is gone there is no one to tell. */
		w = write(notify, &ready, 1);
		(void)w;
		close(notify);
	}
	do {
		rc = sigwait(&set, &sig);
	} while (rc != 0);
	xsd_server_stop(s);
	return (XSD_EXIT_OK);
}

int
xsd_cmd_main(int argc, char **argv)
{
	struct xsd_opts o;
	const char *dir = NULL;
	bool fg = false;
	int rc;

	xsd_opts_init(&o);
	if ((rc = xsd_cmd_parse(argc, argv, &o, &dir, &fg)) >= 0)
		return (rc);
	return (xsd_cmd_serve(dir, &o, fg));
}
