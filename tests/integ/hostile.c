/* SPDX-License-Identifier: BSD-2-Clause */
/* A scripted, hostile block backend for the frontend's tests; see hostile.h. */

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "hostile.h"

struct blkif_sring *
hostile_sring(struct hostile *h)
{
	return (h->h_sring);
}

void
hostile_write(struct hostile *h, const char *node, const char *val)
{
	if (val == NULL)
		(void)xbus_rm(h->h_xs, XBT_NULL, h->h_be, node);
	else
		(void)xbus_write(h->h_xs, XBT_NULL, h->h_be, node, val);
}

/*
 * A response written straight into the next slot, whatever it says:
 * unlike xring_back_put_rsp this may answer requests never taken.
 */
void
hostile_respond(struct hostile *h, uint64_t id, uint8_t op, int16_t status)
{
	struct blkif_back_ring *r = &h->h_ring.xr_u.native;
	struct blkif_response *rsp;

	rsp = (struct blkif_response *)((char *)h->h_sring +
	    offsetof(struct blkif_sring, ring) +
	    (r->rsp_prod_pvt & (r->nr_ents - 1)) *
		sizeof(union blkif_sring_entry));
	rsp->id = id;
	rsp->operation = op;
	rsp->status = status;
	r->rsp_prod_pvt++;
}

void
hostile_bump_rsp(struct hostile *h, int delta)
{
	h->h_ring.xr_u.native.rsp_prod_pvt += (RING_IDX)delta;
	hostile_push(h);
}

void
hostile_push(struct hostile *h)
{
	(void)xring_back_push(&h->h_ring);
	if (!h->h_no_notify)
		(void)plat_evtchn_notify(h->h_ev, h->h_port);
}

int
hostile_hold_grant(struct hostile *h, const union xring_req *req)
{
	struct plat_map_seg *s;

	if (h->h_held >= 16 || req->rw.nr_segments == 0)
		return (-ENOSPC);
	s = &h->h_held_segs[h->h_held];
	s->ms_ref = req->rw.seg[0].gref;
	if (plat_map_batch(h->h_plat, h->h_fe_id, 1,
		req->rw.operation == BLKIF_OP_READ, s) != 0)
		return (-EIO);
	h->h_held++;
	return (0);
}

/* Serve a direct read or write from the in-memory disk. */
void
hostile_serve(struct hostile *h, const union xring_req *req)
{
	const struct blkif_request *rw = &req->rw;
	struct plat_map_seg segs[BLKIF_MAX_SEGMENTS_PER_REQUEST];
	uint64_t off = rw->sector_number * 512, len;
	int16_t status = BLKIF_RSP_OKAY;
	uint8_t n = rw->nr_segments, i;
	bool rd = rw->operation == BLKIF_OP_READ;
	char *page;

	switch (rw->operation) {
	case BLKIF_OP_READ:
	case BLKIF_OP_WRITE:
	case BLKIF_OP_WRITE_BARRIER:
		break;
	case BLKIF_OP_FLUSH_DISKCACHE:
		hostile_respond(h, rw->id, rw->operation, BLKIF_RSP_OKAY);
		return;
	case BLKIF_OP_DISCARD:
		if (req->discard.sector_number * 512 +
			req->discard.nr_sectors * 512 <=
		    h->h_disk_size)
			memset(h->h_disk + req->discard.sector_number * 512, 0,
			    req->discard.nr_sectors * 512);
		hostile_respond(h, rw->id, rw->operation, BLKIF_RSP_OKAY);
		return;
	default:
		hostile_respond(h, rw->id, rw->operation, BLKIF_RSP_EOPNOTSUPP);
		return;
	}
	if (n > BLKIF_MAX_SEGMENTS_PER_REQUEST) {
		hostile_respond(h, rw->id, rw->operation, BLKIF_RSP_ERROR);
		return;
	}
	for (i = 0; i < n; i++)
		segs[i].ms_ref = rw->seg[i].gref;
	if (n > 0 && plat_map_batch(h->h_plat, h->h_fe_id, n, rd, segs) != 0)
		status = BLKIF_RSP_ERROR;
	for (i = 0; i < n && status == BLKIF_RSP_OKAY; i++) {
		len = (uint64_t)(rw->seg[i].last_sect - rw->seg[i].first_sect +
			  1) *
		    512;
		if (rw->seg[i].last_sect > 7 ||
		    rw->seg[i].first_sect > rw->seg[i].last_sect ||
		    off + len > h->h_disk_size) {
			status = BLKIF_RSP_ERROR;
			break;
		}
		page = (char *)segs[i].ms_addr + rw->seg[i].first_sect * 512;
		if (rd)
			memcpy(page, h->h_disk + off, len);
		else
			memcpy(h->h_disk + off, page, len);
		off += len;
	}
	if (n > 0)
		plat_unmap_batch(h->h_plat, n, segs);
	hostile_respond(h, rw->id, rw->operation, status);
}

static void
hostile_publish(struct hostile *h)
{
	char v[32];
	int i;

	snprintf(v, sizeof(v), "%ju", (uintmax_t)(h->h_disk_size / 512));
	hostile_write(h, "sectors", v);
	hostile_write(h, "sector-size", "512");
	hostile_write(h, "info", "0");
	hostile_write(h, "feature-flush-cache", "1");
	hostile_write(h, "feature-barrier", "1");
	for (i = 0; h->h_nodes[i].n_name != NULL; i++)
		hostile_write(h, h->h_nodes[i].n_name, h->h_nodes[i].n_value);
}

static bool
hostile_stopping(struct hostile *h)
{
	bool s;

	pthread_mutex_lock(&h->h_lock);
	s = h->h_stop;
	pthread_mutex_unlock(&h->h_lock);
	return (s);
}

/* The backend half of the handshake; false when stopped first. */
static bool
hostile_handshake(struct hostile *h)
{
	grant_ref_t refs[32];
	uint64_t order = 0, v;
	char node[32];
	uint32_t i;

	hostile_publish(h);
	if (!h->h_skip_initwait)
		(void)xbus_write_state(h->h_xs, h->h_be, XenbusStateInitWait);
	if (h->h_skip_initwait)
		(void)xbus_write_state(h->h_xs, h->h_be, XenbusStateConnected);
	for (;;) {
		enum xenbus_state s = xbus_read_state(h->h_xs, h->h_fe);

		if (s == XenbusStateInitialised || s == XenbusStateConnected)
			break;
		if (hostile_stopping(h))
			return (false);
		usleep(1000);
	}
	(void)xbus_read_u64_def(h->h_xs, XBT_NULL, h->h_fe, "ring-page-order",
	    5, 0, &order);
	h->h_npages = 1u << order;
	for (i = 0; i < h->h_npages; i++) {
		if (h->h_npages == 1)
			snprintf(node, sizeof(node), "ring-ref");
		else
			snprintf(node, sizeof(node), "ring-ref%u", i);
		if (xbus_read_u64(h->h_xs, XBT_NULL, h->h_fe, node, UINT32_MAX,
			&v) != 0)
			return (false);
		refs[i] = (grant_ref_t)v;
	}
	if (xbus_read_u64(h->h_xs, XBT_NULL, h->h_fe, "event-channel",
		UINT32_MAX, &v) != 0)
		return (false);
	if (plat_map(h->h_plat, h->h_fe_id, h->h_npages, refs, true,
		&h->h_sring) != 0)
		return (false);
	if (xring_back_init(&h->h_ring, h->h_sring, h->h_npages,
		XRING_ABI_NATIVE) != 0 ||
	    plat_evtchn_open(h->h_plat, &h->h_ev) != 0 ||
	    plat_evtchn_bind_interdomain(h->h_ev, h->h_fe_id, (evtchn_port_t)v,
		&h->h_port) != 0)
		return (false);
	(void)xbus_write_state(h->h_xs, h->h_be, XenbusStateConnected);
	h->h_connected = true;
	return (true);
}

/* Drop every mapping: the ring, held grants, the channel. */
static void
hostile_release(struct hostile *h)
{
	if (h->h_held > 0) {
		plat_unmap_batch(h->h_plat, (uint32_t)h->h_held,
		    h->h_held_segs);
		h->h_held = 0;
	}
	if (h->h_ev != NULL) {
		plat_evtchn_close(h->h_ev);
		h->h_ev = NULL;
	}
	if (h->h_sring != NULL) {
		(void)plat_unmap(h->h_plat, h->h_sring, h->h_npages);
		h->h_sring = NULL;
	}
}

static void *
hostile_main(void *arg)
{
	struct hostile *h = arg;
	enum xenbus_state fstate, mirrored = XenbusStateUnknown;
	union xring_req req;
	evtchn_port_t port;
	struct pollfd pfd;
	int n;

	if (!hostile_handshake(h))
		return (NULL);
	pfd.fd = plat_evtchn_fd(h->h_ev);
	while (!hostile_stopping(h)) {
		pfd.events = POLLIN;
		(void)poll(&pfd, 1, 10);
		/* Mirror a closing frontend, as Linux blkback does. */
		fstate = xbus_read_state(h->h_xs, h->h_fe);
		if (fstate == XenbusStateClosing ||
		    fstate == XenbusStateClosed) {
			hostile_release(h);
			/* Write a state once, not on every pass. */
			if (fstate != mirrored)
				(void)xbus_write_state(h->h_xs, h->h_be,
				    fstate);
			mirrored = fstate;
			continue;
		}
		pthread_mutex_lock(&h->h_lock);
		h->h_paused = h->h_pause;
		pthread_mutex_unlock(&h->h_lock);
		if (h->h_sring == NULL || h->h_paused)
			continue;
		while (plat_evtchn_pending(h->h_ev, &port) == 0)
			(void)plat_evtchn_unmask(h->h_ev, port);
		for (;;) {
			if ((n = xring_back_poll(&h->h_ring)) <= 0)
				break;
			while (n-- > 0) {
				xring_back_take(&h->h_ring, &req);
				pthread_mutex_lock(&h->h_lock);
				h->h_requests++;
				pthread_mutex_unlock(&h->h_lock);
				if (h->h_hook == NULL ||
				    h->h_hook(h, &req) == 0)
					hostile_serve(h, &req);
			}
			hostile_push(h);
		}
		(void)xring_back_final_check(&h->h_ring);
	}
	return (NULL);
}

int
hostile_start(struct hostile *h, void *priv_xs)
{
	struct xbus_vbd v = { 0 };
	int rc;

	h->h_priv = priv_xs;
	pthread_mutex_init(&h->h_lock, NULL);
	if ((h->h_disk = calloc(1, h->h_disk_size)) == NULL)
		return (-ENOMEM);
	if ((h->h_xs = plat_xs_open(h->h_plat)) == NULL)
		return (-EIO);
	v.v_frontend_id = h->h_fe_id;
	v.v_backend_id = plat_domid(h->h_plat);
	v.v_vdev = h->h_vdev;
	v.v_kind = "vbd";
	v.v_params = "hostile";
	if ((rc = xbus_vbd_paths(&v, h->h_fe, sizeof(h->h_fe), h->h_be,
		 sizeof(h->h_be))) != 0 ||
	    (rc = xbus_vbd_add(h->h_priv, &v)) != 0)
		return (rc);
	if (pthread_create(&h->h_thread, NULL, hostile_main, h) != 0)
		return (-EAGAIN);
	return (0);
}

void
hostile_pause(struct hostile *h, bool pause)
{
	bool done = false;

	pthread_mutex_lock(&h->h_lock);
	h->h_pause = pause;
	pthread_mutex_unlock(&h->h_lock);
	while (!done) {
		pthread_mutex_lock(&h->h_lock);
		done = h->h_paused == pause;
		pthread_mutex_unlock(&h->h_lock);
		if (!done)
			usleep(500);
	}
}

void
hostile_stop(struct hostile *h)
{
	struct xbus_vbd v = { 0 };

	pthread_mutex_lock(&h->h_lock);
	h->h_stop = true;
	pthread_mutex_unlock(&h->h_lock);
	pthread_join(h->h_thread, NULL);
	hostile_release(h);
	v.v_frontend_id = h->h_fe_id;
	v.v_backend_id = plat_domid(h->h_plat);
	v.v_vdev = h->h_vdev;
	v.v_kind = "vbd";
	(void)xbus_vbd_remove(h->h_priv, &v, 0, true);
	if (h->h_xs != NULL)
		xs_close(h->h_xs);
	free(h->h_disk);
	pthread_mutex_destroy(&h->h_lock);
}
