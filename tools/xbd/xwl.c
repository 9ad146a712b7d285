/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The workload engine (see xwl.h).  Completions resubmit the next I/O
 * themselves, on the device's event thread, so a steady state costs no
 * hand-off between threads; the calling thread only starts the first
 * c_qd I/Os, reports progress and waits for the end.
 */

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "common/xu_time.h"
#include "xwl.h"

#define XWL_MAGIC 0x31304b4c42444258ull /* "XBDBLK01" */
#define XWL_GEN_UNKNOWN UINT32_MAX	/* a write failed: content unknown */
/* Progress reports while waiting: often enough for a display. */
#define XWL_PROGRESS_MS 100

/* The header at the start of every verified block. */
struct xwl_hdr {
	uint64_t h_magic;  /* XWL_MAGIC */
	uint64_t h_offset; /* byte offset of the block */
	uint32_t h_gen;	   /* its generation */
	uint32_t h_crc;	   /* CRC32C of the rest of the block */
};

struct xwl;

struct xwl_io {
	struct xbd_bio io_bio; /* the bio */
	struct xwl *io_w;      /* the workload */
	uint8_t *io_buf;       /* c_bs bytes */
	uint64_t io_start;     /* submit time (ns) */
	uint64_t io_blk;       /* block index */
	bool io_zc;	       /* buffer from xbd_buf_alloc */
};

struct xwl {
	struct xbd_dev *w_dev;
	const struct xwl_cfg *w_c;
	struct xwl_result *w_r;
	uint64_t w_blocks;   /* blocks in the region */
	uint32_t *w_gen;     /* per block generation (verify) */
	uint8_t *w_busy;     /* per block: an I/O in flight */
	uint64_t w_next;     /* next sequential block */
	uint64_t w_issued;   /* I/Os started */
	uint64_t w_deadline; /* stop issuing after (ns, 0: none) */
	uint64_t w_writes;   /* writes since the last flush */
	bool w_flush_due;    /* the next I/O is a flush */
	int w_inflight;	     /* I/Os in flight */
	bool w_stop;	     /* issue nothing more */
	unsigned int w_seed; /* rand_r state */
	pthread_mutex_t w_m; /* protects the above */
	pthread_cond_t w_cv; /* the last I/O in flight finished */
	struct xwl_io w_io[XWL_MAX_QD];
};

static uint64_t
xwl_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ((uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec);
}

/* The CRC32C (Castagnoli) table, built once. */
static uint32_t xwl_crc_table[256];
static pthread_once_t xwl_crc_once = PTHREAD_ONCE_INIT;

static void
xwl_crc_init(void)
{
	uint32_t c, j, k;

	for (j = 0; j < 256; j++) {
		c = j;
		for (k = 0; k < 8; k++)
			c = (c & 1) ? (c >> 1) ^ 0x82f63b78u : c >> 1;
		xwl_crc_table[j] = c;
	}
}

static uint32_t
xwl_crc32c(const uint8_t *p, size_t n)
{
	uint32_t crc = ~0u;
	size_t i;

	pthread_once(&xwl_crc_once, xwl_crc_init);
	for (i = 0; i < n; i++)
		crc = xwl_crc_table[(crc ^ p[i]) & 0xff] ^ (crc >> 8);
	return (~crc);
}

/* Fill a block for writing: header + payload from (offset, gen). */
static void
xwl_fill(uint8_t *buf, uint32_t bs, uint64_t off, uint32_t gen)
{
	struct xwl_hdr h;
	uint64_t x = off * 0x9e3779b97f4a7c15ull ^ gen, *p;
	size_t i;

	for (i = sizeof(h); i + 8 <= bs; i += 8) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		p = (uint64_t *)(void *)(buf + i);
		*p = x;
	}
	h.h_magic = XWL_MAGIC;
	h.h_offset = off;
	h.h_gen = gen;
	h.h_crc = xwl_crc32c(buf + sizeof(h), bs - sizeof(h));
	memcpy(buf, &h, sizeof(h));
}

/* Check a block read back; true when it is what we expect. */
static bool
xwl_check(const uint8_t *buf, uint32_t bs, uint64_t off, uint32_t gen,
    enum xwl_verify v)
{
	struct xwl_hdr h;
	size_t i;

	if (gen == XWL_GEN_UNKNOWN)
		return (true);
	if (gen == 0) {
		if (v != XWL_VERIFY_ALL)
			return (true);
		for (i = 0; i < bs; i++)
			if (buf[i] != 0)
				return (false);
		return (true);
	}
	memcpy(&h, buf, sizeof(h));
	return (h.h_magic == XWL_MAGIC && h.h_offset == off && h.h_gen == gen &&
	    h.h_crc == xwl_crc32c(buf + sizeof(h), bs - sizeof(h)));
}

static void
xwl_hist_add(struct xwl_result *r, uint64_t ns)
{
	unsigned int idx, msb;

	if (ns < 8) {
		idx = (unsigned int)ns;
	} else {
		msb = 63u - (unsigned int)__builtin_clzll(ns);
		idx = msb * 8 + (unsigned int)((ns >> (msb - 3)) & 7);
	}
	if (idx >= XWL_HIST)
		idx = XWL_HIST - 1;
	r->r_hist[idx]++;
}

uint64_t
xwl_percentile(const struct xwl_result *r, double q)
{
	uint64_t total = 0, seen = 0, want;
	unsigned int i, msb;

	for (i = 0; i < XWL_HIST; i++)
		total += r->r_hist[i];
	if (total == 0)
		return (0);
	want = (uint64_t)(q * (double)total);
	for (i = 0; i < XWL_HIST; i++) {
		seen += r->r_hist[i];
		if (seen > want)
			break;
	}
	if (i < 8)
		return (i);
	msb = i / 8;
	/* The upper edge of the bucket. */
	return ((1ull << msb) + ((uint64_t)(i % 8 + 1) << (msb - 3)));
}

static void xwl_done(struct xbd_bio *bp, int error);

/*
 * Prepare io for the next I/O, or return false when the run is over.
 * Called with w_m held.
 */
static bool
xwl_prepare(struct xwl *w, struct xwl_io *io)
{
	const struct xwl_cfg *c = w->w_c;
	uint64_t blk = 0;
	int tries;
	bool write;

	if (w->w_stop || (c->c_stop != NULL && *c->c_stop != 0) ||
	    (c->c_ops != 0 && w->w_issued >= c->c_ops) ||
	    (w->w_deadline != 0 && xwl_now() >= w->w_deadline))
		return (false);
	memset(&io->io_bio, 0, sizeof(io->io_bio));
	io->io_bio.bio_done = xwl_done;
	io->io_bio.bio_caller = io;
	if (w->w_flush_due) {
		w->w_flush_due = false;
		io->io_bio.bio_cmd = XBD_CMD_FLUSH;
		io->io_blk = UINT64_MAX;
		goto go;
	}
	for (tries = 0; tries < 64; tries++) {
		if (c->c_random)
			blk = (((uint64_t)rand_r(&w->w_seed) << 31) ^
				  (uint64_t)rand_r(&w->w_seed)) %
			    w->w_blocks;
		else
			blk = w->w_next++ % w->w_blocks;
		if (w->w_busy == NULL || !w->w_busy[blk])
			break;
	}
	if (w->w_busy != NULL) {
		if (w->w_busy[blk])
			return (false); /* region smaller than the queue */
		w->w_busy[blk] = 1;
	}
	write = rand_r(&w->w_seed) % 100 >= c->c_read_pct;
	io->io_blk = blk;
	io->io_bio.bio_cmd = write ? XBD_CMD_WRITE : XBD_CMD_READ;
	io->io_bio.bio_offset = c->c_offset + blk * c->c_bs;
	io->io_bio.bio_length = c->c_bs;
	io->io_bio.bio_data = io->io_buf;
	if (write && w->w_gen != NULL) {
		if (w->w_gen[blk] == XWL_GEN_UNKNOWN)
			w->w_gen[blk] = 0;
		w->w_gen[blk]++;
		xwl_fill(io->io_buf, c->c_bs, io->io_bio.bio_offset,
		    w->w_gen[blk]);
	}
	if (write && c->c_flush_every > 0 &&
	    ++w->w_writes >= (uint64_t)c->c_flush_every) {
		w->w_writes = 0;
		w->w_flush_due = true;
	}
go:
	w->w_issued++;
	w->w_inflight++;
	io->io_start = xwl_now();
	return (true);
}

/* Submit io; on a synchronous failure account it and give up on it. */
static void
xwl_submit(struct xwl *w, struct xwl_io *io)
{
	int rc;

	if ((rc = xbd_submit(w->w_dev, &io->io_bio)) != 0)
		xwl_done(&io->io_bio, rc);
}

static void
xwl_done(struct xbd_bio *bp, int error)
{
	struct xwl_io *io = bp->bio_caller;
	struct xwl *w = io->io_w;
	struct xwl_result *r = w->w_r;
	uint64_t lat = xwl_now() - io->io_start;
	bool again;

	pthread_mutex_lock(&w->w_m);
	r->r_ios++;
	r->r_lat_sum_ns += lat;
	xwl_hist_add(r, lat);
	if (error != 0) {
		r->r_errors++;
		if (r->r_first_error == 0)
			r->r_first_error = error;
		if (bp->bio_cmd == XBD_CMD_WRITE && w->w_gen != NULL)
			w->w_gen[io->io_blk] = XWL_GEN_UNKNOWN;
		/* A dead device: stop rather than spin on errors. */
		if (error == -EIO || error == -ENXIO)
			w->w_stop = true;
	} else {
		switch (bp->bio_cmd) {
		case XBD_CMD_READ:
			r->r_reads++;
			r->r_bytes += bp->bio_length;
			if (w->w_gen != NULL) {
				r->r_verified++;
				if (!xwl_check(io->io_buf, w->w_c->c_bs,
					bp->bio_offset, w->w_gen[io->io_blk],
					w->w_c->c_verify) &&
				    r->r_bad++ == 0)
					r->r_first_bad = bp->bio_offset;
			}
			break;
		case XBD_CMD_WRITE:
			r->r_writes++;
			r->r_bytes += bp->bio_length;
			break;
		default:
			r->r_flushes++;
			break;
		}
	}
	if (io->io_blk != UINT64_MAX && w->w_busy != NULL)
		w->w_busy[io->io_blk] = 0;
	w->w_inflight--;
	again = xwl_prepare(w, io);
	/*
	 * Only the end is worth a wake-up: the waiter looks at progress on
	 * its own every 100 ms, and waking it per I/O cost a context switch
	 * and three futex calls per request at QD1.
	 */
	if (w->w_inflight == 0)
		pthread_cond_broadcast(&w->w_cv);
	pthread_mutex_unlock(&w->w_m);
	if (again)
		xwl_submit(w, io);
}

static double
xwl_cpu(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return ((double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 +
	    (double)ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6);
}

/* The progress so far; called with w_m held. */
static void
xwl_snap(struct xwl *w, uint64_t t0, struct xwl_progress *p)
{
	const struct xwl_cfg *c = w->w_c;
	double frac;

	p->p_seconds = (double)(xwl_now() - t0) / 1e9;
	p->p_ios = w->w_r->r_ios;
	p->p_bytes = w->w_r->r_bytes;
	frac = c->c_ops != 0 ? (double)p->p_ios / (double)c->c_ops :
			       p->p_seconds / c->c_runtime;
	p->p_frac = frac > 1 ? 1 : frac;
	if (c->c_ops == 0)
		p->p_eta = c->c_runtime - p->p_seconds;
	else if (p->p_frac > 0)
		p->p_eta = p->p_seconds * (1 - p->p_frac) / p->p_frac;
	else
		p->p_eta = 0;
	if (p->p_eta < 0)
		p->p_eta = 0;
}

/* Free what xwl_alloc allocated (all of it or part). */
static void
xwl_free(struct xwl *w)
{
	const struct xwl_cfg *c = w->w_c;
	struct xwl_io *io;
	int i;

	for (i = 0; i < c->c_qd; i++) {
		io = &w->w_io[i];
		if (io->io_buf == NULL)
			continue;
		if (io->io_zc)
			xbd_buf_free(w->w_dev, io->io_buf, c->c_bs);
		else
			free(io->io_buf);
	}
	if (w->w_gen != c->c_genmap)
		free(w->w_gen);
	free(w->w_busy);
	pthread_cond_destroy(&w->w_cv);
	pthread_mutex_destroy(&w->w_m);
	free(w);
}

/*
 * The workload's state and buffers, allocated before the run (none
 * during it): the verify maps and one buffer per queue slot, from the
 * device's zero-copy region when asked and there is room.
 */
static int
xwl_alloc(struct xbd_dev *dev, const struct xwl_cfg *c, struct xwl_result *r,
    struct xwl **wp)
{
	struct xwl *w;
	struct xwl_io *io;
	int i;

	if ((w = calloc(1, sizeof(*w))) == NULL)
		return (-ENOMEM);
	w->w_dev = dev;
	w->w_c = c;
	w->w_r = r;
	w->w_seed = c->c_seed;
	w->w_blocks = c->c_span / c->c_bs;
	pthread_mutex_init(&w->w_m, NULL);
	pthread_cond_init(&w->w_cv, NULL);
	*wp = w;
	if (c->c_verify != XWL_VERIFY_NONE) {
		w->w_gen = c->c_genmap != NULL ?
		    c->c_genmap :
		    calloc(w->w_blocks, sizeof(uint32_t));
		w->w_busy = calloc(w->w_blocks, 1);
		if (w->w_gen == NULL || w->w_busy == NULL)
			return (-ENOMEM);
	}
	for (i = 0; i < c->c_qd; i++) {
		io = &w->w_io[i];
		io->io_w = w;
		io->io_zc = c->c_zero_copy;
		io->io_buf = io->io_zc ? xbd_buf_alloc(dev, c->c_bs) : NULL;
		if (io->io_buf == NULL) {
			io->io_zc = false;
			io->io_buf =
			    aligned_alloc(4096, (c->c_bs + 4095) & ~4095u);
		}
		if (io->io_buf == NULL)
			return (-ENOMEM);
		memset(io->io_buf, 0xa5, c->c_bs);
	}
	return (0);
}

/* Fill the queue: one I/O per slot, as long as there is work. */
static void
xwl_start(struct xwl *w, uint64_t t0)
{
	const struct xwl_cfg *c = w->w_c;
	struct xwl_io *io;
	int i;

	pthread_mutex_lock(&w->w_m);
	if (c->c_runtime > 0)
		w->w_deadline = t0 + (uint64_t)(c->c_runtime * 1e9);
	pthread_mutex_unlock(&w->w_m);
	for (i = 0; i < c->c_qd; i++) {
		pthread_mutex_lock(&w->w_m);
		io = &w->w_io[i];
		if (!xwl_prepare(w, io)) {
			pthread_mutex_unlock(&w->w_m);
			break;
		}
		pthread_mutex_unlock(&w->w_m);
		xwl_submit(w, io);
	}
}

/*
 * Wait for the last I/O, reporting progress every 100 ms; a stop request
 * abandons a recovery that holds I/O.  Returns the final progress in p.
 */
static void
xwl_wait(struct xwl *w, uint64_t t0, struct xwl_progress *p)
{
	const struct xwl_cfg *c = w->w_c;
	struct timespec until;
	bool abandoned = false;

	pthread_mutex_lock(&w->w_m);
	while (w->w_inflight > 0) {
		until = xu_deadline(CLOCK_REALTIME, XWL_PROGRESS_MS);
		(void)pthread_cond_timedwait(&w->w_cv, &w->w_m, &until);
		/* Held I/O would otherwise keep us until recovery ends. */
		if (c->c_stop != NULL && *c->c_stop != 0 && !abandoned) {
			abandoned = true;
			xbd_recovery_abandon(w->w_dev);
		}
		if (c->c_progress == NULL)
			continue;
		xwl_snap(w, t0, p);
		pthread_mutex_unlock(&w->w_m);
		c->c_progress(p, c->c_progress_arg);
		pthread_mutex_lock(&w->w_m);
	}
	xwl_snap(w, t0, p);
	pthread_mutex_unlock(&w->w_m);
}

int
xwl_run(struct xbd_dev *dev, const struct xwl_cfg *c, struct xwl_result *r)
{
	struct xwl_progress p;
	struct xwl *w = NULL;
	uint64_t t0;
	double cpu0;
	int rc;

	memset(r, 0, sizeof(*r));
	if (c->c_bs == 0 || (c->c_bs & 511) != 0 || c->c_qd < 1 ||
	    c->c_qd > XWL_MAX_QD || c->c_span < c->c_bs ||
	    (c->c_runtime <= 0 && c->c_ops == 0) ||
	    (c->c_verify != XWL_VERIFY_NONE && c->c_bs < 512))
		return (-EINVAL);
	if ((rc = xwl_alloc(dev, c, r, &w)) != 0) {
		if (w != NULL)
			xwl_free(w);
		return (rc);
	}
	t0 = xwl_now();
	cpu0 = xwl_cpu();
	xwl_start(w, t0);
	xwl_wait(w, t0, &p);
	r->r_seconds = (double)(xwl_now() - t0) / 1e9;
	r->r_cpu = xwl_cpu() - cpu0;
	if (c->c_progress != NULL) {
		/* The end of a whole run is 100%; a stopped one is not. */
		if (c->c_stop == NULL || *c->c_stop == 0) {
			p.p_frac = 1.0;
			p.p_eta = 0;
		}
		c->c_progress(&p, c->c_progress_arg);
	}
	xwl_free(w);
	return (0);
}
