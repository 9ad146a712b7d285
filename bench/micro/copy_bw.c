/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Single-thread memcpy bandwidth: the bound on any transport that copies
 * (grant copy, bounce pages, a socket).  A "hot" case copies within
 * 1 MiB, which stays in cache; a "cold" case walks a set as large as
 * the benchmark's image, so every copy misses.  One JSON object per
 * case on stdout, read by bench/peers.sh.
 *
 * Usage: copy_bw [SECONDS_PER_CASE] [COLD_SET_MIB]
 */

#define _POSIX_C_SOURCE 200809L
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static volatile unsigned char cb_sink;

static double
cb_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ((double)ts.tv_sec + (double)ts.tv_nsec * 1e-9);
}

/* Copy `blk` bytes at a time through a window of `set` bytes. */
static void
cb_case(const char *name, unsigned char *src, unsigned char *dst, size_t blk,
    size_t set, double secs)
{
	size_t nblk = set / blk, i = 0;
	uint64_t copies = 0;
	double t0 = cb_now(), el;
	int k;

	do {
		/* Read the clock only every 32 copies: it costs ~20 ns. */
		for (k = 0; k < 32; k++) {
			memcpy(dst + i * blk, src + i * blk, blk);
			i = i + 1 == nblk ? 0 : i + 1;
			copies++;
		}
		cb_sink ^= dst[i * blk];
	} while ((el = cb_now() - t0) < secs);
	printf("{\"case\":\"%s\",\"block_bytes\":%zu,\"set_bytes\":%zu,"
	       "\"GiB_s\":%.2f,\"ns_per_copy\":%.1f}\n",
	    name, blk, set, (double)copies * (double)blk / el / 1073741824.0,
	    el * 1e9 / (double)copies);
	fflush(stdout);
}

int
main(int argc, char **argv)
{
	double secs = argc > 1 ? atof(argv[1]) : 1.0;
	size_t cold = (size_t)(argc > 2 ? strtol(argv[2], NULL, 10) : 256)
	    << 20;
	unsigned char *src, *dst;

	if (secs <= 0 || cold < (1u << 20)) {
		fprintf(stderr,
		    "usage: copy_bw [SECONDS] [COLD_SET_MIB >= 1]\n");
		return (2);
	}
	src = malloc(cold);
	dst = malloc(cold);
	if (src == NULL || dst == NULL) {
		fprintf(stderr, "copy_bw: out of memory\n");
		return (1);
	}
	/* Touch every page, so the first case does not time page faults. */
	memset(src, 0xa5, cold);
	memset(dst, 0x5a, cold);
	cb_case("memcpy_1MiB_hot", src, dst, 1u << 20, 1u << 20, secs);
	cb_case("memcpy_1MiB_cold", src, dst, 1u << 20, cold, secs);
	cb_case("memcpy_4KiB_hot", src, dst, 4096, 1u << 20, secs);
	cb_case("memcpy_4KiB_cold", src, dst, 4096, cold, secs);
	free(src);
	free(dst);
	return (0);
}
