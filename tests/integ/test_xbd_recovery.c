/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Description: the frontend outlives its backend.  The machine (`xbd
 * hv`) and the backend (`xbd serve`) are separate processes; this test
 * is the frontend domain.  While a verified workload runs, the backend
 * is killed with SIGKILL: its domain is destroyed, its XenStore
 * directory vanishes, its mappings are released.  A new backend process
 * then serves the same image: the frontend reconnects, sends again what
 * was in flight, and the workload finishes with no error and no byte
 * out of place.  A backend that never comes back makes the held I/O fail
 * with EIO once the recovery time is up.
 */

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "front/xbd_internal.h"
#include "xbdt_wl.h"
#include "xt.h"

static const char *xbd_bin;

struct rfix {
	char dir[256];	/* temporary directory */
	char mdir[300]; /* the machine's directory */
	char img[300];	/* the image */
	pid_t hv;	/* xbd hv */
	pid_t serve;	/* xbd serve */
};

/* Start a program that dies with us, whatever kills us. */
static pid_t
spawn(char *const argv[])
{
	pid_t pid;

	assert_true((pid = fork()) >= 0);
	if (pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		execv(argv[0], argv);
		_exit(127);
	}
	return (pid);
}

static void
reap(pid_t pid, int sig)
{
	if (pid <= 0)
		return;
	kill(pid, sig);
	waitpid(pid, NULL, 0);
}

/* Wait until path exists (a socket or a file). */
static void
wait_for(const char *path)
{
	struct stat st;
	int i;

	for (i = 0; i < 500 && stat(path, &st) != 0; i++)
		usleep(10000);
	assert_int_equal(stat(path, &st), 0);
}

/* Start a backend process serving the image to domain 2. */
static void
start_serve(struct rfix *f)
{
	char *argv[] = { (char *)xbd_bin, "serve", "--dir", f->mdir, "--domid",
		"1", "--name", "storage", "--image", f->img, "--frontend", "2",
		"--vdev", "xvda", "--quiet", NULL };
	char be[400];
	int i;

	f->serve = spawn(argv);
	/* The vbd exists once the backend reached InitWait or further. */
	snprintf(be, sizeof(be), "%s/socket", f->mdir);
	for (i = 0; i < 500; i++) {
		struct xs_handle *xs;
		char *v;
		unsigned int len;

		setenv("XENSTORED_PATH", be, 1);
		if ((xs = xs_open(0)) != NULL) {
			v = xs_read(xs, XBT_NULL,
			    "/local/domain/1/backend/vbd/2/51712/state", &len);
			xs_close(xs);
			if (v != NULL &&
			    strtoul(v, NULL, 10) >= XenbusStateInitWait) {
				free(v);
				return;
			}
			free(v);
		}
		usleep(10000);
	}
	fail_msg("the backend did not start");
}

static void
rup(struct rfix *f)
{
	char *argv[] = { (char *)xbd_bin, "hv", "--dir", f->mdir, NULL };
	char sock[400];
	int fd;

	memset(f, 0, sizeof(*f));
	setenv("XBD_QUIET", "1", 0);
	snprintf(f->dir, sizeof(f->dir), "%s/xbdr.XXXXXX",
	    getenv("TMPDIR") != NULL ? getenv("TMPDIR") : "/tmp");
	assert_non_null(mkdtemp(f->dir));
	snprintf(f->mdir, sizeof(f->mdir), "%s/m", f->dir);
	snprintf(f->img, sizeof(f->img), "%s/disk.img", f->dir);
	assert_true((fd = open(f->img, O_RDWR | O_CREAT, 0600)) >= 0);
	assert_int_equal(ftruncate(fd, 16 << 20), 0);
	close(fd);
	f->hv = spawn(argv);
	snprintf(sock, sizeof(sock), "%s/hv.sock", f->mdir);
	wait_for(sock);
	start_serve(f);
}

static void
rdown(struct rfix *f)
{
	char cmd[400];

	reap(f->serve, SIGINT);
	reap(f->hv, SIGINT);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->dir);
	if (system(cmd) != 0)
		fprintf(stderr, "could not remove %s\n", f->dir);
}

struct bg {
	struct xbd_dev *dev;
	struct wl_opts wo;
	struct wl_result r;
	int rc;
};

static void *
bg_run(void *arg)
{
	struct bg *b = arg;

	b->rc = wl_run(b->dev, &b->wo, &b->r);
	return (NULL);
}

static int
state_of(struct xbd_dev *dev)
{
	struct xbd_info info;

	xbd_get_info(dev, &info);
	return (info.xi_state);
}

/* F33 / recovery: the backend dies twice mid-workload and comes back. */
/* catalogue: F33 */
static void
test_backend_killed_and_restarted(void **state)
{
	struct bg b = { .wo = { .ops = 6000,
			    .qd = 16,
			    .max_blocks = 16,
			    .flush_pct = 3,
			    .seed = 5 } };
	struct xbd_plat *xp;
	struct xbd_stats st;
	struct rfix f;
	pthread_t th;
	int kill_round, i;

	rup(&f);
	assert_int_equal(xbd_plat_open_sim(f.mdir, 2, true, &xp), 0);
	assert_int_equal(xbd_attach(xp, "xvda", NULL, &b.dev), 0);
	assert_int_equal(pthread_create(&th, NULL, bg_run, &b), 0);
	for (kill_round = 0; kill_round < 2; kill_round++) {
		usleep(300000);
		reap(f.serve, SIGKILL);
		f.serve = 0;
		/* The frontend notices and holds its I/O. */
		for (i = 0; i < 300 && state_of(b.dev) != 5; i++)
			usleep(10000);
		assert_int_equal(state_of(b.dev), 5);
		usleep(100000);
		start_serve(&f);
		for (i = 0; i < 500 && state_of(b.dev) != 1; i++)
			usleep(10000);
		assert_int_equal(state_of(b.dev), 1);
	}
	pthread_join(th, NULL);
	assert_int_equal(b.rc, 0);
	if (b.r.r_errors != 0)
		fprintf(stderr, "first error %d\n", b.r.r_first_error);
	/* Delays, not errors; every byte where it belongs. */
	assert_int_equal(b.r.r_errors, 0);
	assert_int_equal(b.r.r_mismatches, 0);
	xbd_get_stats(b.dev, &st, sizeof(st));
	assert_int_equal(st.xs_recoveries, 2);
	assert_int_equal(st.xs_reconnects, 2);
	fprintf(stderr, "reissued %ju bios after %ju recoveries\n",
	    (uintmax_t)st.xs_reissued, (uintmax_t)st.xs_recoveries);
	xbd_detach(b.dev);
	xbd_plat_close(xp);
	rdown(&f);
}

static void
done_err(struct xbd_bio *bp, int error)
{
	*(volatile int *)bp->bio_caller = error == 0 ? 1 : error;
}

/* A backend that never comes back: held I/O fails with EIO in time. */
static void
test_backend_never_returns(void **state)
{
	struct xbd_opts o;
	struct xbd_plat *xp;
	struct xbd_dev *dev;
	struct xbd_bio bio;
	struct timespec a, b;
	struct rfix f;
	char buf[4096];
	volatile int r = 0;
	int i;

	rup(&f);
	assert_int_equal(xbd_plat_open_sim(f.mdir, 2, true, &xp), 0);
	xbd_opts_init(&o);
	o.o_recovery_timeout_ms = 1500;
	assert_int_equal(xbd_attach(xp, "xvda", &o, &dev), 0);
	assert_int_equal(xbd_write(dev, buf, 0, sizeof(buf)), 0);
	reap(f.serve, SIGKILL);
	f.serve = 0;
	for (i = 0; i < 300 && state_of(dev) != 5; i++)
		usleep(10000);
	assert_int_equal(state_of(dev), 5);
	/* Submitted while the backend is gone: accepted, then failed. */
	memset(&bio, 0, sizeof(bio));
	bio.bio_cmd = XBD_CMD_READ;
	bio.bio_length = sizeof(buf);
	bio.bio_data = buf;
	bio.bio_done = done_err;
	bio.bio_caller = (void *)&r;
	clock_gettime(CLOCK_MONOTONIC, &a);
	assert_int_equal(xbd_submit(dev, &bio), 0);
	for (i = 0; i < 500 && r == 0; i++)
		usleep(10000);
	clock_gettime(CLOCK_MONOTONIC, &b);
	assert_int_equal(r, -EIO);
	assert_true(b.tv_sec - a.tv_sec <= 4);
	assert_int_equal(state_of(dev), 3);
	assert_int_equal(xbd_read(dev, buf, 0, sizeof(buf)), -EIO);
	xbd_detach(dev);
	xbd_plat_close(xp);
	rdown(&f);
}

/* ---------------------------------------------------------------------
 * Durability under SIGKILL (D1, G8): self-describing blocks
 */

#define DK_BLOCKS 256 /* 1 MiB of 4 KiB blocks at the start of the disk */
#define DK_QD 8	      /* writes in flight */
#define DK_MAGIC 0x58424b4cu /* "XBKL" */

/* The head of every block written; the rest is derived from it. */
struct dk_hdr {
	uint32_t h_magic; /* DK_MAGIC */
	uint32_t h_crc;	  /* CRC-32C of the block after the header */
	uint64_t h_lba;	  /* where it belongs */
	uint64_t h_gen;	  /* its generation (1, 2, ... per block) */
};

struct dk {
	struct xbd_dev *k_dev;
	pthread_mutex_t k_lock;
	pthread_cond_t k_cv;
	uint64_t k_issued[DK_BLOCKS];  /* newest generation sent */
	uint64_t k_acked[DK_BLOCKS];   /* newest acknowledged */
	uint64_t k_durable[DK_BLOCKS]; /* acked before a flush that completed */
	uint64_t k_snap[DK_BLOCKS];    /* k_acked when the flush went out */
	bool k_busy[DK_BLOCKS];	       /* a write in flight */
	int k_inflight;		       /* bios out */
	bool k_flushing;	       /* a flush out */
	volatile int k_stop;	       /* set by the test */
	uint64_t k_writes, k_flushes;  /* completed */
	unsigned int k_seed;	       /* randomness */
};

struct dk_io {
	struct xbd_bio d_bio;
	struct dk *d_k;
	uint32_t d_block;
	uint64_t d_gen;
	_Alignas(4096) uint8_t d_buf[4096];
};

static uint32_t
dk_crc(const uint8_t *p, size_t n)
{
	uint32_t crc = ~0u;
	int k;

	while (n-- > 0) {
		crc ^= *p++;
		for (k = 0; k < 8; k++)
			crc = (crc >> 1) ^ (0x82f63b78u & (0u - (crc & 1)));
	}
	return (~crc);
}

static void
dk_fill(uint8_t *buf, uint64_t lba, uint64_t gen)
{
	struct dk_hdr h = { DK_MAGIC, 0, lba, gen };
	size_t i;

	for (i = sizeof(h); i < 4096; i++)
		buf[i] = (uint8_t)(lba * 31 + gen * 7 + i);
	h.h_crc = dk_crc(buf + sizeof(h), 4096 - sizeof(h));
	memcpy(buf, &h, sizeof(h));
}

static void
dk_done(struct xbd_bio *bp, int error)
{
	struct dk_io *io = bp->bio_caller;
	struct dk *k = io->d_k;
	uint32_t b;

	pthread_mutex_lock(&k->k_lock);
	if (bp->bio_cmd == XBD_CMD_FLUSH) {
		if (error == 0) {
			for (b = 0; b < DK_BLOCKS; b++)
				if (k->k_snap[b] > k->k_durable[b])
					k->k_durable[b] = k->k_snap[b];
			k->k_flushes++;
		}
		k->k_flushing = false;
	} else {
		if (error == 0 && io->d_gen > k->k_acked[io->d_block])
			k->k_acked[io->d_block] = io->d_gen;
		k->k_busy[io->d_block] = false;
		k->k_writes += error == 0;
	}
	k->k_inflight--;
	pthread_cond_broadcast(&k->k_cv);
	pthread_mutex_unlock(&k->k_lock);
	free(io);
}

/* Writes of new generations to idle blocks, and a flush now and then. */
static void *
dk_main(void *arg)
{
	struct dk *k = arg;
	struct dk_io *io;
	uint32_t b;
	bool flush;

	pthread_mutex_lock(&k->k_lock);
	while (!k->k_stop) {
		if (k->k_inflight >= DK_QD) {
			pthread_cond_wait(&k->k_cv, &k->k_lock);
			continue;
		}
		flush = !k->k_flushing && rand_r(&k->k_seed) % 8 == 0;
		b = (uint32_t)rand_r(&k->k_seed) % DK_BLOCKS;
		if (!flush && k->k_busy[b])
			continue;
		assert_non_null(io = aligned_alloc(4096, sizeof(*io)));
		memset(&io->d_bio, 0, sizeof(io->d_bio));
		io->d_k = k;
		io->d_bio.bio_done = dk_done;
		io->d_bio.bio_caller = io;
		if (flush) {
			/* Promised: what was acknowledged before it went out.
			 */
			memcpy(k->k_snap, k->k_acked, sizeof(k->k_snap));
			k->k_flushing = true;
			io->d_bio.bio_cmd = XBD_CMD_FLUSH;
		} else {
			io->d_block = b;
			io->d_gen = ++k->k_issued[b];
			k->k_busy[b] = true;
			dk_fill(io->d_buf, b, io->d_gen);
			io->d_bio.bio_cmd = XBD_CMD_WRITE;
			io->d_bio.bio_offset = (uint64_t)b * 4096;
			io->d_bio.bio_length = 4096;
			io->d_bio.bio_data = io->d_buf;
		}
		k->k_inflight++;
		pthread_mutex_unlock(&k->k_lock);
		if (xbd_submit(k->k_dev, &io->d_bio) != 0)
			dk_done(&io->d_bio, -EIO);
		pthread_mutex_lock(&k->k_lock);
	}
	while (k->k_inflight > 0)
		pthread_cond_wait(&k->k_cv, &k->k_lock);
	pthread_mutex_unlock(&k->k_lock);
	return (NULL);
}

/*
 * The image as the dead backend left it: every block is a version that
 * was written (or never written), whole, and not older than what a
 * completed flush promised.  Returns the number of bad blocks.
 */
static unsigned int
dk_verify(struct dk *k, const char *img)
{
	_Alignas(4096) uint8_t buf[4096];
	struct dk_hdr h;
	unsigned int bad = 0;
	uint32_t b;
	size_t i;
	int fd;

	assert_true((fd = open(img, O_RDONLY)) >= 0);
	pthread_mutex_lock(&k->k_lock);
	for (b = 0; b < DK_BLOCKS; b++) {
		assert_int_equal(pread(fd, buf, 4096, (off_t)b * 4096), 4096);
		memcpy(&h, buf, sizeof(h));
		if (h.h_magic != DK_MAGIC) {
			/* Never written is fine only if nothing was promised.
			 */
			for (i = 0; i < 4096 && buf[i] == 0; i++)
				;
			if (i != 4096 || k->k_durable[b] != 0) {
				fprintf(stderr,
				    "block %u: lost (durable %ju)\n", b,
				    (uintmax_t)k->k_durable[b]);
				bad++;
			}
			continue;
		}
		if (h.h_lba != b || h.h_gen < k->k_durable[b] ||
		    h.h_gen > k->k_issued[b] ||
		    h.h_crc != dk_crc(buf + sizeof(h), 4096 - sizeof(h))) {
			fprintf(stderr,
			    "block %u: lba %ju gen %ju, durable %ju issued %ju\n",
			    b, (uintmax_t)h.h_lba, (uintmax_t)h.h_gen,
			    (uintmax_t)k->k_durable[b],
			    (uintmax_t)k->k_issued[b]);
			bad++;
		}
	}
	pthread_mutex_unlock(&k->k_lock);
	close(fd);
	return (bad);
}

/*
 * D1: the backend process is killed at random points of a write/flush
 * workload and restarted; each time, the image it left must hold every
 * write acknowledged before a completed flush, and every block must be
 * a whole old or new version.  XBD_KILL_POINTS=N for the long run.
 */
static void
test_D1_kill_points(void **state)
{
	const char *env = getenv("XBD_KILL_POINTS");
	unsigned int points =
	    env != NULL ? (unsigned int)strtoul(env, NULL, 10) : 4;
	unsigned int p, bad = 0, seed = 11;
	struct xbd_plat *xp;
	struct dk *k;
	struct rfix f;
	pthread_t th;
	int i;

	assert_non_null(k = calloc(1, sizeof(*k)));
	pthread_mutex_init(&k->k_lock, NULL);
	pthread_cond_init(&k->k_cv, NULL);
	k->k_seed = 3;
	rup(&f);
	assert_int_equal(xbd_plat_open_sim(f.mdir, 2, true, &xp), 0);
	assert_int_equal(xbd_attach(xp, "xvda", NULL, &k->k_dev), 0);
	assert_int_equal(pthread_create(&th, NULL, dk_main, k), 0);
	for (p = 0; p < points; p++) {
		usleep(20000 + (useconds_t)(rand_r(&seed) % 200000));
		reap(f.serve, SIGKILL);
		f.serve = 0;
		/* Once the frontend noticed, nothing more can be acked. */
		for (i = 0; i < 300 && state_of(k->k_dev) != 5; i++)
			usleep(10000);
		assert_int_equal(state_of(k->k_dev), 5);
		bad += dk_verify(k, f.img);
		start_serve(&f);
		for (i = 0; i < 500 && state_of(k->k_dev) != 1; i++)
			usleep(10000);
		assert_int_equal(state_of(k->k_dev), 1);
	}
	k->k_stop = 1;
	pthread_mutex_lock(&k->k_lock);
	pthread_cond_broadcast(&k->k_cv);
	pthread_mutex_unlock(&k->k_lock);
	pthread_join(th, NULL);
	printf("D1: %u kill points, %ju writes and %ju flushes completed, "
	       "%u bad blocks\n",
	    points, (uintmax_t)k->k_writes, (uintmax_t)k->k_flushes, bad);
	assert_int_equal(bad, 0);
	assert_true(k->k_flushes > 0);
	xbd_detach(k->k_dev);
	xbd_plat_close(xp);
	rdown(&f);
	free(k);
}

int
main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_backend_killed_and_restarted),
		cmocka_unit_test(test_backend_never_returns),
		cmocka_unit_test(test_D1_kill_points),
	};

	if (argc < 2) {
		fprintf(stderr, "usage: %s path/to/xbd\n", argv[0]);
		return (XT_SKIP);
	}
	xbd_bin = argv[1];
	/* A second argument runs only the tests it matches (long runs). */
	if (argc > 2)
		cmocka_set_test_filter(argv[2]);
	return (cmocka_run_group_tests(tests, NULL, NULL));
}
