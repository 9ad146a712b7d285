/* SPDX-License-Identifier: BSD-2-Clause */
/* A stream of verified writes for backend restarts; see xbbt_stream.h. */

#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include "common/xu_assert.h"
#include "xbbt_stream.h"
#include "xt.h"

void
xbbt_fill(uint8_t *b, size_t n, uint64_t seed)
{
	uint64_t s = seed ^ 0x9e3779b97f4a7c15ull, v;
	size_t i;

	for (i = 0; i < n; i += sizeof(v)) {
		v = xbbt_rand(&s);
		memcpy(b + i, &v, XU_MIN(sizeof(v), n - i));
	}
}

void
xbbt_image_check(const char *path, uint64_t sector, const uint8_t *want)
{
	uint8_t got[XBD_PAGE_SIZE];
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	assert_true(fd >= 0);
	assert_int_equal(
	    pread(fd, got, sizeof(got), (off_t)(sector * XBD_SECTOR_SIZE)),
	    (ssize_t)sizeof(got));
	close(fd);
	assert_memory_equal(got, want, sizeof(got));
}

/* A block's data in generation gen. */
static void
xbbt_stream_data(uint8_t *b, uint32_t blk, uint32_t gen)
{
	xbbt_fill(b, XBD_PAGE_SIZE, (uint64_t)blk << 32 | gen);
}

void
xbbt_stream_submit(struct xbbt_front *f, struct xbbt_stream *s, unsigned int k)
{
	uint8_t buf[XBD_PAGE_SIZE];
	uint32_t b;

	do
		b = (uint32_t)(xbbt_rand(&s->s_seed) % XBBT_STREAM_BLOCKS);
	while (s->s_busy[b]);
	s->s_busy[b] = true;
	s->s_blk[k] = b;
	xbbt_stream_data(buf, b, ++s->s_gen[b]);
	assert_int_equal(xbbt_rw_start(f, 0, &s->s_io[k], BLKIF_OP_WRITE,
			     (uint64_t)b * XBD_SECTORS_PER_PAGE,
			     XBD_SECTORS_PER_PAGE, buf, s->s_flags),
	    0);
	xbbt_push(f, 0);
	s->s_sent++;
}

void
xbbt_stream_reap(struct xbbt_front *f, struct xbbt_stream *s)
{
	struct blkif_response rsp;
	unsigned int k;

	assert_int_equal(xbbt_wait(f, 0, &rsp, XBBT_TIMEOUT_MS), 0);
	for (k = 0; k < XBBT_STREAM_DEPTH &&
	     (s->s_io[k] == NULL || s->s_io[k]->io_id != rsp.id);
	     k++)
		;
	assert_true(k < XBBT_STREAM_DEPTH);
	assert_int_equal(rsp.status, BLKIF_RSP_OKAY);
	if (s->s_taint[k])
		s->s_old[s->s_nold++] = s->s_io[k];
	else
		xbbt_rw_end(f, s->s_io[k], NULL);
	s->s_taint[k] = false;
	s->s_io[k] = NULL;
	s->s_busy[s->s_blk[k]] = false;
	s->s_done++;
}

void
xbbt_stream_verify(const char *path, const struct xbbt_stream *s)
{
	uint8_t want[XBD_PAGE_SIZE];
	uint32_t b;

	for (b = 0; b < XBBT_STREAM_BLOCKS; b++) {
		if (s->s_gen[b] == 0)
			continue;
		xbbt_stream_data(want, b, s->s_gen[b]);
		xbbt_image_check(path, (uint64_t)b * XBD_SECTORS_PER_PAGE,
		    want);
	}
}
