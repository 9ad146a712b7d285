/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Connecting a device: read the transport the frontend published, map
 * its rings, bind its event channels, start one I/O thread per ring;
 * and the reverse.  Everything read here was written by the guest, so
 * every value is parsed strictly and checked against what we offered;
 * anything wrong is fatal for this device only (xbus_dev_fatal: an
 * `error` node and state Closing), never for the backend (B22, B26).
 *
 * Nodes read (docs/protocol.md 3.2), with one queue in the frontend's
 * directory, with several in its queue-N/ subdirectories:
 *   protocol                 "x86_64-abi" (native), "x86_32-abi";
 *                            missing: native (FreeBSD, QEMU); other: fatal
 *   feature-persistent       0/1, default 0
 *   multi-queue-num-queues   1..multi-queue-max-queues, default 1
 *   ring-page-order          <= max-ring-page-order; or the deprecated
 *                            num-ring-pages (a power of two)
 *   ring-ref | ring-ref%u    one page: ring-ref (ring-ref0 accepted);
 *                            more: ring-ref0..N-1, all distinct
 *   event-channel            the frontend's unbound port for us
 */

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "xbb_internal.h"
#include "xenbus/xbus.h"

/* How long a resume waits for the previous backend's port to close. */
#define XBB_REBIND_MS 3000
#define XBB_REBIND_STEP_MS 10

/* Report why connecting failed, in the store and to the log. */
static int
xbb_connect_fail(struct xbb_dev *dev, int rc, const char *what)
{
	xbb_dev_fatal(dev, rc, what);
	return (rc);
}

/* Ring pages: ring-page-order, else num-ring-pages, else one. */
static int
xbb_read_npages(struct xbb_dev *dev, unsigned int *npages, const char **why)
{
	struct xs_handle *xs = dev->xb_bk->bk_xs;
	unsigned int max = 1u << dev->xb_bk->bk_opts.o_max_ring_page_order;
	uint64_t v;
	int rc;

	rc = xbus_read_u64(xs, XBT_NULL, dev->xb_fepath, "ring-page-order",
	    UINT32_MAX, &v);
	if (rc == 0) {
		*why = "ring-page-order above max-ring-page-order";
		if (v > dev->xb_bk->bk_opts.o_max_ring_page_order)
			return (-EINVAL);
		*npages = 1u << v;
		return (0);
	}
	*why = "reading ring-page-order";
	if (rc != -ENOENT)
		return (rc);
	/* The Amazon/RedHat name FreeBSD's frontend still writes. */
	*why = "reading num-ring-pages";
	if ((rc = xbus_read_u64_def(xs, XBT_NULL, dev->xb_fepath,
		 "num-ring-pages", UINT32_MAX, 1, &v)) != 0)
		return (rc);
	*why = "num-ring-pages not a power of two within max-ring-pages";
	if (v == 0 || v > max || (v & (v - 1)) != 0)
		return (-EINVAL);
	*npages = (unsigned int)v;
	return (0);
}

/* One ring's refs and port, from dir (the frontend's or queue-N). */
static int
xbb_read_ring(struct xbb_dev *dev, const char *dir, struct xbb_ring_cfg *rc_,
    const char **why)
{
	struct xs_handle *xs = dev->xb_bk->bk_xs;
	char node[32];
	unsigned int i, j;
	uint64_t v;
	int rc;

	for (i = 0; i < rc_->rc_npages; i++) {
		snprintf(node, sizeof(node), "ring-ref%u", i);
		rc = -ENOENT;
		/* A one-page ring is `ring-ref`; tolerate `ring-ref0`. */
		if (rc_->rc_npages == 1)
			rc = xbus_read_u64(xs, XBT_NULL, dir, "ring-ref",
			    UINT32_MAX, &v);
		if (rc == -ENOENT)
			rc = xbus_read_u64(xs, XBT_NULL, dir, node, UINT32_MAX,
			    &v);
		if (rc != 0) {
			*why = "reading ring-ref";
			return (rc);
		}
		rc_->rc_refs[i] = (grant_ref_t)v;
		for (j = 0; j < i; j++) {
			if (rc_->rc_refs[j] == rc_->rc_refs[i]) {
				*why = "the same ring-ref twice";
				return (-EINVAL);
			}
		}
	}
	if ((rc = xbus_read_u64(xs, XBT_NULL, dir, "event-channel", UINT32_MAX,
		 &v)) != 0) {
		*why = "reading event-channel";
		return (rc);
	}
	rc_->rc_port = (evtchn_port_t)v;
	return (0);
}

static int
xbb_read_protocol(struct xbb_dev *dev, enum xring_abi *abi)
{
	char *proto;
	int rc;

	rc = xbus_read(dev->xb_bk->bk_xs, XBT_NULL, dev->xb_fepath, "protocol",
	    &proto);
	if (rc == -ENOENT) {
		*abi = XRING_ABI_NATIVE;
		return (0);
	}
	if (rc != 0)
		return (rc);
	if (strcmp(proto, XEN_IO_PROTO_ABI_NATIVE) == 0)
		*abi = XRING_ABI_NATIVE;
	else if (strcmp(proto, XEN_IO_PROTO_ABI_X86_32) == 0)
		*abi = XRING_ABI_X86_32;
	else
		rc = -EINVAL;
	free(proto);
	return (rc);
}

/* What identifies this connection of ring r to its shadow. */
static void
xbb_shadow_key_of(const struct xbb_dev *dev, const struct xbb_ring *r,
    struct xbb_shadow_key *key)
{
	unsigned int i;

	memset(key, 0, sizeof(*key));
	key->sk_slots = r->rg_slots;
	key->sk_npages = r->rg_cfg.rc_npages;
	key->sk_abi = (uint32_t)dev->xb_abi;
	key->sk_port = r->rg_cfg.rc_port;
	for (i = 0; i < r->rg_cfg.rc_npages; i++)
		key->sk_refs[i] = r->rg_cfg.rc_refs[i];
}

/*
 * Resume a ring a previous backend served under a connected frontend
 * (a restart): with its shadow, take requests where it stopped and
 * re-execute the ones it left without a visible response; without one,
 * only a ring with nothing outstanding is safe to take over.
 */
static int
xbb_ring_resume(struct xbb_ring *r, const struct xbb_shadow_key *key, bool same)
{
	int rc;

	if (!same) {
		if (!xring_back_idle(&r->rg_xr))
			return (-ESTALE);
		xbb_shadow_reset(&r->rg_sw, key,
		    xring_back_rsp_next(&r->rg_xr));
		return (0);
	}
	if ((r->rg_replay.sr_slots = calloc(r->rg_slots,
		 sizeof(*r->rg_replay.sr_slots))) == NULL)
		return (-ENOMEM);
	if ((rc = xbb_shadow_recover(&r->rg_sw, xring_back_rsp_next(&r->rg_xr),
		 &r->rg_replay)) != 0)
		return (rc);
	return (xring_back_resume(&r->rg_xr, r->rg_replay.sr_req_cons));
}

/*
 * Take the mapped ring over: a new connection starts at its rsp_prod
 * (0), a resumed one where the previous backend stopped.
 */
static int
xbb_ring_adopt(struct xbb_dev *dev, struct xbb_ring *r, bool resume,
    const char **why)
{
	const struct xbb *b = dev->xb_bk;
	struct xbb_shadow_key key;
	bool same = false;
	int rc;

	xbb_shadow_key_of(dev, r, &key);
	if (b->bk_opts.o_state_dir != NULL && b->bk_opts.o_shadows &&
	    (rc = xbb_shadow_open(&r->rg_sw, b->bk_opts.o_state_dir,
		 plat_domid(b->bk_plat), dev->xb_feid, dev->xb_vdev,
		 r->rg_index, &key, &same)) != 0) {
		*why = "opening the ring's shadow";
		return (rc);
	}
	*why = "initialising the ring";
	if ((rc = xring_back_init(&r->rg_xr, r->rg_sring, key.sk_npages,
		 dev->xb_abi)) != 0)
		return (rc);
	if (!resume) {
		xbb_shadow_reset(&r->rg_sw, &key,
		    xring_back_rsp_next(&r->rg_xr));
		return (0);
	}
	*why = same ? "resuming the ring from its shadow" :
		      "resuming a busy ring without a shadow";
	if ((rc = xbb_ring_resume(r, &key, same)) != 0)
		return (rc);
	xbb_ctr_add(&r->rg_ctrs, XBB_C_RESUMES, 1);
	return (0);
}

/*
 * Bind the frontend's port.  Resuming, the previous backend's end may
 * not be closed yet (its process still exiting, or the hypervisor not
 * done with its exit): the port is unbound a moment later.
 */
static int
xbb_ring_bind(struct xbb_dev *dev, struct xbb_ring *r, bool resume)
{
	unsigned int waited;
	int rc;

	for (waited = 0;; waited += XBB_REBIND_STEP_MS) {
		rc = plat_evtchn_bind_interdomain(r->rg_evh, dev->xb_feid,
		    r->rg_cfg.rc_port, &r->rg_port);
		if (rc != -EINVAL || !resume || waited >= XBB_REBIND_MS)
			return (rc);
		(void)poll(NULL, 0, XBB_REBIND_STEP_MS);
	}
}

/* Map a ring, bind its channel, set up its memory, io_uring, shadow. */
static int
xbb_ring_attach(struct xbb_dev *dev, struct xbb_ring *r, bool resume,
    const char **why)
{
	struct plat *p = dev->xb_bk->bk_plat;
	int rc;

	if ((rc = plat_map(p, dev->xb_feid, r->rg_cfg.rc_npages,
		 r->rg_cfg.rc_refs, true, &r->rg_sring)) != 0) {
		r->rg_sring = NULL;
		*why = "mapping the ring";
		return (rc);
	}
	/* One handle per ring: it is polled by that ring's thread only. */
	if ((rc = plat_evtchn_open(p, &r->rg_evh)) != 0) {
		r->rg_evh = NULL;
		*why = "opening an event channel";
		return (rc);
	}
	if ((rc = xbb_ring_bind(dev, r, resume)) != 0) {
		*why = "binding event-channel";
		return (rc);
	}
	r->rg_bound = true;
	if ((rc = xbb_ring_init(r, dev, r->rg_index)) != 0) {
		*why = "setting up the ring's I/O";
		return (rc);
	}
	return (xbb_ring_adopt(dev, r, resume, why));
}

static void
xbb_ring_detach(struct xbb_dev *dev, struct xbb_ring *r)
{
	struct plat *p = dev->xb_bk->bk_plat;

	xbb_ring_fini(r);
	/* Kept for the next backend only when we leave it connected. */
	xbb_shadow_close(&r->rg_sw, !dev->xb_keep);
	if (r->rg_bound)
		(void)plat_evtchn_unbind(r->rg_evh, r->rg_port);
	r->rg_bound = false;
	plat_evtchn_close(r->rg_evh);
	r->rg_evh = NULL;
	if (r->rg_sring != NULL)
		(void)plat_unmap(p, r->rg_sring, r->rg_cfg.rc_npages);
	r->rg_sring = NULL;
}

/*
 * Persistent grants when both ends offered them.  Resuming, the offer
 * the frontend answered is the previous backend's, still in our
 * directory, not our options: a frontend told 0 grants write data
 * read-only and ends each grant after its response, so a backend
 * restarted with them on must not map its grants persistently.
 */
static int
xbb_read_persistent(struct xbb_dev *dev, bool resume)
{
	const struct xbb_opts *o = &dev->xb_bk->bk_opts;
	struct xs_handle *xs = dev->xb_bk->bk_xs;
	bool fe, offered = true;
	int rc;

	if ((rc = xbus_read_bool_def(xs, XBT_NULL, dev->xb_fepath,
		 "feature-persistent", false, &fe)) != 0 ||
	    (resume &&
		(rc = xbus_read_bool_def(xs, XBT_NULL, dev->xb_bepath,
		     "feature-persistent", false, &offered)) != 0))
		return (rc);
	dev->xb_persistent = fe && offered && o->o_persistent &&
	    !o->o_grant_copy && o->o_max_persistent > 0;
	return (0);
}

int
xbb_connect(struct xbb_dev *dev, bool resume)
{
	struct xs_handle *xs = dev->xb_bk->bk_xs;
	char dir[XBUS_PATH_MAX];
	const char *why = NULL;
	unsigned int npages, i;
	uint64_t nq;
	int rc;

	XU_ASSERT(dev->xb_rings == NULL, ("connecting a connected device"));
	if ((rc = xbb_read_protocol(dev, &dev->xb_abi)) != 0)
		return (xbb_connect_fail(dev, rc, "unknown protocol"));
	if ((rc = xbb_read_persistent(dev, resume)) != 0)
		return (
		    xbb_connect_fail(dev, rc, "reading feature-persistent"));
	rc = xbus_read_u64_def(xs, XBT_NULL, dev->xb_fepath,
	    "multi-queue-num-queues", UINT32_MAX, 1, &nq);
	if (rc != 0)
		return (xbb_connect_fail(dev, rc,
		    "reading multi-queue-num-queues"));
	if (nq == 0 || nq > xbb_dev_max_queues(dev))
		return (xbb_connect_fail(dev, -EINVAL,
		    "multi-queue-num-queues outside 1..multi-queue-max-queues"));
	/* The page count is per device: Linux writes it once at the top. */
	if ((rc = xbb_read_npages(dev, &npages, &why)) != 0)
		return (xbb_connect_fail(dev, rc, why));

	if ((dev->xb_rings = calloc(nq, sizeof(*dev->xb_rings))) == NULL)
		return (xbb_connect_fail(dev, -ENOMEM, "allocating rings"));
	dev->xb_nrings = (unsigned int)nq;
	dev->xb_npages = npages;
	for (i = 0; i < dev->xb_nrings; i++) {
		dev->xb_rings[i].rg_dev = dev;
		dev->xb_rings[i].rg_index = i;
		dev->xb_rings[i].rg_kickfd = -1;
		dev->xb_rings[i].rg_sw.sw_fd = -1;
		dev->xb_rings[i].rg_cfg.rc_npages = npages;
	}
	for (i = 0; i < dev->xb_nrings; i++) {
		if (nq == 1)
			snprintf(dir, sizeof(dir), "%s", dev->xb_fepath);
		else
			snprintf(dir, sizeof(dir), "%s/queue-%u",
			    dev->xb_fepath, i);
		if ((rc = xbb_read_ring(dev, dir, &dev->xb_rings[i].rg_cfg,
			 &why)) != 0 ||
		    (rc = xbb_ring_attach(dev, &dev->xb_rings[i], resume,
			 &why)) != 0)
			goto fail;
	}
	for (i = 0; i < dev->xb_nrings; i++) {
		if ((rc = xbb_ring_start(&dev->xb_rings[i])) != 0) {
			why = "starting an I/O thread";
			goto fail;
		}
	}
	dev->xb_connects++;
	return (0);
fail:
	xbb_disconnect(dev);
	return (xbb_connect_fail(dev, rc, why));
}

void
xbb_disconnect(struct xbb_dev *dev)
{
	unsigned int i;

	if (dev->xb_rings == NULL)
		return;
	/* Signal every ring first so that they drain in parallel. */
	for (i = 0; i < dev->xb_nrings; i++)
		xbb_ring_signal(&dev->xb_rings[i]);
	for (i = 0; i < dev->xb_nrings; i++)
		xbb_ring_stop(&dev->xb_rings[i]);
	for (i = 0; i < dev->xb_nrings; i++) {
		xbb_ctrs_retire(&dev->xb_hist, &dev->xb_rings[i].rg_ctrs);
		xbb_ring_detach(dev, &dev->xb_rings[i]);
	}
	free(dev->xb_rings);
	dev->xb_rings = NULL;
	dev->xb_nrings = 0;
}
