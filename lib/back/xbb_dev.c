/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * A device's life: reading the toolstack's configuration, opening the
 * storage, the XenBus state machine, online resize and release.  Every
 * function runs on the control thread with bk_lock held.
 *
 * The state machine is level-triggered: each watch event re-reads the
 * frontend's state and our own directory and moves the device until it
 * settles, so coalesced watch events (a state we never saw) do no harm.
 *
 *   NEW --configured--> INITWAIT --frontend Initialised/Connected--> CONNECTED
 *    |                    |                                         |
 *    | bad config         | frontend Closing       frontend Closing, a ring
 *    v                    v                        broke (fatal), or gone
 *   CLOSING <------------------------------------------------------+
 *    |  serves on until the frontend is Closed: never tears down under
 *    |  a Connected frontend (FreeBSD's rule), nor a Closing one that
 *    |  may still be finishing its I/O (Linux's)
 *    v  frontend Closed, gone or re-initialising: rings torn down
 *   CLOSED --online=1, frontend Initialising again--> INITWAIT
 *    |
 *    v  online=0
 *   RELEASED (storage closed; forgotten when the toolstack removes the
 *             directory)
 *
 * Published at InitWait: feature-flush-cache, feature-barrier,
 * feature-discard (+ discard-granularity, discard-alignment,
 * discard-secure), feature-persistent, feature-max-indirect-segments,
 * max-ring-page-order, max-ring-pages (deprecated twin),
 * multi-queue-max-queues.  Published at Connected, in the same
 * transaction as the state: sectors (512-byte units), info,
 * sector-size, physical-sector-size.
 *
 * Only our own directory is trusted (the toolstack made it, the guest
 * cannot write it): the frontend's path and domain come from there, and
 * frontend-id must match the domain in our path (B26).
 */

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "xbb_internal.h"
#include "xenbus/xbus.h"

/* ---------------------------------------------------------------------
 * Store helpers
 */

typedef int xbb_txn_fn(struct xbb_dev *dev, xs_transaction_t t);

/* An xbb_txn: the function and its device. */
struct xbb_txn_call {
	struct xbb_dev *tc_dev; /* the device */
	xbb_txn_fn *tc_fn;	/* what to do in the transaction */
};

/* The body of xbb_txn's transaction: check the directory, then fn. */
static int
xbb_txn_body(struct xs_handle *xs, xs_transaction_t t, void *arg)
{
	struct xbb_txn_call *tc = arg;
	char *v;
	int rc;

	if ((rc = xbus_read(xs, t, tc->tc_dev->xb_bepath, NULL, &v)) != 0)
		return (rc);
	free(v);
	return (tc->tc_fn(tc->tc_dev, t));
}

/*
 * Run fn in a transaction that first checks our directory still exists,
 * so that a write never resurrects a directory the toolstack removed.
 * \return 0, -ENOENT (directory gone), or fn's / libxenstore's error.
 */
static int
xbb_txn(struct xbb_dev *dev, xbb_txn_fn *fn)
{
	struct xbb_txn_call tc = { dev, fn };

	return (xbus_txn(dev->xb_bk->bk_xs, xbb_txn_body, &tc));
}

static int
xbb_state_fn(struct xbb_dev *dev, xs_transaction_t t)
{
	return (xbus_printf(dev->xb_bk->bk_xs, t, dev->xb_bepath, "state", "%d",
	    (int)dev->xb_written));
}

/* Write our XenbusState (unless our directory is gone). */
static void
xbb_set_state(struct xbb_dev *dev, enum xenbus_state st)
{
	int rc;

	dev->xb_written = st;
	if ((rc = xbb_txn(dev, xbb_state_fn)) != 0 && rc != -ENOENT)
		xbb_log(dev->xb_bk, "vbd %u/%u: writing state %s: %s",
		    dev->xb_feid, dev->xb_vdev, xbus_state_name(st),
		    strerror(-rc));
}

/*
 * xbus_dev_fatal, unless the directory is already gone.  A storage
 * kind's message may already end with the errno's text: not twice.
 */
void
xbb_dev_fatal(struct xbb_dev *dev, int err, const char *what)
{
	const char *es = strerror(err < 0 ? -err : err);
	size_t wl = strlen(what), el = strlen(es);
	bool said = wl >= el && strcmp(what + wl - el, es) == 0;
	char *v;
	int rc;

	xbb_log(dev->xb_bk, "vbd %u/%u: %s%s%s", dev->xb_feid, dev->xb_vdev,
	    what, said ? "" : ": ", said ? "" : es);
	/* Our directory gone: nothing to report the error in. */
	if (xbus_read(dev->xb_bk->bk_xs, XBT_NULL, dev->xb_bepath, NULL, &v) !=
	    0)
		return;
	free(v);
	dev->xb_written = XenbusStateClosing;
	/* The peer and the toolstack only see what the store took. */
	if ((rc = xbus_dev_fatal(dev->xb_bk->bk_xs, dev->xb_bepath, err, "%s",
		 what)) != 0)
		xbb_log(dev->xb_bk,
		    "vbd %u/%u: writing the error and Closing: %s",
		    dev->xb_feid, dev->xb_vdev, strerror(-rc));
}

/* ---------------------------------------------------------------------
 * Configuration
 */

static int
xbb_watch_frontend(struct xbb_dev *dev)
{
	size_t len = strlen(dev->xb_fepath) + sizeof("/state");

	free(dev->xb_fewatch);
	if ((dev->xb_fewatch = malloc(len)) == NULL)
		return (-ENOMEM);
	snprintf(dev->xb_fewatch, len, "%s/state", dev->xb_fepath);
	errno = 0;
	if (!xs_watch(dev->xb_bk->bk_xs, dev->xb_fewatch, XBB_FE_TOKEN))
		return (errno != 0 ? -errno : -EIO);
	dev->xb_watching = true;
	return (0);
}

static void
xbb_unwatch_frontend(struct xbb_dev *dev)
{
	if (dev->xb_watching)
		(void)xs_unwatch(dev->xb_bk->bk_xs, dev->xb_fewatch,
		    XBB_FE_TOKEN);
	dev->xb_watching = false;
}

/* Open the storage named by `params` and publish its size. */
static int
xbb_dev_open_store(struct xbb_dev *dev, const char **why)
{
	const struct xbb_opts *o = &dev->xb_bk->bk_opts;
	struct xbb_store_cfg cfg;
	char *params;
	int rc;

	*why = "reading params";
	if ((rc = xbus_read(dev->xb_bk->bk_xs, XBT_NULL, dev->xb_bepath,
		 "params", &params)) != 0)
		return (rc);
	*why = "params too long";
	if (strlen(params) >= XBB_PARAMS_MAX || params[0] == '\0') {
		free(params);
		return (-ENAMETOOLONG);
	}
	memset(&cfg, 0, sizeof(cfg));
	cfg.sc_path = params;
	cfg.sc_readonly = dev->xb_readonly;
	cfg.sc_direct = o->o_direct;
	cfg.sc_sector_size = o->o_sector_size;
	cfg.sc_secure = o->o_discard_secure;
	cfg.sc_timeout_s = o->o_nbd_timeout_s;
	cfg.sc_wait = true;
	cfg.sc_log = o->o_log;
	cfg.sc_log_arg = o->o_log_arg;
	*why = "opening params";
	rc = xbb_store_open(&dev->xb_store, &cfg);
	free(params);
	if (rc != 0) {
		/* A remote target's own words name it and what failed. */
		if (dev->xb_store.so_err[0] != '\0')
			*why = dev->xb_store.so_err;
		dev->xb_open_err = rc;
		return (rc);
	}
	/* A snapshot, a read-only server: served read-only whatever mode
	   says, so that writes are refused here and not by the storage. */
	dev->xb_readonly = dev->xb_readonly || dev->xb_store.so_readonly;
	atomic_store(&dev->xb_sectors,
	    dev->xb_store.so_bytes >> XBD_SECTOR_SHIFT);
	if (dev->xb_store.so_cut != 0)
		xbb_log(dev->xb_bk,
		    "vbd %u/%u: the last %u bytes of the storage are not a "
		    "whole sector and are not served",
		    dev->xb_feid, dev->xb_vdev, dev->xb_store.so_cut);
	return (0);
}

/*
 * Read what the toolstack wrote.  -EAGAIN: the directory is not complete
 * yet (a toolstack that does not use a transaction): try again later.
 */
static int
xbb_dev_configure(struct xbb_dev *dev, const char **why)
{
	struct xs_handle *xs = dev->xb_bk->bk_xs;
	char *v = NULL;
	uint64_t id;
	int rc;

	/* Idempotent: a configuration found incomplete is read again. */
	if (dev->xb_fepath == NULL) {
		*why = "reading frontend";
		rc = xbus_read(xs, XBT_NULL, dev->xb_bepath, "frontend",
		    &dev->xb_fepath);
		if (rc == -ENOENT)
			return (-EAGAIN);
		if (rc != 0)
			return (rc);
	}
	*why = "frontend is not an absolute path";
	if (dev->xb_fepath[0] != '/' ||
	    strlen(dev->xb_fepath) >= XBUS_PATH_MAX - 64)
		return (-EINVAL);
	*why = "frontend-id does not match the directory";
	rc = xbus_read_u64(xs, XBT_NULL, dev->xb_bepath, "frontend-id",
	    DOMID_FIRST_RESERVED - 1, &id);
	if (rc == 0 && id != dev->xb_feid)
		rc = -EINVAL;
	if (rc != 0)
		return (rc);
	/* Watch first: even a device we cannot serve must see it close. */
	*why = "watching the frontend";
	if (!dev->xb_watching && (rc = xbb_watch_frontend(dev)) != 0)
		return (rc);
	*why = "reading mode";
	if ((rc = xbus_read(xs, XBT_NULL, dev->xb_bepath, "mode", &v)) != 0)
		return (rc == -ENOENT ? -EAGAIN : rc);
	/* libxl writes "r" or "w" ("w!" forces sharing): first letter. */
	*why = "mode is neither r nor w";
	rc = v[0] == 'r' || v[0] == 'w' ? 0 : -EINVAL;
	dev->xb_readonly = v[0] == 'r';
	free(v);
	if (rc != 0)
		return (rc);
	dev->xb_cdrom = false;
	if (xbus_read(xs, XBT_NULL, dev->xb_bepath, "device-type", &v) == 0) {
		dev->xb_cdrom = strcmp(v, "cdrom") == 0;
		free(v);
	}
	*why = "reading removable";
	if ((rc = xbus_read_bool_def(xs, XBT_NULL, dev->xb_bepath, "removable",
		 false, &dev->xb_removable)) != 0)
		return (rc);
	*why = "reading discard-enable";
	if ((rc = xbus_read_bool_def(xs, XBT_NULL, dev->xb_bepath,
		 "discard-enable", true, &dev->xb_discard_enable)) != 0)
		return (rc);
	return (xbb_dev_open_store(dev, why));
}

/* ---------------------------------------------------------------------
 * Publishing
 */

unsigned int
xbb_dev_max_queues(const struct xbb_dev *dev)
{
	unsigned int n = dev->xb_bk->bk_opts.o_max_queues;
	unsigned int m = dev->xb_store.so_max_rings;

	return (m != 0 && m < n ? m : n);
}

static bool
xbb_dev_discard(const struct xbb_dev *dev)
{
	return (dev->xb_bk->bk_opts.o_discard && dev->xb_discard_enable &&
	    dev->xb_store.so_discard && !dev->xb_readonly);
}

static int
xbb_features_fn(struct xbb_dev *dev, xs_transaction_t t)
{
	const struct xbb_opts *o = &dev->xb_bk->bk_opts;
	struct xs_handle *xs = dev->xb_bk->bk_xs;
	const char *be = dev->xb_bepath;
	bool discard = xbb_dev_discard(dev);
	int rc;

	if ((rc = xbus_printf(xs, t, be, "feature-flush-cache", "%d",
		 o->o_flush && dev->xb_store.so_flush)) != 0 ||
	    (rc = xbus_printf(xs, t, be, "feature-barrier", "%d",
		 o->o_barrier && dev->xb_store.so_flush)) != 0 ||
	    (rc = xbus_printf(xs, t, be, "feature-discard", "%d", discard)) !=
		0 ||
	    (rc = xbus_printf(xs, t, be, "feature-persistent", "%d",
		 o->o_persistent && !o->o_grant_copy &&
		     o->o_max_persistent > 0)) != 0 ||
	    (rc = xbus_printf(xs, t, be, "max-ring-page-order", "%u",
		 o->o_max_ring_page_order)) != 0 ||
	    (rc = xbus_printf(xs, t, be, "max-ring-pages", "%u",
		 1u << o->o_max_ring_page_order)) != 0 ||
	    (rc = xbus_printf(xs, t, be, "multi-queue-max-queues", "%u",
		 xbb_dev_max_queues(dev))) != 0)
		return (rc);
	/* Only a backend that implements op 6 may publish the node. */
	if (o->o_max_indirect_segs > 0)
		rc = xbus_printf(xs, t, be, "feature-max-indirect-segments",
		    "%u", o->o_max_indirect_segs);
	else
		rc = xbus_rm(xs, t, be, "feature-max-indirect-segments");
	if (rc != 0)
		return (rc);
	if (discard) {
		if ((rc = xbus_printf(xs, t, be, "discard-granularity", "%u",
			 dev->xb_store.so_discard_gran)) != 0 ||
		    (rc = xbus_write(xs, t, be, "discard-alignment", "0")) !=
			0 ||
		    (rc = xbus_printf(xs, t, be, "discard-secure", "%d",
			 dev->xb_store.so_discard_secure)) != 0)
			return (rc);
	}
	/* A fresh start: the last connection's error no longer applies. */
	if ((rc = xbus_rm(xs, t, be, "error")) != 0)
		return (rc);
	return (xbus_printf(xs, t, be, "state", "%d", XenbusStateInitWait));
}

static int
xbb_connected_fn(struct xbb_dev *dev, xs_transaction_t t)
{
	struct xs_handle *xs = dev->xb_bk->bk_xs;
	const char *be = dev->xb_bepath;
	unsigned int info = 0;
	int rc;

	if (dev->xb_readonly)
		info |= VDISK_READONLY;
	if (dev->xb_cdrom)
		info |= VDISK_CDROM;
	if (dev->xb_removable)
		info |= VDISK_REMOVABLE;
	if ((rc = xbus_printf(xs, t, be, "sectors", "%llu",
		 (unsigned long long)atomic_load(&dev->xb_sectors))) != 0 ||
	    (rc = xbus_printf(xs, t, be, "info", "%u", info)) != 0 ||
	    (rc = xbus_printf(xs, t, be, "sector-size", "%u",
		 dev->xb_store.so_sector_size)) != 0 ||
	    (rc = xbus_printf(xs, t, be, "physical-sector-size", "%u",
		 dev->xb_store.so_phys_size)) != 0)
		return (rc);
	return (xbus_printf(xs, t, be, "state", "%d", XenbusStateConnected));
}

/* Storage open, features out, InitWait. */
static void
xbb_dev_prepare(struct xbb_dev *dev)
{
	const char *why = "publishing features";
	int rc = 0;

	/* Reported once already (the `error` node stays): no retry loop. */
	if (dev->xb_open_err != 0)
		return;
	if (!xbb_store_is_open(&dev->xb_store))
		rc = xbb_dev_open_store(dev, &why);
	if (rc == 0 && (rc = xbb_txn(dev, xbb_features_fn)) == 0) {
		dev->xb_written = XenbusStateInitWait;
		dev->xb_state = XBB_DEV_INITWAIT;
		return;
	}
	xbb_dev_fatal(dev, rc, why);
	dev->xb_state = XBB_DEV_CLOSING;
}

/* Requests a resume re-executes, over every ring. */
static unsigned int
xbb_dev_replays(const struct xbb_dev *dev)
{
	unsigned int i, n = 0;

	for (i = 0; i < dev->xb_nrings; i++)
		n += dev->xb_rings[i].rg_replay.sr_count;
	return (n);
}

/*
 * A vbd found Connected on both sides when we first look at it was
 * served by a backend that stopped or died (a restart, an upgrade).
 * Linux blkfront takes Closing under an open disk as its end, and
 * Connected after a protocol error as a new disk (a kernel BUG), so
 * the rings are taken over without a state change.
 */
static bool
xbb_dev_resumable(const struct xbb_dev *dev)
{
	struct xs_handle *xs = dev->xb_bk->bk_xs;

	/* Read here: the frontend's path is known only once configured. */
	return (xbus_read_state(xs, dev->xb_fepath) == XenbusStateConnected &&
	    xbus_read_state(xs, dev->xb_bepath) == XenbusStateConnected);
}

/* Publish the size again if the storage changed while nobody served. */
static int
xbb_dev_size_check(struct xbb_dev *dev)
{
	uint64_t v;
	int rc;

	rc = xbus_read_u64(dev->xb_bk->bk_xs, XBT_NULL, dev->xb_bepath,
	    "sectors", UINT64_MAX, &v);
	if (rc == 0 && v == atomic_load(&dev->xb_sectors))
		return (0);
	return (xbb_txn(dev, xbb_connected_fn));
}

/*
 * Frontend ready: rings up, size out, Connected.  Resuming a vbd another
 * backend served (xbb_dev_resumable) writes no state, and the size only
 * if the storage changed while nobody served it.
 */
static void
xbb_dev_connect(struct xbb_dev *dev, bool resume)
{
	int rc;

	if (xbb_connect(dev, resume) != 0) {
		/* xbb_connect wrote the error and Closing. */
		dev->xb_state = XBB_DEV_CLOSING;
		return;
	}
	rc = resume ? xbb_dev_size_check(dev) : xbb_txn(dev, xbb_connected_fn);
	if (rc != 0 && !resume) {
		xbb_dev_fatal(dev, rc, "publishing the disk");
		dev->xb_state = XBB_DEV_CLOSING;
		return;
	}
	if (rc != 0)
		xbb_log(dev->xb_bk, "vbd %u/%u: publishing the size: %s",
		    dev->xb_feid, dev->xb_vdev, strerror(-rc));
	dev->xb_written = XenbusStateConnected;
	dev->xb_state = XBB_DEV_CONNECTED;
	if (resume)
		xbb_log(dev->xb_bk,
		    "vbd %u/%u: resumed: %u ring(s) of %u page(s), %u "
		    "request(s) to re-execute",
		    dev->xb_feid, dev->xb_vdev, dev->xb_nrings, dev->xb_npages,
		    xbb_dev_replays(dev));
	else
		xbb_log(dev->xb_bk,
		    "vbd %u/%u: connected: %u ring(s) of %u page(s), %s%s, "
		    "%llu sectors",
		    dev->xb_feid, dev->xb_vdev, dev->xb_nrings, dev->xb_npages,
		    dev->xb_abi == XRING_ABI_X86_32 ? "x86_32" : "native",
		    dev->xb_persistent ? ", persistent grants" : "",
		    (unsigned long long)atomic_load(&dev->xb_sectors));
}

/* Report rings their threads found broken, once each. */
static bool
xbb_dev_check_rings(struct xbb_dev *dev)
{
	char msg[64];
	unsigned int i;
	bool broken = false;

	for (i = 0; i < dev->xb_nrings; i++) {
		if (!atomic_load(&dev->xb_rings[i].rg_broken) ||
		    dev->xb_rings[i].rg_reported)
			continue;
		dev->xb_rings[i].rg_reported = true;
		snprintf(msg, sizeof(msg), "ring %u: bad request producer", i);
		xbb_dev_fatal(dev, -EIO, msg);
		broken = true;
	}
	return (broken);
}

/*
 * The frontend's level above our directory, if no other vbd of that
 * frontend is there (in one transaction: one made meanwhile is a
 * conflict).
 */
static int
xbb_dev_remove_up_fn(struct xs_handle *xs, xs_transaction_t t, void *arg)
{
	const char *up = arg;
	unsigned int n;
	char **kids;

	if ((kids = xs_directory(xs, t, up, &n)) == NULL)
		return (0);
	free(kids);
	return (n == 0 ? xbus_rm(xs, t, up, NULL) : 0);
}

/*
 * A driver domain's part of the removal (o_remove_closed), as `xl devd`
 * does it: our directory, then the level above if empty.  The toolstack
 * made that level with its own permissions, which may not let us: best
 * effort there, as for xl devd.
 */
static void
xbb_dev_remove_dir(struct xbb_dev *dev)
{
	struct xs_handle *xs = dev->xb_bk->bk_xs;
	char up[sizeof(dev->xb_bepath)];
	int rc;

	if ((rc = xbus_rm(xs, XBT_NULL, dev->xb_bepath, NULL)) != 0 &&
	    rc != -ENOENT) {
		xbb_log(dev->xb_bk, "vbd %u/%u: removing %s: %s", dev->xb_feid,
		    dev->xb_vdev, dev->xb_bepath, strerror(-rc));
		return;
	}
	snprintf(up, sizeof(up), "%s/%u", dev->xb_bk->bk_root, dev->xb_feid);
	(void)xbus_txn(xs, xbb_dev_remove_up_fn, up);
}

/* Give the device up: nothing held but the record itself. */
static void
xbb_dev_release(struct xbb_dev *dev)
{
	xbb_disconnect(dev);
	xbb_store_close(&dev->xb_store);
	xbb_unwatch_frontend(dev);
	dev->xb_state = XBB_DEV_RELEASED;
	xbb_log(dev->xb_bk, "vbd %u/%u: released", dev->xb_feid, dev->xb_vdev);
	if (dev->xb_bk->bk_opts.o_remove_closed)
		xbb_dev_remove_dir(dev);
}

/* ---------------------------------------------------------------------
 * The state machine
 */

static bool
xbb_fe_ready(enum xenbus_state fe)
{
	return (fe == XenbusStateInitialised || fe == XenbusStateConnected);
}

/* Has the frontend let go of the rings (or restarted)? */
static bool
xbb_fe_gone(enum xenbus_state fe)
{
	return (fe == XenbusStateClosed || fe == XenbusStateUnknown ||
	    fe == XenbusStateInitialising);
}

/*
 * libxl's removal: `online` 0 and Closing written over our state.  (A
 * vbd merely created without `online` is still served until it closes.)
 */
static bool
xbb_dev_removed(const struct xbb_dev *dev, bool online)
{
	return (!online &&
	    xbus_read_state(dev->xb_bk->bk_xs, dev->xb_bepath) ==
		XenbusStateClosing);
}

/* One step; the caller repeats until the state stops changing. */
static void
xbb_dev_step(struct xbb_dev *dev, enum xenbus_state fe, bool online)
{
	const char *why;
	int rc;

	switch (dev->xb_state) {
	case XBB_DEV_NEW:
		if ((rc = xbb_dev_configure(dev, &why)) == -EAGAIN)
			return;
		if (rc != 0) {
			xbb_dev_fatal(dev, rc, why);
			dev->xb_state = XBB_DEV_CLOSING;
			return;
		}
		if (xbb_dev_resumable(dev))
			xbb_dev_connect(dev, true);
		else
			xbb_dev_prepare(dev);
		break;
	case XBB_DEV_INITWAIT:
		if (xbb_dev_removed(dev, online)) {
			/*
			 * The toolstack removes a vbd never connected:
			 * nothing to drain, and no frontend to wait for.
			 */
			xbb_set_state(dev, XenbusStateClosed);
			dev->xb_state = XBB_DEV_CLOSED;
		} else if (xbb_fe_ready(fe)) {
			xbb_dev_connect(dev, false);
		} else if (fe == XenbusStateClosing) {
			xbb_set_state(dev, XenbusStateClosing);
			dev->xb_state = XBB_DEV_CLOSING;
		} else if (fe == XenbusStateClosed ||
		    fe == XenbusStateUnknown) {
			xbb_set_state(dev, XenbusStateClosed);
			dev->xb_state = XBB_DEV_CLOSED;
		}
		break;
	case XBB_DEV_CONNECTED:
		if (xbb_dev_check_rings(dev)) {
			dev->xb_state = XBB_DEV_CLOSING;
		} else if (fe == XenbusStateClosing) {
			/* Mirror it; the rings stay until it is Closed. */
			xbb_set_state(dev, XenbusStateClosing);
			dev->xb_state = XBB_DEV_CLOSING;
		} else if (fe == XenbusStateInitialising) {
			/* A frontend restarting (resume): start over. */
			xbb_disconnect(dev);
			dev->xb_state = XBB_DEV_CLOSED;
		} else if (xbb_fe_gone(fe)) {
			xbb_disconnect(dev);
			dev->xb_state = XBB_DEV_CLOSING;
		}
		break;
	case XBB_DEV_CLOSING:
		(void)xbb_dev_check_rings(dev);
		/* Tear down only once the frontend let go of the rings. */
		if (!xbb_fe_gone(fe))
			return;
		xbb_disconnect(dev);
		xbb_set_state(dev, XenbusStateClosed);
		dev->xb_state = XBB_DEV_CLOSED;
		break;
	case XBB_DEV_CLOSED:
		if (!online)
			xbb_dev_release(dev);
		else if (fe == XenbusStateInitialising || xbb_fe_ready(fe))
			xbb_dev_prepare(dev);
		break;
	case XBB_DEV_RELEASED:
		break;
	}
}

bool
xbb_dev_update(struct xbb_dev *dev)
{
	struct xs_handle *xs = dev->xb_bk->bk_xs;
	enum xenbus_state fe;
	enum xbb_dev_state before;
	bool online;
	char *v;
	int i;

	dev->xb_dirty = false;
	if (xbus_read(xs, XBT_NULL, dev->xb_bepath, NULL, &v) != 0)
		return (true);
	free(v);
	/*
	 * Only the toolstack writes Initialising, when it creates the
	 * directory.  Seen after we wrote a state of our own, the vbd was
	 * removed and created again between two passes (unplug and plug,
	 * a domain id reused): this record belongs to the old one.
	 */
	if (dev->xb_written != XenbusStateInitialising &&
	    xbus_read_state(xs, dev->xb_bepath) == XenbusStateInitialising) {
		dev->xb_recreated = true;
		return (true);
	}
	/* Linux blkback's default: a device without `online` goes away. */
	if (xbus_read_bool_def(xs, XBT_NULL, dev->xb_bepath, "online", false,
		&online) != 0)
		online = false;
	dev->xb_online = online;
	/* Bounded: every step moves forward or stops. */
	for (i = 0; i < 8; i++) {
		fe = dev->xb_fepath != NULL ?
		    xbus_read_state(xs, dev->xb_fepath) :
		    XenbusStateUnknown;
		before = dev->xb_state;
		xbb_dev_step(dev, fe, online);
		if (dev->xb_state == before)
			break;
	}
	return (false);
}

int
xbb_dev_resize_locked(struct xbb_dev *dev)
{
	uint64_t bytes, old;
	int rc;

	if (!xbb_store_is_open(&dev->xb_store))
		return (-ENXIO);
	if ((rc = xbb_store_size(&dev->xb_store, &bytes)) != 0)
		return (rc);
	if (bytes == dev->xb_store.so_bytes)
		return (0);
	old = dev->xb_store.so_bytes;
	dev->xb_store.so_bytes = bytes;
	atomic_store(&dev->xb_sectors, bytes >> XBD_SECTOR_SHIFT);
	xbb_log(dev->xb_bk, "vbd %u/%u: resized to %llu sectors", dev->xb_feid,
	    dev->xb_vdev, (unsigned long long)(bytes >> XBD_SECTOR_SHIFT));
	/* Rewriting Connected is how the frontend learns (Linux's way). */
	if (dev->xb_state != XBB_DEV_CONNECTED ||
	    xbus_read_state(dev->xb_bk->bk_xs, dev->xb_bepath) !=
		XenbusStateConnected)
		return (0);
	/* Not published: the next check sees a change again and retries. */
	if ((rc = xbb_txn(dev, xbb_connected_fn)) != 0)
		dev->xb_store.so_bytes = old;
	return (rc);
}

/* ---------------------------------------------------------------------
 * Creation and destruction
 */

int
xbb_dev_create(struct xbb *b, uint32_t feid, uint32_t vdev,
    struct xbb_dev **out)
{
	struct xbb_dev *dev;

	if ((dev = calloc(1, sizeof(*dev))) == NULL)
		return (-ENOMEM);
	dev->xb_bk = b;
	dev->xb_feid = feid;
	dev->xb_vdev = vdev;
	snprintf(dev->xb_bepath, sizeof(dev->xb_bepath), "%s/%u/%u", b->bk_root,
	    feid, vdev);
	dev->xb_store.so_fd = -1;
	dev->xb_state = XBB_DEV_NEW;
	dev->xb_written = XenbusStateInitialising;
	dev->xb_dirty = true;
	TAILQ_INSERT_TAIL(&b->bk_devs, dev, xb_link);
	*out = dev;
	return (0);
}

void
xbb_dev_shutdown(struct xbb_dev *dev)
{
	if (dev->xb_state == XBB_DEV_RELEASED || dev->xb_state == XBB_DEV_NEW)
		return;
	if (dev->xb_bk->bk_opts.o_keep_connected) {
		/*
		 * For the next backend: every request answered and pushed,
		 * nothing mapped, the shadows kept, and no state written
		 * that the frontend could take for the end of the disk.
		 */
		dev->xb_keep = dev->xb_state == XBB_DEV_CONNECTED;
		xbb_disconnect(dev);
		if (dev->xb_keep)
			xbb_log(dev->xb_bk, "vbd %u/%u: left connected",
			    dev->xb_feid, dev->xb_vdev);
		return;
	}
	if (dev->xb_rings != NULL)
		xbb_set_state(dev, XenbusStateClosing);
	xbb_disconnect(dev);
	xbb_set_state(dev, XenbusStateClosed);
	dev->xb_state = XBB_DEV_CLOSED;
}

void
xbb_dev_destroy(struct xbb_dev *dev)
{
	xbb_disconnect(dev);
	xbb_store_close(&dev->xb_store);
	xbb_unwatch_frontend(dev);
	TAILQ_REMOVE(&dev->xb_bk->bk_devs, dev, xb_link);
	free(dev->xb_fewatch);
	free(dev->xb_fepath);
	free(dev);
}
