/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Description: simulated power loss (catalogue D2), the dm-log-writes
 * model.  The backend records what its storage completed (writes with
 * their bytes, discards, fdatasync marks; lib/back/xbb_wlog.h) while our
 * frontend runs a workload of self-describing 4 KiB blocks (magic, block
 * number, generation, FNV-1a checksum): CrashMonkey-style bounded
 * workloads of up to three operations (write, overwrite, two-block
 * write, barrier write, flush, discard), issued one at a time or all at
 * once, and random mixes with up to 8 requests in flight on two rings.
 * The frontend notes which operations were acknowledged when each flush
 * (or barrier write) was issued, and how long the log was when it was
 * acknowledged.  Then, from a copy of the initial image, every prefix of
 * the log is replayed, each a state a power cut may leave, and checked:
 *   (i)  every operation acknowledged before an acknowledged flush was
 *        issued lies before the durable point (the largest mark) of the
 *        log as it stood at the acknowledgement;
 *   (ii) in every state each block is whole, at its own address, and
 *        holds its initial content or exactly what the operations on it
 *        logged so far left (per block, log order is issue order: one
 *        operation per block is in flight at a time), and never less
 *        than what an acknowledged flush made durable;
 *   (iii) the whole log replayed equals the image, and holds every
 *        operation exactly once.
 * XBD_POWERLOSS_WORKLOADS sets the number of workloads (default 48, a
 * quarter of them random mixes), XBD_SEED the choice.
 */

#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "xbdt.h"
#include "xbdt_wlog.h"
#include "xt.h"

#define PL_BLOCK 4096u
#define PL_MAGIC 0x706c7462u /* "pltb" */
/* Operations one block may see in a workload. */
#define PL_MAXOPS 48
/* Requests in flight at once in a random mix. */
#define PL_QD 8
/* Largest write or discard, in blocks. */
#define PL_MAXRUN 4
/* The bounded workloads' disk and the random mixes'. */
#define PL_BOUNDED_BLKS 8u
#define PL_MIX_BLKS 64u
#define PL_MIX_OPS 160
#define PL_DEFAULT_WORKLOADS 48
/* Bad states described in full before the rest are only counted. */
#define PL_REPORT 8

/* What a workload does. */
enum pl_opk {
	PL_WRITE,   /* pl_n blocks from pl_blk */
	PL_ORDERED, /* a barrier write */
	PL_FLUSH,
	PL_DISCARD,
};

struct pl_op {
	enum pl_opk o_kind;
	uint32_t o_blk; /* first block */
	uint32_t o_n;	/* blocks */
};

/* What one operation left on a block: the model a replay is held to. */
enum pl_blkop { PL_B_WRITE = 1, PL_B_DISCARD = 2 };

/* A flush (or barrier write) as the frontend saw it. */
struct pl_flush {
	uint32_t *f_need;  /* per block: operations that must survive once
			      it is acknowledged */
	uint64_t f_loglen; /* log bytes at the acknowledgement */
	bool f_acked;	   /* acknowledged */
};

struct pl_slot {
	struct xbd_bio s_bio;
	struct pl *s_pl;
	struct pl_op s_op; /* what it carries */
	int s_flush;	   /* its pl_flush, or -1 */
	uint8_t s_buf[PL_MAXRUN * PL_BLOCK] __attribute__((aligned(512)));
};

/* One workload's run: the frontend's knowledge. */
struct pl {
	struct xbd_dev *p_dev;
	const char *p_log; /* the backend's write log */
	pthread_mutex_t p_lock;
	pthread_cond_t p_cv;
	uint32_t p_nblk;	 /* blocks on the disk */
	uint32_t *p_issued;	 /* operations issued per block */
	uint32_t *p_acked;	 /* operations acknowledged per block */
	bool *p_busy;		 /* an operation on the block in flight */
	uint8_t *p_kind;	 /* [b * PL_MAXOPS + k - 1]: operation k on
				    block b (enum pl_blkop) */
	struct pl_flush *p_fl;	 /* flushes issued */
	unsigned int p_nfl;	 /* how many */
	unsigned int p_inflight; /* slots busy */
	uint64_t p_errors;	 /* I/O that failed */
	bool p_discard;		 /* the disk offers discard */
	struct pl_slot p_slot[PL_QD];
};

/* Totals over a run. */
struct pl_totals {
	uint64_t t_workloads, t_bounded, t_mixes;
	uint64_t t_entries, t_marks, t_prefixes, t_flushes;
	uint64_t t_bad;	      /* states that failed a check */
	uint64_t t_lost;      /* check (i) failures */
	uint64_t t_nodiscard; /* workloads on storage without discard */
	unsigned int t_reported;
};

/* FNV-1a of a block, skipping its checksum field. */
static uint64_t
pl_sum(const uint8_t *b)
{
	const size_t skip = 16;
	uint64_t h;

	h = xbb_wlog_fnv(XBB_WLOG_FNV_INIT, b, skip);
	return (xbb_wlog_fnv(h, b + skip + 8, PL_BLOCK - skip - 8));
}

/* Block blk at generation gen: magic, gen, lba, sum, pattern. */
static void
pl_fill(uint8_t *b, uint32_t blk, uint32_t gen)
{
	uint32_t magic = PL_MAGIC;
	uint64_t lba = blk, sum;
	size_t i;

	for (i = 24; i < PL_BLOCK; i++)
		b[i] = (uint8_t)(blk * 131u + gen * 7u + i);
	memcpy(b, &magic, 4);
	memcpy(b + 4, &gen, 4);
	memcpy(b + 8, &lba, 8);
	memset(b + 16, 0, 8);
	sum = pl_sum(b);
	memcpy(b + 16, &sum, 8);
}

/*
 * What a block holds: its generation (0 the initial content), -1 all
 * zeros (discarded), -2 anything else (torn, misplaced, foreign).
 */
static int64_t
pl_decode(const uint8_t *b, uint32_t blk)
{
	uint32_t magic, gen;
	uint64_t lba, sum;
	size_t i;

	for (i = 0; i < PL_BLOCK && b[i] == 0; i++)
		;
	if (i == PL_BLOCK)
		return (-1);
	memcpy(&magic, b, 4);
	memcpy(&gen, b + 4, 4);
	memcpy(&lba, b + 8, 8);
	memcpy(&sum, b + 16, 8);
	if (magic != PL_MAGIC || lba != blk || sum != pl_sum(b))
		return (-2);
	return (gen);
}

/* ---------------------------------------------------------------------
 * Running a workload
 */

static bool
pl_blocks_free(const struct pl *p, const struct pl_op *op)
{
	uint32_t b;

	if (op->o_kind == PL_FLUSH)
		return (true);
	for (b = op->o_blk; b < op->o_blk + op->o_n; b++)
		if (p->p_busy[b])
			return (false);
	return (true);
}

static uint64_t
pl_loglen(const struct pl *p)
{
	struct stat st;

	return (stat(p->p_log, &st) == 0 ? (uint64_t)st.st_size : 0);
}

static void
pl_done(struct xbd_bio *bio, int error)
{
	struct pl_slot *s = bio->bio_caller;
	struct pl *p = s->s_pl;
	uint64_t len = 0;
	uint32_t b;

	/* Before taking the lock: the log as it stands at the ack. */
	if (s->s_flush >= 0)
		len = pl_loglen(p);
	pthread_mutex_lock(&p->p_lock);
	if (error != 0)
		p->p_errors++;
	if (s->s_flush >= 0 && error == 0) {
		p->p_fl[s->s_flush].f_loglen = len;
		p->p_fl[s->s_flush].f_acked = true;
	}
	if (s->s_op.o_kind != PL_FLUSH)
		for (b = s->s_op.o_blk; b < s->s_op.o_blk + s->s_op.o_n; b++) {
			if (error == 0)
				p->p_acked[b] = p->p_issued[b];
			p->p_busy[b] = false;
		}
	s->s_bio.bio_done = NULL;
	p->p_inflight--;
	pthread_cond_broadcast(&p->p_cv);
	pthread_mutex_unlock(&p->p_lock);
}

/* A new flush record: what is acknowledged now must survive it. */
static int
pl_flush_new(struct pl *p)
{
	struct pl_flush *f = &p->p_fl[p->p_nfl];

	memcpy(f->f_need, p->p_acked, p->p_nblk * sizeof(uint32_t));
	f->f_acked = false;
	f->f_loglen = 0;
	return ((int)p->p_nfl++);
}

/* Submit op; p_lock held, a slot free, its blocks idle. */
static void
pl_submit(struct pl *p, const struct pl_op *op)
{
	struct pl_slot *s;
	uint32_t b, k;
	int i;

	for (i = 0; p->p_slot[i].s_bio.bio_done != NULL; i++)
		;
	s = &p->p_slot[i];
	memset(&s->s_bio, 0, sizeof(s->s_bio));
	s->s_pl = p;
	s->s_op = *op;
	s->s_flush = -1;
	s->s_bio.bio_done = pl_done;
	s->s_bio.bio_caller = s;
	s->s_bio.bio_offset = (uint64_t)op->o_blk * PL_BLOCK;
	s->s_bio.bio_length = (uint64_t)op->o_n * PL_BLOCK;
	s->s_bio.bio_data = s->s_buf;
	if (op->o_kind == PL_FLUSH || op->o_kind == PL_ORDERED)
		s->s_flush = pl_flush_new(p);
	for (b = op->o_blk; op->o_kind != PL_FLUSH && b < op->o_blk + op->o_n;
	     b++) {
		k = ++p->p_issued[b];
		p->p_busy[b] = true;
		p->p_kind[b * PL_MAXOPS + k - 1] =
		    op->o_kind == PL_DISCARD ? PL_B_DISCARD : PL_B_WRITE;
		if (op->o_kind != PL_DISCARD)
			pl_fill(s->s_buf + (size_t)(b - op->o_blk) * PL_BLOCK,
			    b, k);
		/* A barrier write must survive its own acknowledgement. */
		if (op->o_kind == PL_ORDERED)
			p->p_fl[s->s_flush].f_need[b] = k;
	}
	switch (op->o_kind) {
	case PL_WRITE:
		s->s_bio.bio_cmd = XBD_CMD_WRITE;
		break;
	case PL_ORDERED:
		s->s_bio.bio_cmd = XBD_CMD_WRITE;
		s->s_bio.bio_flags = XBD_BIO_ORDERED;
		break;
	case PL_FLUSH:
		s->s_bio.bio_cmd = XBD_CMD_FLUSH;
		s->s_bio.bio_offset = s->s_bio.bio_length = 0;
		s->s_bio.bio_data = NULL;
		break;
	case PL_DISCARD:
		s->s_bio.bio_cmd = XBD_CMD_DISCARD;
		s->s_bio.bio_data = NULL;
		break;
	}
	p->p_inflight++;
	if (xbd_submit(p->p_dev, &s->s_bio) != 0)
		fail_msg("xbd_submit refused operation %d", (int)op->o_kind);
}

/*
 * Run ops with at most qd in flight (1: one at a time), then a final
 * flush, and wait for everything.
 */
static void
pl_run(struct pl *p, const struct pl_op *ops, unsigned int nops,
    unsigned int qd)
{
	const struct pl_op fin = { PL_FLUSH, 0, 0 };
	struct pl_op wr;
	unsigned int i;

	pthread_mutex_lock(&p->p_lock);
	for (i = 0; i <= nops; i++) {
		const struct pl_op *op = i < nops ? &ops[i] : &fin;

		/* Storage that cannot punch holes: write instead. */
		if (op->o_kind == PL_DISCARD && !p->p_discard) {
			wr = *op;
			wr.o_kind = PL_WRITE;
			op = &wr;
		}

		/* The final flush comes after everything was acknowledged. */
		while (p->p_inflight >= qd || !pl_blocks_free(p, op) ||
		    (i == nops && p->p_inflight > 0))
			pthread_cond_wait(&p->p_cv, &p->p_lock);
		pl_submit(p, op);
	}
	while (p->p_inflight > 0)
		pthread_cond_wait(&p->p_cv, &p->p_lock);
	pthread_mutex_unlock(&p->p_lock);
	assert_int_equal(p->p_errors, 0);
}

/* ---------------------------------------------------------------------
 * Replay and check
 */

/* A state failed: count it, describe the first few. */
static void pl_bad(struct pl_totals *t, bool *bad, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void
pl_bad(struct pl_totals *t, bool *bad, const char *fmt, ...)
{
	va_list ap;

	*bad = true;
	if (t->t_reported >= PL_REPORT)
		return;
	t->t_reported++;
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

/*
 * Does block b, after `count` operations on it, hold what the model
 * says: the initial content, the generation of a write, zeros after a
 * discard?
 */
static bool
pl_block_ok(const struct pl *p, const uint8_t *img, uint32_t b, uint32_t count)
{
	int64_t got = pl_decode(img + (size_t)b * PL_BLOCK, b);

	if (count == 0)
		return (got == 0);
	if (count > p->p_issued[b])
		return (false);
	if (p->p_kind[b * PL_MAXOPS + count - 1] == PL_B_DISCARD)
		return (got == -1);
	return (got == count);
}

/* The blocks an entry touches fully, or false if it tears one. */
static bool
pl_entry_blocks(const struct xbdt_wlog_ent *e, uint32_t nblk, uint32_t *first,
    uint32_t *n)
{
	if (e->e_off % PL_BLOCK != 0 || e->e_len % PL_BLOCK != 0 ||
	    e->e_off / PL_BLOCK + e->e_len / PL_BLOCK > nblk)
		return (false);
	*first = (uint32_t)(e->e_off / PL_BLOCK);
	*n = (uint32_t)(e->e_len / PL_BLOCK);
	return (true);
}

/* Working state of one replay. */
struct pl_replay {
	uint8_t *r_img;	   /* the image being rebuilt */
	uint32_t *r_count; /* operations applied per block */
	uint32_t *r_need;  /* what acknowledged flushes require now */
	bool *r_ok;	   /* the block matches the model */
	size_t *r_dur;	   /* durable entries per log length */
	size_t *r_from;	   /* per flush: where its requirement starts */
};

/* Apply entry q; false when it breaks the model. */
static bool
pl_apply(struct pl *p, struct pl_replay *r, const struct xbdt_wlog_ent *e,
    struct pl_totals *t, size_t q)
{
	uint32_t first, n, b;
	bool bad = false;

	if (e->e_type == XBB_WLOG_MARK)
		return (true);
	if (xbdt_wlog_apply(e, r->r_img, (uint64_t)p->p_nblk * PL_BLOCK) != 0) {
		pl_bad(t, &bad, "entry %zu: outside the disk", q);
		return (false);
	}
	if (!pl_entry_blocks(e, p->p_nblk, &first, &n)) {
		pl_bad(t, &bad, "entry %zu: not whole blocks (%ju+%ju)", q,
		    (uintmax_t)e->e_off, (uintmax_t)e->e_len);
		return (false);
	}
	for (b = first; b < first + n; b++) {
		r->r_count[b]++;
		r->r_ok[b] = pl_block_ok(p, r->r_img, b, r->r_count[b]);
	}
	return (true);
}

/* Check the state of the first q entries; true when it is consistent. */
static bool
pl_state(struct pl *p, struct pl_replay *r, struct pl_totals *t, size_t q,
    const char *why)
{
	bool bad = false;
	uint32_t b;

	for (b = 0; b < p->p_nblk; b++) {
		if (!r->r_ok[b])
			pl_bad(t, &bad,
			    "%s, prefix %zu: block %u is not what %u "
			    "operations leave",
			    why, q, b, r->r_count[b]);
		else if (r->r_count[b] < r->r_need[b])
			pl_bad(t, &bad,
			    "%s, prefix %zu: block %u lost flushed operation "
			    "%u (has %u)",
			    why, q, b, r->r_need[b], r->r_count[b]);
	}
	return (!bad);
}

/*
 * Replay every prefix of the log over the initial image and check each;
 * final is the image as the backend left it.
 */
static void
pl_replay(struct pl *p, const struct xbdt_wlog *wl, const uint8_t *init,
    const uint8_t *final, struct pl_totals *t, const char *why)
{
	size_t bytes = (size_t)p->p_nblk * PL_BLOCK, q;
	struct pl_replay r;
	unsigned int f;
	bool bad = false;
	uint32_t b;

	assert_non_null(r.r_img = malloc(bytes));
	assert_non_null(r.r_count = calloc(p->p_nblk, sizeof(uint32_t)));
	assert_non_null(r.r_need = calloc(p->p_nblk, sizeof(uint32_t)));
	assert_non_null(r.r_ok = calloc(p->p_nblk, sizeof(bool)));
	assert_non_null(r.r_dur = calloc(wl->wl_n + 1, sizeof(size_t)));
	assert_non_null(r.r_from = calloc(p->p_nfl, sizeof(size_t)));
	memcpy(r.r_img, init, bytes);
	for (b = 0; b < p->p_nblk; b++)
		r.r_ok[b] = pl_block_ok(p, r.r_img, b, 0);
	/* From the durable point of the log at its ack, a flush binds. */
	xbdt_wlog_durable(wl, r.r_dur);
	for (f = 0; f < p->p_nfl; f++) {
		assert_true(p->p_fl[f].f_acked);
		r.r_from[f] =
		    r.r_dur[xbdt_wlog_within(wl, p->p_fl[f].f_loglen)];
	}
	for (q = 0; q <= wl->wl_n; q++) {
		for (f = 0; f < p->p_nfl; f++) {
			if (r.r_from[f] != q)
				continue;
			for (b = 0; b < p->p_nblk; b++) {
				/* (i): its operations precede the point. */
				if (r.r_count[b] < p->p_fl[f].f_need[b]) {
					t->t_lost++;
					pl_bad(t, &bad,
					    "%s: flush %u acknowledged at log "
					    "byte %ju: block %u operation %u "
					    "not before durable entry %zu",
					    why, f,
					    (uintmax_t)p->p_fl[f].f_loglen, b,
					    p->p_fl[f].f_need[b], q);
				}
				r.r_need[b] =
				    XU_MAX(r.r_need[b], p->p_fl[f].f_need[b]);
			}
		}
		/* (ii): the state a power cut here leaves. */
		t->t_prefixes++;
		if (!pl_state(p, &r, t, q, why))
			t->t_bad++;
		if (q < wl->wl_n && !pl_apply(p, &r, &wl->wl_ent[q], t, q))
			t->t_bad++;
	}
	/* (iii): the full replay is the image; every operation once. */
	if (memcmp(r.r_img, final, bytes) != 0) {
		t->t_bad++;
		pl_bad(t, &bad, "%s: the replayed log differs from the image",
		    why);
	}
	for (b = 0; b < p->p_nblk; b++)
		if (r.r_count[b] != p->p_issued[b]) {
			t->t_bad++;
			pl_bad(t, &bad,
			    "%s: block %u: %u operations logged, %u issued",
			    why, b, r.r_count[b], p->p_issued[b]);
		}
	free(r.r_from);
	free(r.r_dur);
	free(r.r_ok);
	free(r.r_need);
	free(r.r_count);
	free(r.r_img);
}

/* ---------------------------------------------------------------------
 * One workload on a fresh machine
 */

static void
pl_init(struct pl *p, uint32_t nblk, unsigned int maxfl)
{
	unsigned int f;

	memset(p, 0, sizeof(*p));
	p->p_nblk = nblk;
	pthread_mutex_init(&p->p_lock, NULL);
	pthread_cond_init(&p->p_cv, NULL);
	assert_non_null(p->p_issued = calloc(nblk, sizeof(uint32_t)));
	assert_non_null(p->p_acked = calloc(nblk, sizeof(uint32_t)));
	assert_non_null(p->p_busy = calloc(nblk, sizeof(bool)));
	assert_non_null(p->p_kind = calloc((size_t)nblk * PL_MAXOPS, 1));
	assert_non_null(p->p_fl = calloc(maxfl, sizeof(*p->p_fl)));
	for (f = 0; f < maxfl; f++)
		assert_non_null(
		    p->p_fl[f].f_need = calloc(nblk, sizeof(uint32_t)));
}

static void
pl_fini(struct pl *p, unsigned int maxfl)
{
	unsigned int f;

	for (f = 0; f < maxfl; f++)
		free(p->p_fl[f].f_need);
	free(p->p_fl);
	free(p->p_kind);
	free(p->p_busy);
	free(p->p_acked);
	free(p->p_issued);
	pthread_cond_destroy(&p->p_cv);
	pthread_mutex_destroy(&p->p_lock);
}

/* The image of nblk blocks at generation 0. */
static uint8_t *
pl_initial(uint32_t nblk)
{
	uint8_t *img;
	uint32_t b;

	assert_non_null(img = malloc((size_t)nblk * PL_BLOCK));
	for (b = 0; b < nblk; b++)
		pl_fill(img + (size_t)b * PL_BLOCK, b, 0);
	return (img);
}

static void
pl_file_io(const char *path, uint8_t *buf, size_t len, bool write)
{
	ssize_t n;
	int fd;

	assert_true((fd = open(path, write ? O_WRONLY : O_RDONLY)) >= 0);
	n = write ? pwrite(fd, buf, len, 0) : pread(fd, buf, len, 0);
	assert_int_equal(n, (ssize_t)len);
	close(fd);
}

/*
 * Run ops (qd in flight, queues rings) on a fresh machine whose backend
 * logs to logpath; keep the log if keep is not NULL.  Returns 77 when
 * the host has no io_uring.
 */
static int
pl_workload(const struct pl_op *ops, unsigned int nops, uint32_t nblk,
    unsigned int qd, unsigned int queues, const char *logpath,
    struct pl_totals *t, const char *why)
{
	struct xbdt_opts fo = { .size = (uint64_t)nblk * PL_BLOCK };
	struct xbb_opts bo;
	struct xbd_opts o;
	struct xbdt_wlog wl;
	struct xbd_info info;
	struct xbdt tx;
	uint8_t *init, *final;
	struct pl p;
	int rc;

	xbb_opts_init(&bo);
	bo.o_log_writes = logpath;
	fo.xbb = &bo;
	if ((rc = xbdt_setup(&tx, &fo)) != 0)
		return (rc);
	init = pl_initial(nblk);
	assert_non_null(final = malloc((size_t)nblk * PL_BLOCK));
	pl_file_io(tx.t_img, init, (size_t)nblk * PL_BLOCK, true);
	pl_init(&p, nblk, nops + 1);
	p.p_log = logpath;
	xbd_opts_init(&o);
	o.o_max_queues = queues;
	assert_int_equal(xbdt_attach(&tx, &o, &p.p_dev), 0);
	xbd_get_info(p.p_dev, &info);
	p.p_discard = (info.xi_features & XBD_FEAT_DISCARD) != 0;
	if (!p.p_discard)
		t->t_nodiscard++;
	pl_run(&p, ops, nops, qd);
	xbd_detach(p.p_dev);
	xemb_stop(tx.t_e);
	/* The backend is gone: the image and the log are final. */
	pl_file_io(tx.t_img, final, (size_t)nblk * PL_BLOCK, false);
	unlink(tx.t_img);
	rmdir(tx.t_dir);
	assert_int_equal(xbdt_wlog_load(logpath, &wl), 0);
	t->t_workloads++;
	t->t_entries += wl.wl_n;
	t->t_marks += wl.wl_marks;
	t->t_flushes += p.p_nfl;
	pl_replay(&p, &wl, init, final, t, why);
	xbdt_wlog_free(&wl);
	pl_fini(&p, nops + 1);
	free(final);
	free(init);
	return (0);
}

/* ---------------------------------------------------------------------
 * The workloads
 */

/* The bounded workloads' alphabet, over the first three blocks. */
static const struct pl_op pl_alphabet[] = {
	{ PL_WRITE, 0, 1 },   /* write */
	{ PL_WRITE, 1, 1 },   /* write elsewhere */
	{ PL_WRITE, 1, 2 },   /* two blocks, one overlapping */
	{ PL_ORDERED, 0, 1 }, /* barrier write */
	{ PL_ORDERED, 2, 1 },
	{ PL_FLUSH, 0, 0 },
	{ PL_DISCARD, 0, 1 },
	{ PL_DISCARD, 0, 2 },
};
#define PL_NALPHA (sizeof(pl_alphabet) / sizeof(pl_alphabet[0]))
/* Sequences of 1, 2 and 3 operations, each one at a time or at once. */
#define PL_NBOUNDED                              \
	(2 *                                     \
	    (PL_NALPHA + PL_NALPHA * PL_NALPHA + \
		PL_NALPHA * PL_NALPHA * PL_NALPHA))

/* Bounded workload e: its operations and how many may be in flight. */
static unsigned int
pl_bounded(unsigned int e, struct pl_op *ops, unsigned int *qd)
{
	unsigned int rest = e / 2, n, i;

	*qd = e % 2 == 0 ? 1 : PL_QD;
	if (rest < PL_NALPHA) {
		n = 1;
	} else if (rest < PL_NALPHA + PL_NALPHA * PL_NALPHA) {
		n = 2;
		rest -= PL_NALPHA;
	} else {
		n = 3;
		rest -= PL_NALPHA + PL_NALPHA * PL_NALPHA;
	}
	for (i = 0; i < n; i++, rest /= PL_NALPHA)
		ops[i] = pl_alphabet[rest % PL_NALPHA];
	return (n);
}

/* A random mix of PL_MIX_OPS operations (fio-like: mostly writes). */
static void
pl_mix(unsigned int *seed, struct pl_op *ops)
{
	uint32_t plan[PL_MIX_BLKS] = { 0 }, b;
	unsigned int i, r;

	for (i = 0; i < PL_MIX_OPS; i++) {
		r = (unsigned int)rand_r(seed) % 100;
		ops[i].o_n = r < 62 || r >= 82 ?
		    1 + (uint32_t)rand_r(seed) % PL_MAXRUN :
		    1;
		ops[i].o_blk =
		    (uint32_t)rand_r(seed) % (PL_MIX_BLKS - ops[i].o_n + 1);
		ops[i].o_kind = r < 62 ? PL_WRITE :
		    r < 70	       ? PL_ORDERED :
		    r < 82	       ? PL_FLUSH :
					 PL_DISCARD;
		for (b = ops[i].o_blk;
		     ops[i].o_kind != PL_FLUSH && b < ops[i].o_blk + ops[i].o_n;
		     b++)
			if (++plan[b] >= PL_MAXOPS)
				ops[i].o_kind = PL_FLUSH;
		if (ops[i].o_kind == PL_FLUSH)
			ops[i].o_blk = ops[i].o_n = 0;
	}
}

static char pl_logpath[256];

static int
pl_setup(void **state)
{
	int fd;

	(void)state;
	snprintf(pl_logpath, sizeof(pl_logpath), "%s/xbd-wlog.XXXXXX",
	    getenv("TMPDIR") != NULL ? getenv("TMPDIR") : "/tmp");
	if ((fd = mkstemp(pl_logpath)) < 0)
		return (-1);
	close(fd);
	return (0);
}

static int
pl_teardown(void **state)
{
	(void)state;
	unlink(pl_logpath);
	return (0);
}

/* catalogue: D2 */
static void
test_power_loss(void **state)
{
	struct pl_op ops[PL_MIX_OPS];
	struct pl_totals t;
	struct timespec t0, t1;
	unsigned int n, seed, mseed, start, j, nops, qd;
	char why[64];
	int rc;

	(void)state;
	n = xt_env_count("XBD_POWERLOSS_WORKLOADS", PL_DEFAULT_WORKLOADS);
	seed = xt_env_count("XBD_SEED", (unsigned int)time(NULL));
	fprintf(stderr, "power-loss workloads: %u, seed %u (XBD_SEED)\n", n,
	    seed);
	memset(&t, 0, sizeof(t));
	start = seed % PL_NBOUNDED;
	mseed = seed;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (j = 0; j < n; j++) {
		if (j % 4 == 3) {
			pl_mix(&mseed, ops);
			snprintf(why, sizeof(why), "mix %u", j / 4);
			rc = pl_workload(ops, PL_MIX_OPS, PL_MIX_BLKS, PL_QD, 2,
			    pl_logpath, &t, why);
			t.t_mixes++;
		} else {
			/* A stride prime to the count: all before repeats. */
			unsigned int e =
			    (start + (j - j / 4) * 389u) % PL_NBOUNDED;

			nops = pl_bounded(e, ops, &qd);
			snprintf(why, sizeof(why), "bounded %u", e);
			rc = pl_workload(ops, nops, PL_BOUNDED_BLKS, qd, 1,
			    pl_logpath, &t, why);
			t.t_bounded++;
		}
		if (rc == XT_SKIP)
			skip();
		assert_int_equal(rc, 0);
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	fprintf(stderr,
	    "%ju workloads (%ju bounded of %u, %ju random mixes) in %ld s: "
	    "%ju log entries, %ju flush marks, %ju flushes acknowledged, "
	    "%ju prefixes replayed, %ju bad states, %ju flushed operations "
	    "missing\n",
	    (uintmax_t)t.t_workloads, (uintmax_t)t.t_bounded,
	    (unsigned int)PL_NBOUNDED, (uintmax_t)t.t_mixes,
	    (long)(t1.tv_sec - t0.tv_sec), (uintmax_t)t.t_entries,
	    (uintmax_t)t.t_marks, (uintmax_t)t.t_flushes,
	    (uintmax_t)t.t_prefixes, (uintmax_t)t.t_bad, (uintmax_t)t.t_lost);
	if (t.t_nodiscard > 0)
		fprintf(stderr,
		    "%ju workloads wrote instead of discarding: "
		    "the storage cannot punch holes\n",
		    (uintmax_t)t.t_nodiscard);
	assert_int_equal(t.t_bad, 0);
	assert_int_equal(t.t_lost, 0);
	assert_true(t.t_marks > 0);
}

/* Is len the end of the header or of an entry of the full log wl? */
static bool
pl_boundary(const struct xbdt_wlog *wl, size_t len)
{
	size_t i;

	if (len == sizeof(struct xbb_wlog_file))
		return (true);
	for (i = 0; i < wl->wl_n; i++)
		if (wl->wl_ent[i].e_end == len)
			return (true);
	return (false);
}

/*
 * The replayer refuses what is not a faithful log: cut inside an entry,
 * any byte changed, the backend's broken flag; an entry outside the
 * disk is refused when applied.
 */
static void
test_log_validation(void **state)
{
	const struct pl_op ops[] = { { PL_WRITE, 1, 2 }, { PL_FLUSH, 0, 0 },
		{ PL_DISCARD, 0, 1 } };
	struct xbdt_wlog full, wl;
	struct xbdt_wlog_ent e;
	struct pl_totals t;
	struct stat st;
	uint8_t *buf, img[PL_BLOCK];
	size_t len, i;
	int rc;

	(void)state;
	memset(&t, 0, sizeof(t));
	/* Parsed in place: wl_buf stays NULL, the buffer is ours. */
	memset(&full, 0, sizeof(full));
	memset(&wl, 0, sizeof(wl));
	rc = pl_workload(ops, 3, PL_BOUNDED_BLKS, 1, 1, pl_logpath, &t,
	    "validation");
	if (rc == XT_SKIP)
		skip();
	assert_int_equal(rc, 0);
	assert_int_equal(t.t_bad, 0);
	assert_int_equal(stat(pl_logpath, &st), 0);
	len = (size_t)st.st_size;
	assert_non_null(buf = malloc(len));
	pl_file_io(pl_logpath, buf, len, false);
	assert_int_equal(xbdt_wlog_parse(buf, len, &full), 0);
	/* Two writes, a discard, the flush's and the final flush's marks. */
	assert_true(full.wl_n >= 4);
	assert_int_equal(full.wl_marks, 2);
	/* Cut short: only at an entry boundary is it still a log. */
	for (i = 0; i < len; i++) {
		rc = xbdt_wlog_parse(buf, i, &wl);
		if (pl_boundary(&full, i)) {
			assert_int_equal(rc, 0);
			assert_int_equal(wl.wl_n, xbdt_wlog_within(&full, i));
			xbdt_wlog_free(&wl);
		} else {
			assert_int_equal(rc, -EBADMSG);
		}
	}
	/* Any byte changed, in a header or in data. */
	for (i = 0; i < len; i++) {
		buf[i] ^= 0x20;
		assert_int_equal(xbdt_wlog_parse(buf, len, &wl), -EBADMSG);
		buf[i] ^= 0x20;
	}
	/* The backend said it could not record everything. */
	buf[offsetof(struct xbb_wlog_file, f_flags)] |= XBB_WLOG_F_BROKEN;
	assert_int_equal(xbdt_wlog_parse(buf, len, &wl), -EBADMSG);
	/* An entry beyond the disk, or wrapping around. */
	memset(&e, 0, sizeof(e));
	e.e_type = XBB_WLOG_DISCARD;
	e.e_off = PL_BLOCK / 2;
	e.e_len = PL_BLOCK;
	assert_int_equal(xbdt_wlog_apply(&e, img, sizeof(img)), -ERANGE);
	e.e_off = UINT64_MAX - 1;
	e.e_len = 2;
	assert_int_equal(xbdt_wlog_apply(&e, img, sizeof(img)), -ERANGE);
	xbdt_wlog_free(&full);
	free(buf);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_power_loss),
		cmocka_unit_test(test_log_validation),
	};

	return (cmocka_run_group_tests(tests, pl_setup, pl_teardown));
}
