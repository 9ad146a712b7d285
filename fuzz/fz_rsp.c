/* SPDX-License-Identifier: BSD-2-Clause */
/* The response scripts of the frontend's ring targets; see fz_rsp.h. */

#include <pthread.h>
#include <string.h>

#include "fz_rsp.h"

static _Alignas(
    4096) unsigned char fz_buf[FZ_RSP_BIOS][FZ_RSP_MAX_PAGES * 4096];
static struct xbd_bio fz_bio[FZ_RSP_BIOS];
static unsigned int fz_done[FZ_RSP_BIOS];
/* Completions may run on the frontend's event thread. */
static pthread_mutex_t fz_lock = PTHREAD_MUTEX_INITIALIZER;

static void
fz_bio_done(struct xbd_bio *bp, int error)
{
	unsigned int i = (unsigned int)(bp - fz_bio);

	pthread_mutex_lock(&fz_lock);
	if (++fz_done[i] > 1)
		fz_die("a bio completed twice");
	pthread_mutex_unlock(&fz_lock);
}

unsigned int
fz_rsp_submit(struct xbd_dev *dev, const uint8_t **p, const uint8_t *end,
    unsigned int *sent)
{
	static const enum xbd_cmd cmds[] = { XBD_CMD_READ, XBD_CMD_WRITE,
		XBD_CMD_FLUSH, XBD_CMD_DISCARD };
	struct xbd_bio *bp;
	unsigned int i, n;

	*sent = 0;
	n = *p < end ? 1 + *(*p)++ % FZ_RSP_BIOS : 1;
	for (i = 0; i < n; i++) {
		bp = &fz_bio[i];
		memset(bp, 0, sizeof(*bp));
		bp->bio_cmd = cmds[*p < end ? *(*p)++ % 4 : 0];
		bp->bio_length =
		    (uint64_t)(1 +
			(*p < end ? *(*p)++ : 0) % FZ_RSP_MAX_PAGES) *
		    4096;
		bp->bio_offset = (uint64_t)(*p < end ? *(*p)++ : 0) * 4096;
		bp->bio_data = fz_buf[i];
		bp->bio_done = fz_bio_done;
		if (bp->bio_cmd == XBD_CMD_FLUSH)
			bp->bio_length = bp->bio_offset = 0;
		pthread_mutex_lock(&fz_lock);
		fz_done[i] = 0;
		pthread_mutex_unlock(&fz_lock);
		if (xbd_submit(dev, bp) != 0) {
			/* Refused up front: never called. */
			pthread_mutex_lock(&fz_lock);
			fz_done[i] = 1;
			pthread_mutex_unlock(&fz_lock);
		} else {
			(*sent)++;
		}
	}
	return (n);
}

bool
fz_rsp_all_done(unsigned int n)
{
	bool all = true;
	unsigned int i;

	pthread_mutex_lock(&fz_lock);
	for (i = 0; i < n; i++)
		all = all && fz_done[i] == 1;
	pthread_mutex_unlock(&fz_lock);
	return (all);
}

static int16_t
fz_status(uint8_t st, uint8_t raw)
{
	switch (st % 4) {
	case 0:
		return (BLKIF_RSP_OKAY);
	case 1:
		return (BLKIF_RSP_ERROR);
	case 2:
		return (BLKIF_RSP_EOPNOTSUPP);
	default:
		return ((int16_t)(st | raw << 8));
	}
}

bool
fz_rsp_step(struct hostile *h, const uint8_t *p, const union xring_req *reqs,
    unsigned int nreqs)
{
	unsigned int k;

	switch (p[0] % 4) {
	case 0:
		if (nreqs == 0)
			break;
		k = p[1] % nreqs;
		hostile_respond(h, reqs[k].rw.id,
		    (p[3] & 0x80) != 0 ? p[3] & 0x7f : reqs[k].rw.operation,
		    fz_status(p[2], p[3]));
		break;
	case 1:
		hostile_respond(h, (uint64_t)(p[1] | p[2] << 8), p[3],
		    BLKIF_RSP_OKAY);
		break;
	case 2:
		h->h_ring.xr_u.native.rsp_prod_pvt += (int8_t)p[1];
		break;
	default:
		return (true);
	}
	return (false);
}
