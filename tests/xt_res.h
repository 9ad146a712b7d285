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

#endif /* XBD_TESTS_XT_RES_H */
