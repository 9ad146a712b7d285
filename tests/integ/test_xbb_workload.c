/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Description: a random read/write workload through the scripted
 * frontend, verified byte for byte against an in-memory model of the
 * disk, in several backend and frontend configurations: grant map with
 * one small ring; persistent grants over three queues of four pages with
 * random sub-page segment layouts and indirect requests (D9's
 * adversarial-but-legal layouts); grant copy with the x86_32 ABI;
 * O_DIRECT with an io_uring of four entries and a persistent cache of
 * sixteen, so that the shortage paths run.  Each batch holds up to 24
 * requests on disjoint ranges, spread over the queues, some of them
 * flushes carrying data; every read is compared with the model, and at
 * the end the image file itself is.
 */

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "common/xu_assert.h"
#include "xbbt_front.h"
#include "xt.h"

#define XVDA 51712u
#define IMG_SIZE (8u << 20)
#define SECTORS (IMG_SIZE / 512)
#define BATCH_MAX 24
#define BATCHES 80

struct config {
	const char *name;     /* for failure messages */
	struct xbb_opts bo;   /* backend */
	struct xbbt_fopts fo; /* frontend */
	bool shortages;	      /* expect io_uring shortages */
};

struct pending {
	struct xbbt_io *io; /* the request */
	unsigned int q;	    /* its ring */
	uint8_t *data;	    /* written data, or read result */
	bool done;	    /* answered */
};

static uint8_t *model;

static bool
overlaps(const struct pending *p, unsigned int n, uint64_t s, uint32_t len)
{
	unsigned int i;

	for (i = 0; i < n; i++)
		if (s < p[i].io->io_sector + p[i].io->io_nsect &&
		    p[i].io->io_sector < s + len)
			return (true);
	return (false);
}

static void
run_config(struct config *c, uint64_t seed)
{
	struct xbbt_machine m;
	struct xbbt_front f;
	struct xbbt_vbd v;
	struct xbb_stats st;
	struct pending p[BATCH_MAX];
	struct blkif_response rsp;
	char img[512];
	uint64_t sector, done = 0;
	uint32_t nsect, max;
	unsigned int b, i, n, q, want, flags, left[XBB_MAX_QUEUES];
	uint8_t op;
	uint8_t *disk;
	int fd;

	assert_int_equal(xbbt_machine_start(&m), 0);
	xbbt_image(&m, "work.img", IMG_SIZE, img, sizeof(img));
	assert_int_equal(xbbt_backend_start(&m, &c->bo), 0);
	memset(&v, 0, sizeof(v));
	v.v_vdev = XVDA;
	v.v_params = img;
	assert_int_equal(xbbt_vbd_add(&m, &v), 0);
	assert_int_equal(xbbt_front_open(&f, &m, XVDA, &c->fo), 0);
	assert_int_equal(xbbt_front_connect(&f), 0);
	memset(model, 0, IMG_SIZE);
	for (b = 0; b < BATCHES; b++) {
		n = 1 + (unsigned int)(xbbt_rand(&seed) % BATCH_MAX);
		memset(left, 0, sizeof(left));
		for (i = 0; i < n;) {
			switch (xbbt_rand(&seed) % 8) {
			case 0:
				op = BLKIF_OP_FLUSH_DISKCACHE;
				break;
			case 1:
			case 2:
			case 3:
				op = BLKIF_OP_WRITE;
				break;
			default:
				op = BLKIF_OP_READ;
				break;
			}
			flags = (unsigned int)(xbbt_rand(&seed) % 4);
			flags = (flags & 1 ? XBBT_SUB : 0) |
			    (flags & 2 && f.f_max_indirect ? XBBT_INDIRECT : 0);
			/* Only reads and writes may be indirect. */
			if (op == BLKIF_OP_FLUSH_DISKCACHE)
				flags = (flags & ~XBBT_INDIRECT) | XBBT_DIRECT;
			/* Keep the segment count within what is offered. */
			if (f.f_max_indirect == 0 || (flags & XBBT_DIRECT))
				max = flags & XBBT_SUB ? 11 : 88;
			else
				max = flags & XBBT_SUB ? f.f_max_indirect :
							 8 * f.f_max_indirect;
			if (xbbt_rand(&seed) % 8 != 0)
				max = XU_MIN(max, 64u);
			nsect = 1 + (uint32_t)(xbbt_rand(&seed) % max);
			sector = xbbt_rand(&seed) % (SECTORS - nsect);
			/* Pages: a segment each, plus the indirect ones. */
			if (f.f_nfree < nsect + 8 ||
			    overlaps(p, i, sector, nsect)) {
				n = i;
				break;
			}
			q = (unsigned int)(xbbt_rand(&seed) % f.f_nrings);
			p[i].q = q;
			p[i].done = false;
			p[i].data = malloc((size_t)nsect * 512);
			assert_non_null(p[i].data);
			if (op != BLKIF_OP_READ)
				for (size_t k = 0; k < (size_t)nsect * 64; k++)
					((uint64_t *)p[i].data)[k] =
					    xbbt_rand(&seed);
			assert_int_equal(
			    xbbt_rw_start(&f, q, &p[i].io, op, sector, nsect,
				op == BLKIF_OP_READ ? NULL : p[i].data, flags),
			    0);
			left[q]++;
			i++;
		}
		for (q = 0; q < f.f_nrings; q++)
			xbbt_push(&f, q);
		for (q = 0; q < f.f_nrings; q++) {
			for (; left[q] > 0; left[q]--) {
				assert_int_equal(
				    xbbt_wait(&f, q, &rsp, XBBT_TIMEOUT_MS), 0);
				for (want = 0; want < n; want++)
					if (!p[want].done &&
					    p[want].io->io_id == rsp.id)
						break;
				if (want == n)
					fail_msg("%s: unexpected id %llu",
					    c->name,
					    (unsigned long long)rsp.id);
				if (rsp.status != BLKIF_RSP_OKAY)
					fail_msg("%s: batch %u: status %d",
					    c->name, b, rsp.status);
				assert_int_equal(rsp.operation,
				    p[want].io->io_op);
				p[want].done = true;
			}
		}
		for (i = 0; i < n; i++) {
			sector = p[i].io->io_sector;
			nsect = p[i].io->io_nsect;
			op = p[i].io->io_op;
			xbbt_rw_end(&f, p[i].io,
			    op == BLKIF_OP_READ ? p[i].data : NULL);
			if (op == BLKIF_OP_READ) {
				if (memcmp(p[i].data, model + sector * 512,
					(size_t)nsect * 512) != 0)
					fail_msg("%s: batch %u: read of %u "
						 "at %llu differs",
					    c->name, b, nsect,
					    (unsigned long long)sector);
			} else {
				memcpy(model + sector * 512, p[i].data,
				    (size_t)nsect * 512);
			}
			done += nsect;
			free(p[i].data);
		}
	}
	assert_int_equal(xbbt_nodata(&f, 0, BLKIF_OP_FLUSH_DISKCACHE),
	    BLKIF_RSP_OKAY);
	xbbt_stats(&m, XVDA, &st);
	assert_int_equal(st.st_rsp_error, 0);
	assert_int_equal(st.st_in_flight, 0);
	assert_true(st.st_bytes_read + st.st_bytes_written == done * 512);
	if (c->shortages)
		assert_true(st.st_shortage_uring > 0);
	xbbt_front_close(&f);
	xbbt_backend_stop(&m);
	/* What the image holds is what the model says. */
	disk = malloc(IMG_SIZE);
	assert_non_null(disk);
	fd = open(img, O_RDONLY | O_CLOEXEC);
	assert_true(fd >= 0);
	assert_int_equal(pread(fd, disk, IMG_SIZE, 0), (ssize_t)IMG_SIZE);
	close(fd);
	if (memcmp(disk, model, IMG_SIZE) != 0)
		fail_msg("%s: the image differs from the model", c->name);
	free(disk);
	unlink(img);
	xbbt_machine_stop(&m);
}

/* catalogue: D9 */
static void
test_map(void **state)
{
	struct config c;

	memset(&c, 0, sizeof(c));
	c.name = "map";
	xbb_opts_init(&c.bo);
	c.bo.o_max_indirect_segs = 0;
	run_config(&c, 1);
}

/* catalogue: D9 */
static void
test_persistent_mq(void **state)
{
	struct config c;

	memset(&c, 0, sizeof(c));
	c.name = "persistent, 3 queues";
	xbb_opts_init(&c.bo);
	c.fo.fo_persistent = true;
	c.fo.fo_queues = 3;
	c.fo.fo_pages = 4;
	c.fo.fo_data_pages = 4096;
	run_config(&c, 2);
}

/* catalogue: D9 */
static void
test_copy_x86_32(void **state)
{
	struct config c;

	memset(&c, 0, sizeof(c));
	c.name = "grant copy, x86_32";
	xbb_opts_init(&c.bo);
	c.bo.o_grant_copy = true;
	c.bo.o_max_indirect_segs = 512;
	c.fo.fo_x86_32 = true;
	c.fo.fo_pages = 2;
	c.fo.fo_data_pages = 4096;
	run_config(&c, 3);
}

static void
test_direct_starved(void **state)
{
	struct config c;

	memset(&c, 0, sizeof(c));
	c.name = "O_DIRECT, tiny io_uring and cache";
	xbb_opts_init(&c.bo);
	c.bo.o_direct = true;
	c.bo.o_uring_depth = 4;
	c.bo.o_max_persistent = 16;
	c.fo.fo_persistent = true;
	c.fo.fo_data_pages = 4096;
	c.shortages = true;
	run_config(&c, 4);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_map),
		cmocka_unit_test(test_persistent_mq),
		cmocka_unit_test(test_copy_x86_32),
		cmocka_unit_test(test_direct_starved),
	};
	int rc;

	xbbt_require_uring();
	model = malloc(IMG_SIZE);
	assert_non_null(model);
	rc = cmocka_run_group_tests(tests, NULL, NULL);
	free(model);
	return (rc);
}
