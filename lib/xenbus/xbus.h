/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * XenBus on libxenstore, shared by the frontend and the backend: reading
 * and writing the nodes of a device directory with strict parsing, the
 * XenbusState of each end, error reporting into the store (FreeBSD's
 * xenbus_dev_error/xenbus_dev_fatal), virtual-device names, and the
 * toolstack steps that create and remove a vbd exactly as libxl does.
 *
 * Everything a peer wrote is parsed strictly (no sign, space, junk or
 * overflow) and reported as an error, never trusted.  Functions return 0
 * or a negative errno; a missing node is -ENOENT.
 */

#ifndef XBD_XBUS_H
#define XBD_XBUS_H

#include <stdbool.h>
#include <stdint.h>

#include "../common/xen_shim.h"

/* clang-format off */
#include <xenstore.h>
/* clang-format on */

/* Longest XenStore path we build (Xen's absolute limit). */
#define XBUS_PATH_MAX 3072

/* ---------------------------------------------------------------------
 * Nodes
 */

/*
 * Read dir/node into a new NUL-terminated string (free() it).
 * \return 0, -ENOENT, -EACCES, -errno from libxenstore.
 */
int xbus_read(struct xs_handle *xs, xs_transaction_t t, const char *dir,
    const char *node, char **out);

/*
 * Read dir/node as a decimal number no larger than max.
 * \return 0, -ENOENT, -EINVAL (not a plain decimal), -ERANGE (> max).
 */
int xbus_read_u64(struct xs_handle *xs, xs_transaction_t t, const char *dir,
    const char *node, uint64_t max, uint64_t *out);

/*
 * Like xbus_read_u64, but a missing node yields def (the protocol's
 * "missing means default" rule); an unparsable one is still an error.
 */
int xbus_read_u64_def(struct xs_handle *xs, xs_transaction_t t, const char *dir,
    const char *node, uint64_t max, uint64_t def, uint64_t *out);

/* A 0/1 flag; missing yields def; anything else is -EINVAL. */
int xbus_read_bool_def(struct xs_handle *xs, xs_transaction_t t,
    const char *dir, const char *node, bool def, bool *out);

/* Write a string value to dir/node. */
int xbus_write(struct xs_handle *xs, xs_transaction_t t, const char *dir,
    const char *node, const char *val);

/* Write a formatted value to dir/node. */
int xbus_printf(struct xs_handle *xs, xs_transaction_t t, const char *dir,
    const char *node, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

/* Remove dir/node (and its subtree); a missing node is not an error. */
int xbus_rm(struct xs_handle *xs, xs_transaction_t t, const char *dir,
    const char *node);

/* Join dir and node into buf; -ENAMETOOLONG when it does not fit. */
int xbus_path(char *buf, size_t len, const char *dir, const char *node);

/* ---------------------------------------------------------------------
 * Transactions
 */

/*
 * Commits that conflict (EAGAIN) are retried this many times before
 * xbus_txn gives up: libxl's figure.
 */
#define XBUS_TXN_RETRIES 100

/* The body of a transaction: 0, or a negative errno that aborts it. */
typedef int xbus_txn_fn(struct xs_handle *xs, xs_transaction_t t, void *arg);

/*
 * Run fn(xs, t, arg) in a transaction and commit it, starting over while
 * the commit conflicts.  fn runs again on each attempt, so it must only
 * write through t.  An error of fn aborts the transaction.
 * \return 0, fn's error, -errno from libxenstore, or -EAGAIN after
 *         XBUS_TXN_RETRIES conflicts.
 */
int xbus_txn(struct xs_handle *xs, xbus_txn_fn *fn, void *arg);

/* ---------------------------------------------------------------------
 * States
 */

/*
 * The XenbusState in dir/state; XenbusStateUnknown when the node is
 * missing, unreadable or not one of the nine states.
 */
enum xenbus_state xbus_read_state(struct xs_handle *xs, const char *dir);

/*
 * The same, telling a missing node (-ENOENT: the device directory is
 * gone) from garbage (-EINVAL, -ERANGE) and other errors.
 */
int xbus_read_state_rc(struct xs_handle *xs, const char *dir,
    enum xenbus_state *state);

/* Write dir/state. */
int xbus_write_state(struct xs_handle *xs, const char *dir,
    enum xenbus_state state);

/* "Initialising", "Connected", ... ("Invalid" for anything else). */
const char *xbus_state_name(enum xenbus_state state);

/* ---------------------------------------------------------------------
 * Errors into the store
 */

/*
 * Record an error for the device at dir: dir/error = "<-err> <message>",
 * the value format of FreeBSD's and Linux's xenbus_dev_error.  Those
 * write it under the writer's own home (error/<device path>/error),
 * which needs an error directory the toolstack created for the domain;
 * the device directory is always writable by its owner and is where
 * the peer and the tools already look.  \return 0 or the store's error
 * (the report itself may be what a full store refuses: callers log it).
 */
int xbus_dev_error(struct xs_handle *xs, const char *dir, int err,
    const char *fmt, ...) __attribute__((format(printf, 4, 5)));

/* xbus_dev_error, then switch dir/state to Closing; the first error. */
int xbus_dev_fatal(struct xs_handle *xs, const char *dir, int err,
    const char *fmt, ...) __attribute__((format(printf, 4, 5)));

/* ---------------------------------------------------------------------
 * Virtual-device numbers (docs/man/xen-vbd-interface)
 */

/*
 * Parse a disk name or number: "xvda", "xvdb3", "xvdaa", "hda", "sdb",
 * "51712", "d0p1".
 * \return 0 and the virtual-device number, or -EINVAL.
 */
int xbus_vdev_parse(const char *name, uint32_t *vdev);

/*
 * The Linux-style name of a virtual-device number ("xvda", "xvdq", "hdb",
 * "sdc2"), -EINVAL for a reserved or malformed number.
 */
int xbus_vdev_name(uint32_t vdev, char *buf, size_t len);

/* ---------------------------------------------------------------------
 * The toolstack's side of a vbd (what libxl's device_disk_add writes)
 */

/* Everything the toolstack needs to create one vbd. */
struct xbus_vbd {
	uint32_t v_frontend_id; /* domain the disk appears in */
	uint32_t v_backend_id;	/* domain serving it */
	uint32_t v_vdev;	/* virtual-device number (51712 = xvda) */
	const char *v_kind;	/* backend directory kind: "vbd" or "qdisk" */
	const char *v_params;	/* what the backend opens (a path) */
	bool v_remote;		/* v_params is remote storage the backend
				   opens itself (rbd:, nbd://): the hotplug
				   step has nothing to stat, as with the
				   xbd-storage script */
	const char *v_script;	/* hotplug script, NULL for none */
	bool v_readonly;	/* mode "r" */
	bool v_cdrom;		/* device-type "cdrom" */
	bool v_removable;	/* removable "1" */
	bool v_untrusted;	/* frontend trusted "0" (XSA-403) */
	bool v_discard;		/* discard-enable "1" */
	const char *v_protocol; /* frontend protocol, NULL: not written */
	bool v_live_frontend;	/* only while the frontend domain exists */
};

/* The frontend and backend directories of a vbd. */
int xbus_vbd_paths(const struct xbus_vbd *v, char *fe, size_t felen, char *be,
    size_t belen);

/*
 * Create the vbd as libxl does: in one transaction (retried on EAGAIN)
 * the backend directory (perms n<be>,r<fe>), the frontend directory
 * (perms n<fe>,r<be>) and /libxl/<fe>/device/vbd/<devid>, both ends in
 * state Initialising.  xs must be privileged.  With v_live_frontend the
 * same transaction also reads the frontend domain's domid node and
 * fails with -ESRCH when it is gone: a vbd made for a domain that just
 * died would otherwise make its home again, owned by dom0.
 */
int xbus_vbd_add(struct xs_handle *xs, const struct xbus_vbd *v);

/*
 * The hotplug step libxl runs after creating a vbd, as Xen's block script
 * does it: wait up to timeout_ms for the backend to reach InitWait, then
 * write physical-device (major:minor in hex, block devices only),
 * physical-device-path and hotplug-status = "connected"; on failure
 * hotplug-error and hotplug-status = "error".  Nothing for a qdisk
 * backend, which libxl does not hotplug either.  A v_remote target is
 * not stat'ed: only hotplug-status is written, as dist/xbd-storage
 * does.
 * \return 0, -ETIMEDOUT, -ESRCH (v_live_frontend, and the frontend
 *         domain died meanwhile), or the errno of stat(params).
 */
int xbus_vbd_hotplug(struct xs_handle *xs, const struct xbus_vbd *v,
    unsigned int timeout_ms);

/*
 * Is the vbd there as v describes it (same params), its hotplug step
 * done?  Then a backend that died left it, and the next one may take it
 * over instead of creating it again under its frontend.
 */
bool xbus_vbd_exists(struct xs_handle *xs, const struct xbus_vbd *v);

/* How long libxl waits for a new backend to reach InitWait. */
#define XBUS_INIT_TIMEOUT_MS 10000

/*
 * Remove the vbd as libxl does: backend online=0 and state=Closing in one
 * transaction, wait up to timeout_ms for the backend to reach Closed,
 * then delete the three directories.  With force, or when the wait
 * times out, the directories are deleted anyway.
 * \return 0, or -ETIMEDOUT when the backend never closed (the directories
 *         are gone either way).
 */
int xbus_vbd_remove(struct xs_handle *xs, const struct xbus_vbd *v,
    unsigned int timeout_ms, bool force);

/*
 * Wait until dir/state satisfies pred (called with each state seen) or
 * timeout_ms passes.  It polls rather than watches, so that it never
 * consumes watch events meant for whoever else uses xs.
 * \return 0 or -ETIMEDOUT.
 */
int xbus_wait_state(struct xs_handle *xs, const char *dir,
    bool (*pred)(enum xenbus_state, void *), void *arg,
    unsigned int timeout_ms);

#endif /* XBD_XBUS_H */
