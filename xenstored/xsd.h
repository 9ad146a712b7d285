/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * xsd: the XenStore daemon of the simulated platform.  It speaks the
 * XenStore wire protocol of Xen 4.17's C xenstored on unix sockets, so
 * that libxenstore and Xen's own xenstore-* tools use it unchanged
 * (through XENSTORED_PATH).  Identity comes from the socket: DIR/socket
 * is the privileged toolstack socket, DIR/domain/<domid> (created by
 * XS_INTRODUCE) acts as that unprivileged domain.
 *
 * This header is the whole public API: options, start, stop, and the
 * `xbd xenstored` command.  The core behind it is in xsd_internal.h.
 */

#ifndef XBD_XSD_H
#define XBD_XSD_H

#include <stddef.h>

/*
 * Options of a daemon instance.  The quotas apply only to unprivileged
 * (domain) connections, as in C xenstored; their defaults are Xen 4.17's.
 * Fields are only ever added at the end; o_size tells which exist.
 */
struct xsd_opts {
	size_t o_size;		     /* sizeof(struct xsd_opts) */
	unsigned int o_nodes;	     /* nodes a domain may own (-E, 1000) */
	unsigned int o_node_size;    /* bytes of one stored record (-S, 2048) */
	unsigned int o_watches;	     /* watches per domain (-W, 128) */
	unsigned int o_transactions; /* open transactions per conn (-t, 10) */
	unsigned int o_perms;	     /* entries per SET_PERMS (-A, 5) */
	unsigned int o_path_max;     /* path bytes below a domain home (-M) */
	unsigned int o_txn_nodes;    /* nodes one transaction may touch */
	unsigned int o_outstanding;  /* unread replies before we stop reading */
	size_t o_memory; /* bytes of transactions + watches/domain */
	unsigned int
	    o_watch_events; /* pending events before a conn is dropped */
	unsigned int o_domain_conns; /* connections per domain socket */
	/* Called with one line of diagnostics (no newline); NULL: silent. */
	void (*o_log)(void *arg, const char *line);
	void *o_log_arg; /* passed to o_log */
};

struct xsd_server;

/* Fill *o with the Xen 4.17 defaults (and o_size). */
void xsd_opts_init(struct xsd_opts *o);

/*
 * Create DIR (if missing) and the privileged socket DIR/socket, and serve
 * them on a thread of our own.
 * \param dir  directory of the sockets; DIR/socket must fit a sun_path
 * \param o    options, or NULL for the defaults; copied
 * \param out  the new server, to be passed to xsd_server_stop()
 * \return 0, -EINVAL (bad options), -ENAMETOOLONG, -EADDRINUSE (another
 *         daemon answers on DIR/socket), -ENOMEM, or the errno of a
 *         failed mkdir/socket/bind/listen/epoll/pthread call.
 */
int xsd_server_start(const char *dir, const struct xsd_opts *o,
    struct xsd_server **out);

/*
 * Stop serving: join the thread, close every socket, remove DIR/socket
 * and the DIR/domain/<domid> sockets, free everything.  NULL is a no-op.
 */
void xsd_server_stop(struct xsd_server *s);

/*
 * `xbd xenstored --dir DIR [--foreground] [quota options]`: serve until
 * SIGINT or SIGTERM.  argv[0] is the subcommand name.
 * \return the process exit code (0, 1 failure, 2 usage).
 */
int xsd_cmd_main(int argc, char **argv);

#endif /* XBD_XSD_H */
