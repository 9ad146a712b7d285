/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * A stream of verified one-page writes through the scripted frontend
 * (xbbt_front.h, ring 0), for backends restarted or killed under I/O:
 * up to XBBT_STREAM_DEPTH writes in flight to XBBT_STREAM_BLOCKS blocks
 * of the image, never two to one block at once, each with data no
 * other write repeats.  Every response must answer a write in flight,
 * once, OKAY; in the end the image must hold each block's last write.
 */

#ifndef XBD_TESTS_XBBT_STREAM_H
#define XBD_TESTS_XBBT_STREAM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "xbbt_front.h"

/* Enough to keep a ring thread busy, few enough to leave slots free. */
#define XBBT_STREAM_DEPTH 8
/* Blocks written: more than in flight, so that writes move around. */
#define XBBT_STREAM_BLOCKS 64

struct xbbt_stream {
	struct xbbt_io *s_io[XBBT_STREAM_DEPTH]; /* in flight, or NULL */
	uint32_t s_blk[XBBT_STREAM_DEPTH];	 /* the block of each */
	bool s_taint[XBBT_STREAM_DEPTH];	 /* its grants may be held by
						    a dead backend: kept */
	uint32_t s_gen[XBBT_STREAM_BLOCKS];	 /* generations written */
	bool s_busy[XBBT_STREAM_BLOCKS];	 /* a write in flight */
	uint64_t s_sent, s_done;		 /* writes */
	uint64_t s_seed;			 /* block choice */
	unsigned int s_flags;			 /* layout (xbbt_rw_start) */
	struct xbbt_io **s_old;			 /* tainted ones answered,
						    grants not ended yet */
	unsigned int s_nold;			 /* of them */
};

/* n bytes of data from seed, which no other seed gives. */
void xbbt_fill(uint8_t *b, size_t n, uint64_t seed);
/* Does the image at path hold the page want at sector? */
void xbbt_image_check(const char *path, uint64_t sector, const uint8_t *want);
/* Put a write in flight in free entry k and push it. */
void xbbt_stream_submit(struct xbbt_front *f, struct xbbt_stream *s,
    unsigned int k);
/* Take one response (waiting for it) and end its write. */
void xbbt_stream_reap(struct xbbt_front *f, struct xbbt_stream *s);
/* Does the image hold every block's last write? */
void xbbt_stream_verify(const char *path, const struct xbbt_stream *s);

#endif /* XBD_TESTS_XBBT_STREAM_H */
