/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The interop suite's disk workload inside a Linux PV guest, a small fio
 * stand-in linked statically so that the guest's initramfs needs no
 * shared library (Debian's fio pulls in 80 MB of them):
 *
 *   guest-io run DEV SECONDS SEED
 *	two threads (one per vCPU, so blkfront uses two queues) issue
 *	O_DIRECT reads and writes of 4 KiB to 256 KiB (past 44 KiB only
 *	indirect segments carry them), flushes and discards at random
 *	over the whole of DEV for SECONDS; every read is checked against
 *	what the last write or discard of each 4 KiB block left, and at the
 *	end every block of DEV is read back and checked.
 *   guest-io seal DEV OFFSET LEN SEED
 *	write a pattern derived from SEED over LEN bytes at OFFSET.
 *   guest-io check DEV OFFSET LEN SEED
 *	exit 0 if and only if that pattern is there (dom0 runs this on the
 *	guest's disk after the guest is gone: a guest cannot fake it).
 *
 * A block's content is a xorshift stream seeded from (seed, block,
 * generation), so a block written to the wrong place, a stale block and
 * a torn block all differ; generation 0 is a discarded block, which
 * reads as zeros (the suite serves a loop device, whose discard punches
 * a hole).  Exit 0 all checked, 1 a mismatch or an I/O error, 2 usage.
 */

#define _GNU_SOURCE
#include <sys/ioctl.h>
#include <sys/stat.h>

#include <linux/fs.h>

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* The unit of verification: the guest's page size. */
#define GIO_BLOCK 4096
/* The largest request: 64 segments, beyond the 11 of a plain request. */
#define GIO_MAX_BLOCKS 64
/* Each thread owns every other 1 MiB chunk, so no two race on a block. */
#define GIO_CHUNK_BLOCKS 256
/* One thread per vCPU of the suite's guest. */
#define GIO_THREADS 2
/* The generation that marks the seal's pattern. */
#define GIO_SEAL_GEN 0x5ea15ea1u
/* Seconds between progress lines (dom0 watches them). */
#define GIO_PROGRESS 5

struct gio {
	int g_fd;		       /* DEV, O_DIRECT */
	uint64_t g_seed;	       /* from dom0, through the command line */
	uint64_t g_blocks;	       /* DEV's size in blocks */
	uint32_t *g_gen;	       /* per block: last generation written */
	struct timespec g_end;	       /* when the threads stop */
	atomic_bool g_failed;	       /* a thread saw a mismatch or error */
	atomic_uint_fast64_t g_ops[4]; /* writes, reads, flushes, discards */
};

struct gio_thread {
	struct gio *t_g;     /* the shared state */
	unsigned int t_id;   /* which chunks it owns */
	uint64_t t_rng;	     /* its own random stream */
	unsigned char *t_wb; /* write buffer, GIO_MAX_BLOCKS blocks */
	unsigned char *t_rb; /* read buffer, as large */
};

enum gio_op { GIO_WRITE, GIO_READ, GIO_FLUSH, GIO_DISCARD };

static uint64_t
gio_next(uint64_t *s)
{
	uint64_t x = *s;

	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	*s = x;
	return (x);
}

/* Block blk's content at generation gen (zeros at generation 0). */
static void
gio_fill(uint64_t seed, uint64_t blk, uint32_t gen, unsigned char *buf)
{
	uint64_t s, w;
	size_t i;

	if (gen == 0) {
		memset(buf, 0, GIO_BLOCK);
		return;
	}
	s = seed ^ (blk * 0x9e3779b97f4a7c15ull) ^ ((uint64_t)gen << 40);
	s = s != 0 ? s : 1;
	for (i = 0; i < GIO_BLOCK; i += sizeof(w)) {
		w = gio_next(&s);
		memcpy(buf + i, &w, sizeof(w));
	}
}

/* Compare n blocks read at blk with what they must hold. */
static int
gio_verify(struct gio *g, uint64_t blk, uint64_t n, const unsigned char *rb,
    const uint32_t *gen)
{
	unsigned char want[GIO_BLOCK];
	uint64_t i;

	for (i = 0; i < n; i++) {
		gio_fill(g->g_seed, blk + i, gen[i], want);
		if (memcmp(want, rb + i * GIO_BLOCK, GIO_BLOCK) != 0) {
			printf("guest-io: block %" PRIu64 " (offset %" PRIu64
			       ") differs from generation %" PRIu32 "\n",
			    blk + i, (blk + i) * GIO_BLOCK, gen[i]);
			return (-EIO);
		}
	}
	return (0);
}

static int
gio_pio(int fd, bool wr, unsigned char *buf, uint64_t blk, uint64_t n)
{
	size_t len = n * GIO_BLOCK;
	off_t off = (off_t)(blk * GIO_BLOCK);
	ssize_t rc;

	rc = wr ? pwrite(fd, buf, len, off) : pread(fd, buf, len, off);
	if (rc < 0) {
		printf("guest-io: %s at %jd: %s\n", wr ? "write" : "read",
		    (intmax_t)off, strerror(errno));
		return (-errno);
	}
	if ((size_t)rc != len) {
		printf("guest-io: short %s at %jd: %zd of %zu\n",
		    wr ? "write" : "read", (intmax_t)off, rc, len);
		return (-EIO);
	}
	return (0);
}

static int
gio_discard(int fd, uint64_t blk, uint64_t n)
{
	uint64_t range[2] = { blk * GIO_BLOCK, n * GIO_BLOCK };

	if (ioctl(fd, BLKDISCARD, range) != 0) {
		printf("guest-io: discard at %" PRIu64 ": %s\n", range[0],
		    strerror(errno));
		return (-errno);
	}
	return (0);
}

/* One random operation on a random range of the thread's own chunks. */
static int
gio_op(struct gio_thread *t)
{
	struct gio *g = t->t_g;
	uint64_t nchunks = g->g_blocks / GIO_CHUNK_BLOCKS, c, blk, n, i;
	unsigned int r = (unsigned int)(gio_next(&t->t_rng) % 100);
	enum gio_op op;
	int rc;

	op = r < 45 ? GIO_WRITE :
	    r < 85  ? GIO_READ :
	    r < 93  ? GIO_FLUSH :
		      GIO_DISCARD;
	c = gio_next(&t->t_rng) %
	    ((nchunks + GIO_THREADS - 1 - t->t_id) / GIO_THREADS);
	c = c * GIO_THREADS + t->t_id;
	blk = c * GIO_CHUNK_BLOCKS +
	    gio_next(&t->t_rng) % (GIO_CHUNK_BLOCKS - GIO_MAX_BLOCKS + 1);
	n = 1 + gio_next(&t->t_rng) % GIO_MAX_BLOCKS;
	atomic_fetch_add(&g->g_ops[op], 1);
	switch (op) {
	case GIO_WRITE:
		for (i = 0; i < n; i++) {
			g->g_gen[blk + i]++;
			if (g->g_gen[blk + i] == 0 ||
			    g->g_gen[blk + i] == GIO_SEAL_GEN)
				g->g_gen[blk + i] = 1;
			gio_fill(g->g_seed, blk + i, g->g_gen[blk + i],
			    t->t_wb + i * GIO_BLOCK);
		}
		return (gio_pio(g->g_fd, true, t->t_wb, blk, n));
	case GIO_READ:
		if ((rc = gio_pio(g->g_fd, false, t->t_rb, blk, n)) != 0)
			return (rc);
		return (gio_verify(g, blk, n, t->t_rb, &g->g_gen[blk]));
	case GIO_FLUSH:
		return (fdatasync(g->g_fd) != 0 ? -errno : 0);
	default:
		memset(&g->g_gen[blk], 0, n * sizeof(g->g_gen[0]));
		return (gio_discard(g->g_fd, blk, n));
	}
}

static bool
gio_past(const struct timespec *end)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (now.tv_sec > end->tv_sec ||
	    (now.tv_sec == end->tv_sec && now.tv_nsec >= end->tv_nsec));
}

static void *
gio_thread_main(void *arg)
{
	struct gio_thread *t = arg;
	cpu_set_t cpus;

	/* blkfront picks the queue of the submitting CPU. */
	CPU_ZERO(&cpus);
	CPU_SET(t->t_id, &cpus);
	(void)pthread_setaffinity_np(pthread_self(), sizeof(cpus), &cpus);
	while (!gio_past(&t->t_g->g_end) && !atomic_load(&t->t_g->g_failed))
		if (gio_op(t) != 0)
			atomic_store(&t->t_g->g_failed, true);
	return (NULL);
}

static void
gio_progress(struct gio *g, long secs)
{
	printf("guest-io: %ld s: %" PRIuFAST64 " writes, %" PRIuFAST64
	       " reads, %" PRIuFAST64 " flushes, %" PRIuFAST64 " discards\n",
	    secs, atomic_load(&g->g_ops[GIO_WRITE]),
	    atomic_load(&g->g_ops[GIO_READ]), atomic_load(&g->g_ops[GIO_FLUSH]),
	    atomic_load(&g->g_ops[GIO_DISCARD]));
	fflush(stdout);
}

/* Read every block of the disk back and check it. */
static int
gio_verify_all(struct gio *g, unsigned char *rb)
{
	uint64_t blk, n;
	int rc;

	for (blk = 0; blk < g->g_blocks; blk += n) {
		n = g->g_blocks - blk < GIO_MAX_BLOCKS ? g->g_blocks - blk :
							 GIO_MAX_BLOCKS;
		if ((rc = gio_pio(g->g_fd, false, rb, blk, n)) != 0 ||
		    (rc = gio_verify(g, blk, n, rb, &g->g_gen[blk])) != 0)
			return (rc);
	}
	printf("guest-io: all %" PRIu64 " blocks read back and checked\n",
	    g->g_blocks);
	return (0);
}

static int
gio_threads(struct gio *g, struct gio_thread *t, long secs)
{
	pthread_t tid[GIO_THREADS];
	unsigned int i;
	long s;

	for (i = 0; i < GIO_THREADS; i++)
		if (pthread_create(&tid[i], NULL, gio_thread_main, &t[i]) != 0)
			return (-EAGAIN);
	for (s = GIO_PROGRESS; s < secs && !atomic_load(&g->g_failed);
	     s += GIO_PROGRESS) {
		sleep(GIO_PROGRESS);
		gio_progress(g, s);
	}
	for (i = 0; i < GIO_THREADS; i++)
		pthread_join(tid[i], NULL);
	gio_progress(g, secs);
	return (atomic_load(&g->g_failed) ? -EIO : 0);
}

static int
gio_open(const char *dev, struct gio *g, uint64_t *bytes)
{
	struct stat st;

	if ((g->g_fd = open(dev, O_RDWR | O_DIRECT)) < 0) {
		printf("guest-io: %s: %s\n", dev, strerror(errno));
		return (-errno);
	}
	if (fstat(g->g_fd, &st) != 0)
		return (-errno);
	if (S_ISBLK(st.st_mode)) {
		if (ioctl(g->g_fd, BLKGETSIZE64, bytes) != 0)
			return (-errno);
	} else
		*bytes = (uint64_t)st.st_size;
	return (0);
}

static int
gio_run(struct gio *g, const char *dev, long secs)
{
	struct gio_thread t[GIO_THREADS];
	uint64_t bytes;
	unsigned int i;
	int rc;

	if ((rc = gio_open(dev, g, &bytes)) != 0)
		return (rc);
	g->g_blocks = bytes / GIO_BLOCK;
	if (g->g_blocks < GIO_CHUNK_BLOCKS * GIO_THREADS ||
	    (g->g_gen = calloc(g->g_blocks, sizeof(*g->g_gen))) == NULL)
		return (-ENOMEM);
	/* Start from a known state: every block discarded. */
	if ((rc = gio_discard(g->g_fd, 0, g->g_blocks)) != 0)
		return (rc);
	clock_gettime(CLOCK_MONOTONIC, &g->g_end);
	g->g_end.tv_sec += secs;
	for (i = 0; i < GIO_THREADS; i++) {
		t[i] = (struct gio_thread) { .t_g = g,
			.t_id = i,
			.t_rng = g->g_seed * 2 + i + 1 };
		if (posix_memalign((void **)&t[i].t_wb, GIO_BLOCK,
			GIO_MAX_BLOCKS * GIO_BLOCK) != 0 ||
		    posix_memalign((void **)&t[i].t_rb, GIO_BLOCK,
			GIO_MAX_BLOCKS * GIO_BLOCK) != 0)
			return (-ENOMEM);
	}
	printf("guest-io: %s: %" PRIu64 " blocks, %d threads, %ld s\n", dev,
	    g->g_blocks, GIO_THREADS, secs);
	if ((rc = gio_threads(g, t, secs)) != 0)
		return (rc);
	if (fdatasync(g->g_fd) != 0)
		return (-errno);
	return (gio_verify_all(g, t[0].t_rb));
}

/* Write (seal) or check the seed's pattern over [off, off + len). */
static int
gio_seal(struct gio *g, const char *dev, uint64_t off, uint64_t len, bool wr)
{
	unsigned char *buf;
	uint64_t bytes, blk;
	int rc;

	if ((rc = gio_open(dev, g, &bytes)) != 0)
		return (rc);
	if (off % GIO_BLOCK != 0 || len % GIO_BLOCK != 0 || off + len > bytes ||
	    posix_memalign((void **)&buf, GIO_BLOCK, GIO_BLOCK) != 0)
		return (-EINVAL);
	for (blk = off / GIO_BLOCK; blk < (off + len) / GIO_BLOCK; blk++) {
		if (!wr && (rc = gio_pio(g->g_fd, false, buf, blk, 1)) != 0)
			return (rc);
		if (!wr &&
		    gio_verify(g, blk, 1, buf, &(uint32_t) { GIO_SEAL_GEN }) !=
			0)
			return (-EIO);
		gio_fill(g->g_seed, blk, GIO_SEAL_GEN, buf);
		if (wr && (rc = gio_pio(g->g_fd, true, buf, blk, 1)) != 0)
			return (rc);
	}
	if (wr && fdatasync(g->g_fd) != 0)
		return (-errno);
	printf("guest-io: seal of seed %" PRIu64 " %s at %" PRIu64 ", %" PRIu64
	       " bytes\n",
	    g->g_seed, wr ? "written" : "checked", off, len);
	return (0);
}

static bool
gio_u64(const char *s, uint64_t *out)
{
	char *end;

	errno = 0;
	*out = strtoull(s, &end, 10);
	return (errno == 0 && end != s && *end == '\0' && s[0] != '-');
}

int
main(int argc, char **argv)
{
	struct gio g = { .g_fd = -1 };
	uint64_t a, b;
	int rc;

	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc == 5 && strcmp(argv[1], "run") == 0 && gio_u64(argv[3], &a) &&
	    a > 0 && a < 86400 && gio_u64(argv[4], &g.g_seed))
		rc = gio_run(&g, argv[2], (long)a);
	else if (argc == 6 &&
	    (strcmp(argv[1], "seal") == 0 || strcmp(argv[1], "check") == 0) &&
	    gio_u64(argv[3], &a) && gio_u64(argv[4], &b) &&
	    gio_u64(argv[5], &g.g_seed))
		rc = gio_seal(&g, argv[2], a, b, argv[1][0] == 's');
	else {
		fprintf(stderr,
		    "usage: guest-io run DEV SECONDS SEED\n"
		    "       guest-io {seal|check} DEV OFFSET LEN SEED\n");
		return (2);
	}
	printf("guest-io: %s: %s\n", argv[1], rc == 0 ? "ok" : strerror(-rc));
	return (rc == 0 ? 0 : 1);
}
