/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The workload engine behind `xbd run` and `xbd bench`: fio-like I/O
 * (sequential or random, read/write/mixed, block size, queue depth,
 * runtime or count) through the frontend's asynchronous API, with
 * optional verification by self-describing blocks and a latency
 * histogram.
 *
 * Verification: every block written carries a header (magic, block
 * number, generation, CRC32C of the rest) and a payload derived from the
 * block number and generation; the engine remembers each block's
 * generation, never has two I/Os on one block in flight, and checks
 * every block it reads.  Blocks it never wrote must read as zeros (a new
 * image) or are not checked (--verify=written).
 */

#ifndef XBD_TOOLS_XWL_H
#define XBD_TOOLS_XWL_H

#include <signal.h>
#include <stdbool.h>
#include <stdint.h>

#include "xbd/xbd.h"

/* Most I/Os in flight. */
#define XWL_MAX_QD 256

enum xwl_verify {
	XWL_VERIFY_NONE = 0,	/* no checking */
	XWL_VERIFY_WRITTEN = 1, /* check blocks this run wrote */
	XWL_VERIFY_ALL = 2,	/* also: unwritten blocks read as zeros */
};

/* What a progress display shows, measured since the run started. */
struct xwl_progress {
	double p_frac;	  /* fraction done (0..1) */
	double p_seconds; /* elapsed wall time */
	double p_eta;	  /* estimated seconds left */
	uint64_t p_ios;	  /* I/Os completed */
	uint64_t p_bytes; /* data bytes moved */
};

struct xwl_cfg {
	uint64_t c_offset;	  /* first byte of the region used */
	uint64_t c_span;	  /* bytes of the region */
	uint32_t c_bs;		  /* block size (multiple of 512) */
	int c_qd;		  /* queue depth */
	bool c_random;		  /* random offsets, else sequential */
	int c_read_pct;		  /* share of reads (0..100) */
	double c_runtime;	  /* seconds (0: until c_ops) */
	uint64_t c_ops;		  /* I/Os (0: until c_runtime) */
	int c_flush_every;	  /* a flush after this many writes (0: no) */
	enum xwl_verify c_verify; /* checking */
	bool c_zero_copy;	  /* buffers from xbd_buf_alloc */
	uint32_t *c_genmap;	  /* per-block generations kept across
				     runs (c_span / c_bs entries, zeroed by
				     the caller; NULL: private) */
	unsigned int c_seed;	  /* random seed */
	/* Called about every 100 ms, and once at the end. */
	void (*c_progress)(const struct xwl_progress *, void *);
	void *c_progress_arg;
	/*
	 * Non-zero (a signal handler's flag): issue nothing more, give up
	 * on I/O held for a lost backend, and return what was done.
	 */
	volatile sig_atomic_t *c_stop;
};

/* Latency histogram: log2 buckets of 1/8 octave, in nanoseconds. */
#define XWL_HIST 512

struct xwl_result {
	uint64_t r_ios;		   /* I/Os completed */
	uint64_t r_reads;	   /* of which reads */
	uint64_t r_writes;	   /* of which writes */
	uint64_t r_flushes;	   /* flushes */
	uint64_t r_bytes;	   /* data bytes moved */
	uint64_t r_errors;	   /* I/Os that failed */
	int r_first_error;	   /* the first failure's errno */
	uint64_t r_verified;	   /* blocks checked */
	uint64_t r_bad;		   /* blocks that failed the check */
	uint64_t r_first_bad;	   /* the first bad block's offset */
	double r_seconds;	   /* wall time */
	double r_cpu;		   /* process CPU seconds (user + system) */
	uint64_t r_lat_sum_ns;	   /* sum of latencies */
	uint64_t r_hist[XWL_HIST]; /* latency histogram */
};

/*
 * Run a workload on dev.
 * \return 0 (see r for I/O errors and verification), -EINVAL for a bad
 *         configuration, -ENOMEM.
 */
int xwl_run(struct xbd_dev *dev, const struct xwl_cfg *c, struct xwl_result *r);

/* The latency at quantile q (0..1) in nanoseconds. */
uint64_t xwl_percentile(const struct xwl_result *r, double q);

#endif /* XBD_TOOLS_XWL_H */
