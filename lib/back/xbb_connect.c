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
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "xbb_internal.h"
#include "xenbus/xbus.h"

/* Report why connecting failed, in the store and to the log. */
static int
xbb_connect_fail(struct xbb_dev *dev, int rc, const char *what)
{
	xbus_dev_fatal(dev->xb_bk->bk_xs, dev->xb_bepath, rc, "%s", what);
	dev->xb_written = XenbusStateClosing;
	xbb_log(dev->xb_bk, "vbd %u/%u: %s: %s", dev->xb_feid, dev->xb_vdev,
	    what, strerror(rc < 0 ? -rc : rc));
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

/* Map a ring, bind its channel, set up its memory and io_uring. */
static int
xbb_ring_attach(struct xbb_dev *dev, struct xbb_ring *r, const char **why)
{
	struct plat *p = dev->xb_bk->bk_plat;
	int rc;

	if ((rc = plat_map(p, dev->xb_feid, r->rg_cfg.rc_npages,
		 r->rg_cfg.rc_refs, true, &r->rg_sring)) != 0) {
		r->rg_sring = NULL;
		*why = "mapping the ring";
		return (rc);
	}
	if ((rc = xring_back_init(&r->rg_xr, r->rg_sring, r->rg_cfg.rc_npages,
		 dev->xb_abi)) != 0) {
		*why = "initialising the ring";
		return (rc);
	}
	/* One handle per ring: it is polled by that ring's thread only. */
	if ((rc = plat_evtchn_open(p, &r->rg_evh)) != 0) {
		r->rg_evh = NULL;
		*why = "opening an event channel";
		return (rc);
	}
	if ((rc = plat_evtchn_bind_interdomain(r->rg_evh, dev->xb_feid,
		 r->rg_cfg.rc_port, &r->rg_port)) != 0) {
		*why = "binding event-channel";
		return (rc);
	}
	r->rg_bound = true;
	if ((rc = xbb_ring_init(r, dev, r->rg_index)) != 0) {
		*why = "setting up the ring's I/O";
		return (rc);
	}
	return (0);
}

static void
xbb_ring_detach(struct xbb_dev *dev, struct xbb_ring *r)
{
	struct plat *p = dev->xb_bk->bk_plat;

	xbb_ring_fini(r);
	if (r->rg_bound)
		(void)plat_evtchn_unbind(r->rg_evh, r->rg_port);
	r->rg_bound = false;
	plat_evtchn_close(r->rg_evh);
	r->rg_evh = NULL;
	if (r->rg_sring != NULL)
		(void)plat_unmap(p, r->rg_sring, r->rg_cfg.rc_npages);
	r->rg_sring = NULL;
}

int
xbb_connect(struct xbb_dev *dev)
{
	const struct xbb_opts *o = &dev->xb_bk->bk_opts;
	struct xs_handle *xs = dev->xb_bk->bk_xs;
	char dir[XBUS_PATH_MAX];
	const char *why = NULL;
	unsigned int npages, i;
	uint64_t nq;
	bool fe_persistent;
	int rc;

	XU_ASSERT(dev->xb_rings == NULL, ("connecting a connected device"));
	if ((rc = xbb_read_protocol(dev, &dev->xb_abi)) != 0)
		return (xbb_connect_fail(dev, rc, "unknown protocol"));
	if ((rc = xbus_read_bool_def(xs, XBT_NULL, dev->xb_fepath,
		 "feature-persistent", false, &fe_persistent)) != 0)
		return (
		    xbb_connect_fail(dev, rc, "reading feature-persistent"));
	dev->xb_persistent = fe_persistent && o->o_persistent &&
	    !o->o_grant_copy && o->o_max_persistent > 0;
	rc = xbus_read_u64_def(xs, XBT_NULL, dev->xb_fepath,
	    "multi-queue-num-queues", UINT32_MAX, 1, &nq);
	if (rc != 0)
		return (xbb_connect_fail(dev, rc,
		    "reading multi-queue-num-queues"));
	if (nq == 0 || nq > o->o_max_queues)
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
		    (rc = xbb_ring_attach(dev, &dev->xb_rings[i], &why)) != 0)
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
