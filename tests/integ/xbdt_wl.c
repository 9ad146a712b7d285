/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * A random, verified workload for the frontend tests: reads, writes,
 * ordered writes, flushes and discards at random offsets and sizes with
 * up to wl_qd I/Os in flight, checked byte for byte against a model of
 * the disk.  I/Os in flight never overlap, so every read has exactly one
 * right answer.
 */

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "xbdt_wl.h"

#define WL_BLOCK 4096u
#define WL_QD_MAX 64

struct wl_io {
	struct xbd_bio io_bio; /* the bio */
	struct wl *io_wl;      /* the workload */
	uint8_t *io_buf;       /* its buffer */
	size_t io_cap;	       /* buffer size */
	bool io_zc;	       /* buffer from xbd_buf_alloc */
	bool io_busy;	       /* in flight */
};

struct wl {
	struct xbd_dev *w_dev;
	const struct wl_opts *w_o;
	uint8_t *w_model;  /* expected disk content */
	uint8_t *w_lock;   /* per block: an I/O in flight covers it */
	uint64_t w_blocks; /* disk size in blocks */
	struct wl_io w_io[WL_QD_MAX];
	pthread_mutex_t w_m;  /* protects everything here */
	pthread_cond_t w_c;   /* an I/O completed */
	int w_inflight;	      /* I/Os in flight */
	struct wl_result w_r; /* the tally */
	unsigned int w_seed;  /* rand_r state */
};

static void
wl_done(struct xbd_bio *bp, int error)
{
	struct wl_io *io = bp->bio_caller;
	struct wl *w = io->io_wl;
	uint64_t b0 = bp->bio_offset / WL_BLOCK, nb, i;

	nb = bp->bio_cmd == XBD_CMD_FLUSH ?
	    0 :
	    (bp->bio_length + WL_BLOCK - 1) / WL_BLOCK;
	pthread_mutex_lock(&w->w_m);
	if (error != 0) {
		w->w_r.r_errors++;
		if (w->w_r.r_first_error == 0)
			w->w_r.r_first_error = error;
	} else {
		switch (bp->bio_cmd) {
		case XBD_CMD_READ:
			if (memcmp(io->io_buf, w->w_model + bp->bio_offset,
				bp->bio_length) != 0)
				w->w_r.r_mismatches++;
			w->w_r.r_reads++;
			break;
		case XBD_CMD_WRITE:
			memcpy(w->w_model + bp->bio_offset, io->io_buf,
			    bp->bio_length);
			w->w_r.r_writes++;
			break;
		case XBD_CMD_DISCARD:
			memset(w->w_model + bp->bio_offset, 0, bp->bio_length);
			w->w_r.r_discards++;
			break;
		case XBD_CMD_FLUSH:
			w->w_r.r_flushes++;
			break;
		}
	}
	for (i = 0; i < nb; i++)
		w->w_lock[b0 + i] = 0;
	io->io_busy = false;
	w->w_inflight--;
	pthread_cond_broadcast(&w->w_c);
	pthread_mutex_unlock(&w->w_m);
}

/* Pick a free range of 1..max_blocks blocks; false if none found. */
static bool
wl_pick(struct wl *w, uint64_t *b0, uint64_t *nb)
{
	uint64_t i, n;
	int tries;

	for (tries = 0; tries < 16; tries++) {
		n = 1 + (uint64_t)rand_r(&w->w_seed) % w->w_o->max_blocks;
		if (n > w->w_blocks)
			n = w->w_blocks;
		*b0 = (uint64_t)rand_r(&w->w_seed) % (w->w_blocks - n + 1);
		for (i = 0; i < n && w->w_lock[*b0 + i] == 0; i++)
			;
		if (i == n) {
			for (i = 0; i < n; i++)
				w->w_lock[*b0 + i] = 1;
			*nb = n;
			return (true);
		}
	}
	return (false);
}

int
wl_run(struct xbd_dev *dev, const struct wl_opts *o, struct wl_result *r)
{
	struct xbd_info info;
	struct wl *w;
	struct wl_io *io;
	uint64_t b0, nb, done;
	int i, rc = 0, pick;

	xbd_get_info(dev, &info);
	if ((w = calloc(1, sizeof(*w))) == NULL)
		return (-ENOMEM);
	w->w_dev = dev;
	w->w_o = o;
	w->w_seed = o->seed;
	w->w_blocks = info.xi_size / WL_BLOCK;
	w->w_model = calloc(1, info.xi_size);
	w->w_lock = calloc(1, w->w_blocks);
	pthread_mutex_init(&w->w_m, NULL);
	pthread_cond_init(&w->w_c, NULL);
	if (w->w_model == NULL || w->w_lock == NULL || o->qd > WL_QD_MAX) {
		rc = -ENOMEM;
		goto out;
	}
	/* Start from a known disk: read it all into the model. */
	if ((rc = xbd_read(dev, w->w_model, 0, info.xi_size)) != 0)
		goto out;
	for (i = 0; i < o->qd; i++) {
		io = &w->w_io[i];
		io->io_wl = w;
		io->io_cap = (size_t)o->max_blocks * WL_BLOCK;
		io->io_zc = o->zero_copy && (i % 2 == 0);
		io->io_buf = io->io_zc ? xbd_buf_alloc(dev, io->io_cap) : NULL;
		if (io->io_buf == NULL) {
			io->io_zc = false;
			io->io_buf = aligned_alloc(4096, io->io_cap);
		}
	}

	for (done = 0; done < o->ops;) {
		pthread_mutex_lock(&w->w_m);
		while (w->w_inflight >= o->qd)
			pthread_cond_wait(&w->w_c, &w->w_m);
		for (i = 0; w->w_io[i].io_busy; i++)
			;
		io = &w->w_io[i];
		memset(&io->io_bio, 0, sizeof(io->io_bio));
		io->io_bio.bio_done = wl_done;
		io->io_bio.bio_caller = io;
		pick = rand_r(&w->w_seed) % 100;
		if (pick < o->flush_pct) {
			io->io_bio.bio_cmd = XBD_CMD_FLUSH;
		} else if (!wl_pick(w, &b0, &nb)) {
			pthread_cond_wait(&w->w_c, &w->w_m);
			pthread_mutex_unlock(&w->w_m);
			continue;
		} else {
			io->io_bio.bio_offset = b0 * WL_BLOCK;
			io->io_bio.bio_length = nb * WL_BLOCK;
			io->io_bio.bio_data = io->io_buf;
			pick = rand_r(&w->w_seed) % 100;
			if (pick < o->discard_pct) {
				io->io_bio.bio_cmd = XBD_CMD_DISCARD;
				io->io_bio.bio_data = NULL;
			} else if (pick < 50) {
				io->io_bio.bio_cmd = XBD_CMD_READ;
			} else {
				io->io_bio.bio_cmd = XBD_CMD_WRITE;
				for (b0 = 0; b0 < nb * WL_BLOCK; b0++)
					io->io_buf[b0] =
					    (uint8_t)rand_r(&w->w_seed);
				if (rand_r(&w->w_seed) % 100 < o->ordered_pct)
					io->io_bio.bio_flags = XBD_BIO_ORDERED;
			}
		}
		io->io_busy = true;
		w->w_inflight++;
		pthread_mutex_unlock(&w->w_m);
		/* Not accepted: no completion will come, account it here. */
		if ((rc = xbd_submit(dev, &io->io_bio)) != 0)
			wl_done(&io->io_bio, rc);
		done++;
	}
	pthread_mutex_lock(&w->w_m);
	while (w->w_inflight > 0)
		pthread_cond_wait(&w->w_c, &w->w_m);
	pthread_mutex_unlock(&w->w_m);

	/* And the disk as a whole must equal the model. */
	{
		uint8_t *all = malloc(info.xi_size);

		if (all != NULL && xbd_read(dev, all, 0, info.xi_size) == 0 &&
		    memcmp(all, w->w_model, info.xi_size) != 0)
			w->w_r.r_mismatches++;
		free(all);
	}
	rc = 0;
out:
	for (i = 0; i < WL_QD_MAX; i++) {
		io = &w->w_io[i];
		if (io->io_buf == NULL)
			continue;
		if (io->io_zc)
			xbd_buf_free(dev, io->io_buf, io->io_cap);
		else
			free(io->io_buf);
	}
	*r = w->w_r;
	free(w->w_model);
	free(w->w_lock);
	pthread_cond_destroy(&w->w_c);
	pthread_mutex_destroy(&w->w_m);
	free(w);
	return (rc);
}

void *
wl_bg_run(void *arg)
{
	struct wl_bg *b = arg;

	b->rc = wl_run(b->dev, &b->wo, &b->r);
	return (NULL);
}
