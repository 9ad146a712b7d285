/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Counting a process's resources for the leak checks of cycle tests:
 * open file descriptors, memory mappings, threads, heap in use.  Each
 * count is compared before and after thousands of cycles.
 */

#ifndef XBD_TESTS_XT_RES_H
#define XBD_TESTS_XT_RES_H

#include <dirent.h>
#include <malloc.h>
#include <stdio.h>

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

#endif /* XBD_TESTS_XT_RES_H */
