/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The toolstack's side of a vbd: the keys, permissions and transaction
 * libxl uses to create one (device_disk_add, libxl__device_generic_add)
 * and the online/state dance it uses to remove one
 * (libxl__initiate_device_generic_remove).  The simulated platform and
 * the tools use it; on real Xen, xl does the same.
 */

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

#include "common/xu_parse.h"
#include "xbus.h"

int
xbus_vbd_paths(const struct xbus_vbd *v, char *fe, size_t felen, char *be,
    size_t belen)
{
	int n;

	n = snprintf(fe, felen, "/local/domain/%u/device/vbd/%u",
	    v->v_frontend_id, v->v_vdev);
	if (n < 0 || (size_t)n >= felen)
		return (-ENAMETOOLONG);
	n = snprintf(be, belen, "/local/domain/%u/backend/%s/%u/%u",
	    v->v_backend_id, v->v_kind != NULL ? v->v_kind : "vbd",
	    v->v_frontend_id, v->v_vdev);
	if (n < 0 || (size_t)n >= belen)
		return (-ENAMETOOLONG);
	return (0);
}

static int
xbus_libxl_path(const struct xbus_vbd *v, char *buf, size_t len)
{
	int n;

	n = snprintf(buf, len, "/libxl/%u/device/vbd/%u", v->v_frontend_id,
	    v->v_vdev);
	return (n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0);
}

/* rm, mkdir, set_perms (owner, reader): how libxl starts each directory. */
static int
xbus_fresh_dir(struct xs_handle *xs, xs_transaction_t t, const char *path,
    uint32_t owner, uint32_t reader, bool readable)
{
	struct xs_permissions perms[2] = {
		{ .id = owner, .perms = XS_PERM_NONE },
		{ .id = reader, .perms = XS_PERM_READ },
	};

	errno = 0;
	if (!xs_rm(xs, t, path) && errno != ENOENT)
		return (-errno);
	if (!xs_mkdir(xs, t, path) ||
	    !xs_set_permissions(xs, t, path, perms, readable ? 2 : 1))
		return (errno != 0 ? -errno : -EIO);
	return (0);
}

/*
 * The backend entries of a vbd (libxl's "bents"), written to dir.  libxl
 * writes them twice: into the backend directory, and into the
 * toolstack's own copy under /libxl, so that it never has to trust what
 * the backend domain may since have changed there.
 */
static int
xbus_vbd_bents(struct xs_handle *xs, xs_transaction_t t, const char *dir,
    const struct xbus_vbd *v)
{
	char name[32];
	const char *type;
	int rc;

	if (xbus_vdev_name(v->v_vdev, name, sizeof(name)) != 0)
		snprintf(name, sizeof(name), "%u", v->v_vdev);
	type = v->v_kind != NULL && strcmp(v->v_kind, "qdisk") == 0 ? "qdisk" :
								      "phy";
	if ((rc = xbus_write(xs, t, dir, "params", v->v_params)) != 0 ||
	    (v->v_script != NULL &&
		(rc = xbus_write(xs, t, dir, "script", v->v_script)) != 0) ||
	    (rc = xbus_printf(xs, t, dir, "frontend-id", "%u",
		 v->v_frontend_id)) != 0 ||
	    (rc = xbus_write(xs, t, dir, "online", "1")) != 0 ||
	    (rc = xbus_write(xs, t, dir, "removable",
		 v->v_removable ? "1" : "0")) != 0 ||
	    (rc = xbus_write(xs, t, dir, "bootable", "1")) != 0 ||
	    (rc = xbus_printf(xs, t, dir, "state", "%d",
		 XenbusStateInitialising)) != 0 ||
	    (rc = xbus_write(xs, t, dir, "dev", name)) != 0 ||
	    (rc = xbus_write(xs, t, dir, "type", type)) != 0 ||
	    (rc = xbus_write(xs, t, dir, "mode", v->v_readonly ? "r" : "w")) !=
		0 ||
	    (rc = xbus_write(xs, t, dir, "device-type",
		 v->v_cdrom ? "cdrom" : "disk")) != 0 ||
	    (rc = xbus_write(xs, t, dir, "discard-enable",
		 v->v_discard ? "1" : "0")) != 0 ||
	    (rc = xbus_write(xs, t, dir, "specification", "xen")) != 0)
		return (rc);
	return (0);
}

/*
 * Is the frontend domain still there, as of this transaction?  Its home
 * is removed with the domain, and creating a node below a missing home
 * creates the home implicitly, with the permissions of /local/domain
 * (dom0's alone): the next domain of that id would then find its
 * device/vbd unreadable.  Reading domid (written with the home) makes
 * the transaction conflict with a concurrent removal.
 */
static int
xbus_frontend_alive(struct xs_handle *xs, xs_transaction_t t,
    const struct xbus_vbd *v)
{
	char home[XBUS_PATH_MAX];
	uint64_t id;
	int rc;

	snprintf(home, sizeof(home), "/local/domain/%u", v->v_frontend_id);
	rc = xbus_read_u64(xs, t, home, "domid", UINT32_MAX, &id);
	return (
	    rc == -ENOENT || (rc == 0 && id != v->v_frontend_id) ? -ESRCH : rc);
}

static int
xbus_vbd_add_txn(struct xs_handle *xs, xs_transaction_t t,
    const struct xbus_vbd *v)
{
	char fe[XBUS_PATH_MAX], be[XBUS_PATH_MAX], lx[XBUS_PATH_MAX];
	int rc;

	if ((rc = xbus_vbd_paths(v, fe, sizeof(fe), be, sizeof(be))) != 0 ||
	    (rc = xbus_libxl_path(v, lx, sizeof(lx))) != 0 ||
	    (v->v_live_frontend && (rc = xbus_frontend_alive(xs, t, v)) != 0))
		return (rc);

	/* The backend directory: owned by the backend, read by the guest. */
	if ((rc = xbus_fresh_dir(xs, t, be, v->v_backend_id, v->v_frontend_id,
		 true)) != 0 ||
	    (rc = xbus_write(xs, t, be, "frontend", fe)) != 0 ||
	    (rc = xbus_vbd_bents(xs, t, be, v)) != 0)
		return (rc);

	/* The frontend directory: owned by the guest, read by the backend. */
	if ((rc = xbus_fresh_dir(xs, t, fe, v->v_frontend_id, v->v_backend_id,
		 true)) != 0 ||
	    (rc = xbus_write(xs, t, fe, "backend", be)) != 0 ||
	    (rc = xbus_printf(xs, t, fe, "backend-id", "%u",
		 v->v_backend_id)) != 0 ||
	    (rc = xbus_printf(xs, t, fe, "state", "%d",
		 XenbusStateInitialising)) != 0 ||
	    (rc = xbus_printf(xs, t, fe, "virtual-device", "%u", v->v_vdev)) !=
		0 ||
	    (rc = xbus_write(xs, t, fe, "device-type",
		 v->v_cdrom ? "cdrom" : "disk")) != 0 ||
	    (rc = xbus_write(xs, t, fe, "trusted",
		 v->v_untrusted ? "0" : "1")) != 0 ||
	    (v->v_protocol != NULL &&
		(rc = xbus_write(xs, t, fe, "protocol", v->v_protocol)) != 0))
		return (rc);

	/*
	 * The toolstack's own trusted record, readable by dom0 only: both
	 * paths, then a copy of every backend entry.
	 */
	if ((rc = xbus_fresh_dir(xs, t, lx, 0, 0, false)) != 0 ||
	    (rc = xbus_write(xs, t, lx, "frontend", fe)) != 0 ||
	    (rc = xbus_write(xs, t, lx, "backend", be)) != 0 ||
	    (rc = xbus_vbd_bents(xs, t, lx, v)) != 0)
		return (rc);
	return (0);
}

static int
xbus_vbd_add_fn(struct xs_handle *xs, xs_transaction_t t, void *arg)
{
	return (xbus_vbd_add_txn(xs, t, arg));
}

int
xbus_vbd_add(struct xs_handle *xs, const struct xbus_vbd *v)
{
	struct xbus_vbd copy;

	if (v->v_params == NULL || v->v_vdev == 0)
		return (-EINVAL);
	/* xbus_txn's argument is not const; v is ours to keep so. */
	copy = *v;
	return (xbus_txn(xs, xbus_vbd_add_fn, &copy));
}

bool
xbus_vbd_exists(struct xs_handle *xs, const struct xbus_vbd *v)
{
	char fe[XBUS_PATH_MAX], be[XBUS_PATH_MAX], *params, *hp;
	bool same;

	if (xbus_vbd_paths(v, fe, sizeof(fe), be, sizeof(be)) != 0 ||
	    xbus_read(xs, XBT_NULL, be, "params", &params) != 0)
		return (false);
	same = strcmp(params, v->v_params) == 0;
	free(params);
	if (!same || xbus_read(xs, XBT_NULL, be, "hotplug-status", &hp) != 0)
		return (false);
	same = strcmp(hp, "connected") == 0;
	free(hp);
	return (same);
}

/* What the hotplug step waits on. */
struct xbus_hp_wait {
	struct xs_handle *hp_xs;     /* privileged handle */
	const struct xbus_vbd *hp_v; /* the vbd */
	bool hp_gone;		     /* out: its frontend domain died */
};

/*
 * InitWait or past it, given up (Closing, Closed after an error), or
 * its frontend domain gone.
 */
static bool
xbus_is_initwait(enum xenbus_state s, void *arg)
{
	struct xbus_hp_wait *hw = arg;

	/* Watches coalesce: a fast backend may already be past InitWait. */
	if (s >= XenbusStateInitWait && s <= XenbusStateClosed)
		return (true);
	/*
	 * A backend does not set up a vbd whose frontend died meanwhile:
	 * waiting the full time for it would hold up the toolstack while
	 * the next domain of that id needs its vbd.
	 */
	if (hw->hp_v->v_live_frontend &&
	    !xs_is_domain_introduced(hw->hp_xs, hw->hp_v->v_frontend_id))
		hw->hp_gone = true;
	return (hw->hp_gone);
}

/*
 * The errno a backend that gave up wrote first in its `error` node
 * ("<errno> <what>", xenbus_dev_fatal's format), or -EIO.
 */
static int
xbus_backend_errno(struct xs_handle *xs, const char *be)
{
	char *v, *sp;
	uint32_t e;
	int rc = -EIO;

	if (xbus_read(xs, XBT_NULL, be, "error", &v) != 0)
		return (rc);
	if ((sp = strchr(v, ' ')) != NULL)
		*sp = '\0';
	if (xu_parse_u32(v, &e) == 0 && e != 0 && e < 4096)
		rc = -(int)e;
	free(v);
	return (rc);
}

/* The block script's failure report: hotplug-error, hotplug-status. */
static int
xbus_hotplug_failed(struct xs_handle *xs, const char *be, int err,
    const char *what)
{
	char msg[XBUS_PATH_MAX + 64];

	snprintf(msg, sizeof(msg), "%s: %s", what, strerror(-err));
	(void)xbus_write(xs, XBT_NULL, be, "hotplug-error", msg);
	(void)xbus_write(xs, XBT_NULL, be, "hotplug-status", "error");
	return (err);
}

int
xbus_vbd_hotplug(struct xs_handle *xs, const struct xbus_vbd *v,
    unsigned int timeout_ms)
{
	struct xbus_hp_wait hw = { .hp_xs = xs, .hp_v = v };
	char fe[XBUS_PATH_MAX], be[XBUS_PATH_MAX];
	struct stat st;
	int rc;

	if ((rc = xbus_vbd_paths(v, fe, sizeof(fe), be, sizeof(be))) != 0)
		return (rc);
	/* QEMU's backends open their target themselves: libxl skips this. */
	if (v->v_kind != NULL && strcmp(v->v_kind, "qdisk") == 0)
		return (0);
	rc = xbus_wait_state(xs, be, xbus_is_initwait, &hw, timeout_ms);
	if (rc != 0)
		return (xbus_hotplug_failed(xs, be, rc,
		    "backend never reached InitWait"));
	if (hw.hp_gone)
		return (-ESRCH);
	if (xbus_read_state(xs, be) > XenbusStateConnected)
		return (xbus_hotplug_failed(xs, be, xbus_backend_errno(xs, be),
		    "the backend gave up"));
	if (v->v_remote)
		return (xbus_write(xs, XBT_NULL, be, "hotplug-status",
		    "connected"));
	if (stat(v->v_params, &st) != 0)
		return (xbus_hotplug_failed(xs, be, -errno, v->v_params));
	/*
	 * Xen's block script names the device by number for blkback, which
	 * opens it by number; an image file has none (the script would
	 * loop-mount it; our backend opens the path itself).
	 */
	if (S_ISBLK(st.st_mode) &&
	    (rc = xbus_printf(xs, XBT_NULL, be, "physical-device", "%x:%x",
		 major(st.st_rdev), minor(st.st_rdev))) != 0)
		return (rc);
	if ((rc = xbus_write(xs, XBT_NULL, be, "physical-device-path",
		 v->v_params)) != 0 ||
	    (rc = xbus_write(xs, XBT_NULL, be, "hotplug-status",
		 "connected")) != 0)
		return (rc);
	return (0);
}

static int
xbus_vbd_close_fn(struct xs_handle *xs, xs_transaction_t t, void *arg)
{
	const char *be = arg;
	uint64_t state;
	int rc;

	if ((rc = xbus_write(xs, t, be, "online", "0")) != 0)
		return (rc);
	if (xbus_read_u64(xs, t, be, "state", UINT32_MAX, &state) == 0 &&
	    state == XenbusStateClosed)
		return (0);
	return (xbus_printf(xs, t, be, "state", "%d", XenbusStateClosing));
}

struct xbus_vbd_dirs {
	char fe[XBUS_PATH_MAX];
	char be[XBUS_PATH_MAX];
	char lx[XBUS_PATH_MAX];
};

static int
xbus_vbd_destroy_fn(struct xs_handle *xs, xs_transaction_t t, void *arg)
{
	const struct xbus_vbd_dirs *d = arg;
	int rc;

	if ((rc = xbus_rm(xs, t, d->fe, NULL)) != 0 ||
	    (rc = xbus_rm(xs, t, d->lx, NULL)) != 0 ||
	    (rc = xbus_rm(xs, t, d->be, NULL)) != 0)
		return (rc);
	return (0);
}

static bool
xbus_is_closed(enum xenbus_state s, void *arg)
{
	return (s == XenbusStateClosed || s == XenbusStateUnknown);
}

int
xbus_vbd_remove(struct xs_handle *xs, const struct xbus_vbd *v,
    unsigned int timeout_ms, bool force)
{
	struct xbus_vbd_dirs d;
	int rc, wait = 0;

	rc = xbus_vbd_paths(v, d.fe, sizeof(d.fe), d.be, sizeof(d.be));
	if (rc != 0 || (rc = xbus_libxl_path(v, d.lx, sizeof(d.lx))) != 0)
		return (rc);
	if (!force) {
		if ((rc = xbus_txn(xs, xbus_vbd_close_fn, d.be)) != 0 &&
		    rc != -ENOENT)
			return (rc);
		wait =
		    xbus_wait_state(xs, d.be, xbus_is_closed, NULL, timeout_ms);
	}
	if ((rc = xbus_txn(xs, xbus_vbd_destroy_fn, &d)) != 0)
		return (rc);
	return (wait);
}
