/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Counting a process's resources for the leak checks of cycle tests:
 * open file descriptors, memory mappings, threads, heap in use.  Each
 * count is compared before and after thousands of cycles.  Another
 * process's memory (a daemon under test) comes from /proc/PID/status.
 */

#ifndef XBD_TESTS_XT_RES_H
#define XBD_TESTS_XT_RES_H

#include <dirent.h>
#include <malloc.h>
#include <stdio.h>
#include <string.h>

#include "xt.h"

/* Entries of a /proc directory, without "." and "..". */
static inline int
xt_count_dir(const char *path)
{
	struct dirent *de;
	DIR *d;
	int n = 0;

	d = opendir(path);
	assert_non_null(d);
	while ((de = readdir(d)) != NULL)
		if (de->d_name[0] != '.')
			n++;
	closedir(d);
	return (n);
}

static inline int
xt_count_fds(void)
{
	return (xt_count_dir("/proc/self/fd") - 1); /* opendir's own fd */
}

static inline int
xt_count_threads(void)
{
	return (xt_count_dir("/proc/self/task"));
}

static inline int
xt_count_maps(void)
{
	FILE *f;
	int c, n = 0;

	f = fopen("/proc/self/maps", "r");
	assert_non_null(f);
	while ((c = fgetc(f)) != EOF)
		if (c == '\n')
			n++;
	fclose(f);
	return (n);
}

/*
 * Bytes malloc has handed out.  Its per-thread caches drift by some KB
 * over thousands of cycles, so callers allow a few bytes per cycle (one
 * leaked chunk is at least 32).
 */
static inline size_t
xt_heap_in_use(void)
{
#if defined(__SANITIZE_ADDRESS__)
	return (0); /* LeakSanitizer checks at exit instead */
#else
	return (mallinfo2().uordblks);
#endif
}

/*
 * A "kB" line of /proc/PID/status (VmRSS, VmHWM...): its value in KiB,
 * or -1 when the process or the line is gone.
 */
static inline long
xt_proc_status_kb(long pid, const char *field)
{
	char path[64], line[256];
	size_t flen = strlen(field);
	long kb = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%ld/status", pid);
	if ((f = fopen(path, "r")) == NULL)
		return (-1);
	while (fgets(line, sizeof(line), f) != NULL)
		if (strncmp(line, field, flen) == 0 && line[flen] == ':') {
			kb = strtol(line + flen + 1, NULL, 10);
			break;
		}
	fclose(f);
	return (kb);
}

/*
 * Heap drift a cycle test allows: malloc's caches and the XenStore
 * daemon's settle after some hundred cycles (measured: +24 KiB after 60
 * cycles, +48 KiB after 240), where a leak grows with every cycle;
 * LeakSanitizer (the asan preset) reports any block actually lost.
 */
#define XT_MEM_FIXED (64 * 1024)
#define XT_MEM_SLACK 64

/* What a cycle test compares before and after its run. */
struct xt_res {
	int r_fds;     /* open file descriptors */
	int r_threads; /* threads */
	int r_maps;    /* memory mappings */
	size_t r_heap; /* bytes of heap in use */
};

static inline void
xt_res_take(struct xt_res *r)
{
	r->r_fds = xt_count_fds();
	r->r_threads = xt_count_threads();
	r->r_maps = xt_count_maps();
	r->r_heap = xt_heap_in_use();
}

/*
 * After n cycles: print what changed since r0 (prefixed by what) and
 * fail unless fds, threads and mappings are back where they were and
 * the heap stayed within the allowed drift.
 */
static inline void
xt_res_check(const struct xt_res *r0, unsigned int n, const char *what)
{
	struct xt_res r;

	xt_res_take(&r);
	fprintf(stderr,
	    "%s: %u cycles: fds %d -> %d, threads %d -> %d, mappings %d -> "
	    "%d, heap %zu -> %zu\n",
	    what, n, r0->r_fds, r.r_fds, r0->r_threads, r.r_threads, r0->r_maps,
	    r.r_maps, r0->r_heap, r.r_heap);
	assert_int_equal(r.r_fds, r0->r_fds);
	assert_int_equal(r.r_threads, r0->r_threads);
#if !defined(__SANITIZE_ADDRESS__)
	/* ASan's allocator maps more as its quarantine fills. */
	assert_int_equal(r.r_maps, r0->r_maps);
#endif
	assert_true(
	    r.r_heap <= r0->r_heap + XT_MEM_FIXED + (size_t)n * XT_MEM_SLACK);
}

#endif /* XBD_TESTS_XT_RES_H */
