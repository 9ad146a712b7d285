/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Fuzz target: the frontend's XenBus state machine run on the fuzzer's
 * thread.  fuzz_xbus_front plays the same scripts end to end (a backend
 * thread, the frontend's event thread, connect timeouts); here the
 * harness is the backend and, after each write to the backend's state
 * node, calls what the event thread calls when that node's watch fires
 * (xbd_backend_changed, then the close and recovery checks of its loop).
 * Nothing waits, so an input costs a few XenStore round trips.
 *
 * One machine and one vbd are built on the first input and kept.  Each
 * input publishes the backend's nodes (defaults, removed, nasty values
 * or raw bytes) and its first state, creates a frontend with no event
 * thread (the first half of xbd_attach), plays a script of state
 * changes, node rewrites, read submissions and spurious watch events,
 * then closes the backend and detaches.  After every step the device
 * must be in a state it can be in, a failed negotiation must carry an
 * errno and a connected device must report a sane geometry; every read
 * accepted must complete exactly once by the end of the detach.
 *
 * Input: as fuzz_xbus_front (its seeds are valid here).  The script's
 * step 2 submits a read, which nobody answers until the detach; step 3
 * fires the watch with no change.
 */

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fz_sim.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FZ_NELEM(a) (sizeof(a) / sizeof((a)[0]))
#define FZ_READS 4 /* reads submitted per input at most */

static const char *const fz_nodes[] = { "sectors", "sector-size",
	"physical-sector-size", "info", "feature-flush-cache",
	"feature-barrier", "feature-discard", "discard-granularity",
	"discard-alignment", "discard-secure", "max-ring-page-order",
	"max-ring-pages", "feature-max-indirect-segments",
	"multi-queue-max-queues", "feature-persistent", "mode" };

/* What the scripted backend of fuzz_xbus_front publishes by default. */
static const char *const fz_defaults[FZ_NELEM(fz_nodes)] = { "2048", "512",
	NULL, "0", "1", "1" };

static const char *const fz_nasty[] = { "", "0", "1", "-1", "1abc", " 1", "7",
	"9", "31", "255", "511", "512", "513", "4096", "8192", "65536",
	"4294967295", "4294967296", "18446744073709551615",
	"18446744073709551616", "36028797018963968", "r", "w", "abc" };

static const char *const fz_states[] = { "0", "1", "2", "3", "4", "5", "6", "7",
	"8", "99", "abc", "" };

static struct {
	struct fz_sim m_sim;		     /* the machine */
	struct xs_handle *m_bxs;	     /* XenStore as domain 0 */
	char m_be[XBUS_PATH_MAX];	     /* the backend directory */
	char m_vals[FZ_NELEM(fz_nodes)][40]; /* raw values published */
} fz;

static _Alignas(4096) unsigned char fz_buf[FZ_READS][4096];
static struct xbd_bio fz_bio[FZ_READS];
static unsigned int fz_done[FZ_READS];

static void
fz_bio_done(struct xbd_bio *bp, int error)
{
	if (error > 0)
		fz_die("a read completed with a positive value");
	if (++fz_done[bp - fz_bio] > 1)
		fz_die("a read completed twice");
}

static uint8_t
fz_byte(const uint8_t **p, const uint8_t *end)
{
	return (*p < end ? *(*p)++ : 0);
}

static void
fz_write(const char *node, const char *val)
{
	if (val == NULL)
		(void)xbus_rm(fz.m_bxs, XBT_NULL, fz.m_be, node);
	else
		(void)xbus_write(fz.m_bxs, XBT_NULL, fz.m_be, node, val);
}

/* The machine and a vbd whose backend half this harness plays. */
static void
fz_up(void)
{
	struct xbus_vbd v;
	char fe[XBUS_PATH_MAX];

	fz_sim_start(&fz.m_sim);
	memset(&v, 0, sizeof(v));
	v.v_frontend_id = 1;
	v.v_vdev = 51712;
	v.v_kind = "vbd";
	v.v_params = "fuzz";
	if ((fz.m_bxs = plat_xs_open(fz.m_sim.s_be)) == NULL ||
	    xbus_vbd_paths(&v, fe, sizeof(fe), fz.m_be, sizeof(fz.m_be)) != 0 ||
	    xbus_vbd_add(fz.m_sim.s_priv, &v) != 0)
		fz_die("no vbd");
}

/* Publish every node as the input says. */
static void
fz_nodes_pick(const uint8_t **p, const uint8_t *end)
{
	size_t i, k, len;

	for (i = 0; i < FZ_NELEM(fz_nodes); i++) {
		switch (fz_byte(p, end) % 4) {
		case 0:
			fz_write(fz_nodes[i], fz_defaults[i]);
			break;
		case 1:
			fz_write(fz_nodes[i], NULL);
			break;
		case 2:
			fz_write(fz_nodes[i],
			    fz_nasty[fz_byte(p, end) % FZ_NELEM(fz_nasty)]);
			break;
		default:
			len = fz_byte(p, end) % (sizeof(fz.m_vals[i]) - 1);
			for (k = 0; k < len && *p < end; k++, (*p)++)
				fz.m_vals[i][k] = **p != 0 ? (char)**p : '0';
			fz.m_vals[i][k] = '\0';
			fz_write(fz_nodes[i], fz.m_vals[i]);
		}
	}
}

/* What a connected frontend reports must make sense. */
static void
fz_check(struct xbd_softc *sc)
{
	struct xbd_info in;

	if (sc->xbd_attach_error > 0)
		fz_die("a negotiation failed with a positive value");
	switch (sc->xbd_state) {
	case XBD_STATE_DISCONNECTED:
	case XBD_STATE_ERROR:
	case XBD_STATE_GONE:
	case XBD_STATE_RECOVERING:
		return;
	case XBD_STATE_CONNECTED:
		break;
	default:
		fz_die("a state the device cannot be in");
	}
	xbd_get_info((struct xbd_dev *)sc, &in);
	if (in.xi_sector_size < 512 || in.xi_sector_size > 4096 ||
	    (in.xi_sector_size & (in.xi_sector_size - 1)) != 0)
		fz_die("sector size accepted");
	if (in.xi_sectors == 0 || in.xi_size / 512 != in.xi_sectors ||
	    in.xi_size % in.xi_sector_size != 0)
		fz_die("size accepted");
	if (in.xi_ring_pages == 0 || in.xi_ring_pages > 32 ||
	    in.xi_queues == 0 || in.xi_max_request_segments == 0)
		fz_die("limits accepted");
}

/* The backend's state watch fired: what the event thread does. */
static void
fz_changed(struct xbd_softc *sc)
{
	xbd_backend_changed(sc);
	xbd_closing_finish(sc);
	xbd_recovery_check(sc);
	fz_check(sc);
}

/* Submit a read nobody answers before the detach. */
static void
fz_read(struct xbd_softc *sc, unsigned int *nreads)
{
	struct xbd_bio *bp;
	int rc;

	if (*nreads == FZ_READS)
		return;
	bp = &fz_bio[*nreads];
	memset(bp, 0, sizeof(*bp));
	bp->bio_cmd = XBD_CMD_READ;
	bp->bio_length = sizeof(fz_buf[0]);
	bp->bio_data = fz_buf[*nreads];
	bp->bio_done = fz_bio_done;
	fz_done[*nreads] = 0;
	if ((rc = xbd_submit((struct xbd_dev *)sc, bp)) > 0)
		fz_die("a submit returned a positive value");
	if (rc != 0)
		fz_done[*nreads] = 1; /* refused up front: never called */
	(*nreads)++;
}

static void
fz_script(struct xbd_softc *sc, const uint8_t *p, const uint8_t *end,
    unsigned int *nreads)
{
	for (; end - p >= 2; p += 2) {
		switch (p[0] % 4) {
		case 0:
			fz_write("state",
			    fz_states[p[1] % FZ_NELEM(fz_states)]);
			fz_changed(sc);
			break;
		case 1:
			/* Only the state node is watched. */
			fz_write(fz_nodes[p[1] % FZ_NELEM(fz_nodes)],
			    fz_nasty[p[1] / FZ_NELEM(fz_nodes) %
				FZ_NELEM(fz_nasty)]);
			break;
		case 2:
			fz_read(sc, nreads);
			break;
		default:
			fz_changed(sc);
		}
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *p = data, *end = data + size;
	struct xbd_softc *sc;
	unsigned int nreads = 0, i;
	struct xbd_opts o;
	uint8_t flags;

	if (fz.m_bxs == NULL)
		fz_up();
	flags = fz_byte(&p, end);
	fz_nodes_pick(&p, end);
	fz_write("state", (flags & 1) != 0 ? "4" : "2");
	xbd_opts_init(&o);
	o.o_recovery_timeout_ms = 0;
	o.o_max_queues = 2;
	/* The pool is zeroed at every connect; no read is ever served. */
	o.o_bounce_pages = 16;
	if (xbd_create(fz.m_sim.s_xp, "xvda", &o, &sc) != 0)
		fz_die("no device");
	/* The watch fires once when it is set. */
	fz_changed(sc);
	fz_script(sc, p, end, &nreads);
	/* A backend gone Closed: the detach does not wait for it. */
	fz_write("state", "6");
	xbd_detach((struct xbd_dev *)sc);
	for (i = 0; i < nreads; i++)
		if (fz_done[i] != 1)
			fz_die("a read never completed");
	return (0);
}
