/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Description: durability across backend crashes.  A write/flush
 * workload of self-describing blocks (block number, generation,
 * checksum) runs against a backend process (`xbd serve`) that is killed
 * with SIGKILL at random points, XBD_KILL_POINTS times (default 25; the
 * documented long run uses 1000).  At each kill point, with the backend
 * dead and nothing able to write the image, every block of the image is
 * checked: it is intact (never torn), and it holds either the last
 * generation acknowledged for that block or the one in flight, never
 * anything older than what a completed flush covered.  A new backend
 * then starts and the frontend carries on with what it held.  At the
 * end, after a final flush, the image holds exactly the last
 * acknowledged generation of every block.
 */

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "front/xbd_internal.h"
#include "xbdt_mp.h"
#include "xt.h"

#define KP_BLOCK 4096u
/* Blocks the workload writes: few enough that most are rewritten. */
#define KP_NBLK 1024u
/* Writes in flight at once (each on a different block). */
#define KP_QD 8
/* A flush after this many write submissions. */
#define KP_FLUSH_EVERY 16
#define KP_MAGIC 0x6b707462u /* "kptb" */
#define KP_DEFAULT_POINTS 25

/* The head of a self-describing block; the rest is derived from it. */
struct kp_hdr {
	uint32_t h_magic;
	uint32_t h_gen;
	uint64_t h_lba;
	uint64_t h_sum; /* FNV-1a of the block with this field zero */
};

struct kp_slot {
	struct xbd_bio s_bio;
	struct kp *s_kp;
	uint32_t s_blk; /* block written, or UINT32_MAX for the flush */
	uint8_t s_buf[KP_BLOCK] __attribute__((aligned(512)));
};

struct kp {
	struct xbd_dev *k_dev;
	pthread_mutex_t k_lock;
	pthread_cond_t k_cv;
	bool k_stop;		      /* the submitter ends */
	int k_busy;		      /* slots in flight */
	bool k_flushing;	      /* a flush in flight */
	uint64_t k_errors;	      /* I/O that failed */
	uint64_t k_writes;	      /* writes acknowledged */
	uint64_t k_flushes;	      /* flushes acknowledged */
	unsigned int k_seed;	      /* the submitter's random state */
	uint32_t k_next[KP_NBLK];     /* next generation to write */
	uint32_t k_inflight[KP_NBLK]; /* generation in flight, 0: none */
	uint32_t k_acked[KP_NBLK];    /* last generation acknowledged */
	uint32_t k_durable[KP_NBLK];  /* last generation a flush covered */
	uint32_t k_snap[KP_NBLK];     /* acked[] when the flush was sent */
	struct kp_slot k_slot[KP_QD + 1];
};

static const char *xbd_bin;

/* FNV-1a of a block, skipping the h_sum field itself. */
static uint64_t
kp_sum(const uint8_t *b)
{
	const size_t skip = offsetof(struct kp_hdr, h_sum);
	uint64_t h = 0xcbf29ce484222325ull;
	size_t i;

	for (i = 0; i < KP_BLOCK; i++) {
		if (i == skip)
			i += sizeof(uint64_t);
		h = (h ^ b[i]) * 0x100000001b3ull;
	}
	return (h);
}

static void
kp_fill(uint8_t *b, uint32_t blk, uint32_t gen)
{
	struct kp_hdr h = { KP_MAGIC, gen, blk, 0 };
	size_t i;

	for (i = sizeof(h); i < KP_BLOCK; i++)
		b[i] = (uint8_t)(blk * 131u + gen * 7u + i);
	memcpy(b, &h, sizeof(h));
	h.h_sum = kp_sum(b);
	memcpy(b, &h, sizeof(h));
}

/*
 * The generation a block on the image holds: 0 for a block never
 * written, -1 for one that is not a whole block of ours (torn, wrong
 * place, wrong content).
 */
static int64_t
kp_decode(const uint8_t *b, uint32_t blk)
{
	struct kp_hdr h;
	size_t i;

	for (i = 0; i < KP_BLOCK && b[i] == 0; i++)
		;
	if (i == KP_BLOCK)
		return (0);
	memcpy(&h, b, sizeof(h));
	if (h.h_magic != KP_MAGIC || h.h_lba != blk || h.h_gen == 0 ||
	    h.h_sum != kp_sum(b))
		return (-1);
	return (h.h_gen);
}

static void
kp_done(struct xbd_bio *bio, int error)
{
	struct kp_slot *s = bio->bio_caller;
	struct kp *k = s->s_kp;
	uint32_t b;

	pthread_mutex_lock(&k->k_lock);
	if (error != 0) {
		k->k_errors++;
	} else if (s->s_blk == UINT32_MAX) {
		for (b = 0; b < KP_NBLK; b++)
			if (k->k_snap[b] > k->k_durable[b])
				k->k_durable[b] = k->k_snap[b];
		k->k_flushes++;
	} else {
		k->k_acked[s->s_blk] = k->k_inflight[s->s_blk];
		k->k_writes++;
	}
	if (s->s_blk == UINT32_MAX)
		k->k_flushing = false;
	else
		k->k_inflight[s->s_blk] = 0;
	s->s_blk = 0;
	s->s_bio.bio_done = NULL;
	k->k_busy--;
	pthread_cond_broadcast(&k->k_cv);
	pthread_mutex_unlock(&k->k_lock);
}

/* Submit one write, or a flush; k_lock held, a free slot exists. */
static void
kp_submit(struct kp *k, bool flush)
{
	struct kp_slot *s;
	uint32_t b = 0;
	int i;

	for (i = 0; k->k_slot[i].s_bio.bio_done != NULL; i++)
		;
	s = &k->k_slot[i];
	memset(&s->s_bio, 0, sizeof(s->s_bio));
	s->s_kp = k;
	s->s_bio.bio_done = kp_done;
	s->s_bio.bio_caller = s;
	if (flush) {
		memcpy(k->k_snap, k->k_acked, sizeof(k->k_snap));
		k->k_flushing = true;
		s->s_blk = UINT32_MAX;
		s->s_bio.bio_cmd = XBD_CMD_FLUSH;
	} else {
		do
			b = (uint32_t)rand_r(&k->k_seed) % KP_NBLK;
		while (k->k_inflight[b] != 0);
		k->k_inflight[b] = k->k_next[b]++;
		kp_fill(s->s_buf, b, k->k_inflight[b]);
		s->s_blk = b;
		s->s_bio.bio_cmd = XBD_CMD_WRITE;
		s->s_bio.bio_offset = (uint64_t)b * KP_BLOCK;
		s->s_bio.bio_length = KP_BLOCK;
		s->s_bio.bio_data = s->s_buf;
	}
	k->k_busy++;
	/* The device holds I/O while the backend is away: never refused. */
	if (xbd_submit(k->k_dev, &s->s_bio) != 0) {
		k->k_errors++;
		k->k_busy--;
		if (flush)
			k->k_flushing = false;
		else
			k->k_inflight[b] = 0;
		s->s_bio.bio_done = NULL;
	}
}

static void *
kp_submitter(void *arg)
{
	struct kp *k = arg;
	unsigned int n = 0;

	pthread_mutex_lock(&k->k_lock);
	while (!k->k_stop) {
		if (k->k_busy >= KP_QD) {
			pthread_cond_wait(&k->k_cv, &k->k_lock);
			continue;
		}
		kp_submit(k, ++n % KP_FLUSH_EVERY == 0 && !k->k_flushing);
	}
	while (k->k_busy > 0)
		pthread_cond_wait(&k->k_cv, &k->k_lock);
	pthread_mutex_unlock(&k->k_lock);
	return (NULL);
}

/*
 * With no backend alive, check every block of the image against what
 * the frontend knows; exact: the image must hold the last acknowledged
 * generation (nothing may be in flight).
 */
static void
kp_verify(struct kp *k, const char *img, bool exact)
{
	static uint8_t buf[KP_NBLK * KP_BLOCK];
	int64_t gen;
	uint32_t b;
	int fd;

	assert_true((fd = open(img, O_RDONLY)) >= 0);
	assert_int_equal(pread(fd, buf, sizeof(buf), 0), (ssize_t)sizeof(buf));
	close(fd);
	pthread_mutex_lock(&k->k_lock);
	for (b = 0; b < KP_NBLK; b++) {
		gen = kp_decode(buf + (size_t)b * KP_BLOCK, b);
		if (gen < 0)
			fail_msg("block %u is torn or misplaced", b);
		/* Old or new content, nothing else... */
		if (gen != k->k_acked[b] &&
		    (exact || gen != k->k_inflight[b] || gen == 0))
			fail_msg("block %u holds generation %jd; acknowledged "
				 "%u, in flight %u",
			    b, (intmax_t)gen, k->k_acked[b], k->k_inflight[b]);
		/* ...and never older than what a flush made durable. */
		if (gen < k->k_durable[b])
			fail_msg("block %u lost flushed generation %u (holds "
				 "%jd)",
			    b, k->k_durable[b], (intmax_t)gen);
	}
	pthread_mutex_unlock(&k->k_lock);
}

static int
kp_state(struct xbd_dev *dev)
{
	struct xbd_info info;

	xbd_get_info(dev, &info);
	return (info.xi_state);
}

static void
kp_wait_state(struct xbd_dev *dev, int want)
{
	int i;

	for (i = 0; i < 1000 && kp_state(dev) != want; i++)
		usleep(5000);
	assert_int_equal(kp_state(dev), want);
}

/* catalogue: D1 D7 */
static void
test_kill_points(void **state)
{
	struct xbd_plat *xp;
	struct xbd_stats st;
	struct xbdt_mp m;
	struct xbd_opts o;
	struct timespec t0, t1;
	pthread_t th;
	struct kp *k;
	uint64_t before;
	unsigned int points = KP_DEFAULT_POINTS, i, seed;
	uint32_t b;

	points = xt_env_count("XBD_KILL_POINTS", KP_DEFAULT_POINTS);
	seed = xt_env_count("XBD_SEED", (unsigned int)time(NULL));
	fprintf(stderr, "kill points: %u, seed %u (XBD_SEED)\n", points, seed);
	srand(seed);
	assert_non_null(k = calloc(1, sizeof(*k)));
	pthread_mutex_init(&k->k_lock, NULL);
	pthread_cond_init(&k->k_cv, NULL);
	k->k_seed = seed;
	for (b = 0; b < KP_NBLK; b++)
		k->k_next[b] = 1;

	xbdt_mp_up(&m, xbd_bin, (uint64_t)KP_NBLK * KP_BLOCK * 2);
	assert_int_equal(xbd_plat_open_sim(m.mp_mdir, 2, true, &xp), 0);
	xbd_opts_init(&o);
	o.o_recovery_timeout_ms = 60000;
	assert_int_equal(xbd_attach(xp, "xvda", &o, &k->k_dev), 0);
	assert_int_equal(pthread_create(&th, NULL, kp_submitter, k), 0);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (i = 0; i < points; i++) {
		pthread_mutex_lock(&k->k_lock);
		before = k->k_writes;
		pthread_mutex_unlock(&k->k_lock);
		/* Some I/O completes, then the kill lands at a random time. */
		pthread_mutex_lock(&k->k_lock);
		while (k->k_writes == before)
			pthread_cond_wait(&k->k_cv, &k->k_lock);
		pthread_mutex_unlock(&k->k_lock);
		usleep((useconds_t)(rand() % 30000));
		xbdt_mp_kill_serve(&m, SIGKILL);
		kp_verify(k, m.mp_img, false);
		xbdt_mp_serve(&m);
		kp_wait_state(k->k_dev, XBD_STATE_CONNECTED);
	}
	pthread_mutex_lock(&k->k_lock);
	k->k_stop = true;
	pthread_mutex_unlock(&k->k_lock);
	pthread_join(th, NULL);
	assert_int_equal(xbd_flush(k->k_dev), 0);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	xbd_get_stats(k->k_dev, &st, sizeof(st));
	fprintf(stderr,
	    "%u kill points in %ld s: %ju writes, %ju flushes acknowledged, "
	    "%ju recoveries, %ju bios reissued\n",
	    points, (long)(t1.tv_sec - t0.tv_sec), (uintmax_t)k->k_writes,
	    (uintmax_t)k->k_flushes, (uintmax_t)st.xst_recoveries,
	    (uintmax_t)st.xst_reissued);
	/* Delays, never errors; every kill was a recovery. */
	assert_int_equal(k->k_errors, 0);
	assert_int_equal(st.xst_recoveries, points);
	assert_true(k->k_flushes > 0);
	xbd_detach(k->k_dev);
	xbd_plat_close(xp);
	/* The last backend is stopped too: the image is final. */
	xbdt_mp_kill_serve(&m, SIGINT);
	kp_verify(k, m.mp_img, true);
	xbdt_mp_down(&m);
	pthread_cond_destroy(&k->k_cv);
	pthread_mutex_destroy(&k->k_lock);
	free(k);
}

int
main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_kill_points),
	};

	if (argc < 2) {
		fprintf(stderr, "usage: %s path/to/xbd\n", argv[0]);
		return (XT_SKIP);
	}
	xbd_bin = argv[1];
	return (cmocka_run_group_tests(tests, NULL, NULL));
}
