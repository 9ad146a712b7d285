/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * CPU time per thread of this process, from /proc/self/task, for tests
 * that bound what one component costs while others share the process:
 * a snapshot is both the set of threads alive and their CPU so far, so
 * "the threads a step created" is the difference of two snapshots and
 * "what they used in a phase" the difference of their times.
 */

#ifndef XBD_TESTS_XT_CPU_H
#define XBD_TESTS_XT_CPU_H

#include <sys/types.h>

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "xt.h"

/* More threads than any test machine runs. */
#define XT_MAX_TASKS 256

struct xt_tasks {
	unsigned int t_n;		/* threads in the snapshot */
	pid_t t_tid[XT_MAX_TASKS];	/* their ids */
	uint64_t t_ticks[XT_MAX_TASKS]; /* user + system time, clock ticks */
};

/* User + system ticks of one thread, 0 when it is gone. */
static inline uint64_t
xt_task_ticks(pid_t tid)
{
	unsigned long long ut = 0, st = 0;
	char path[64], buf[1024], *p;
	size_t n;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/self/task/%d/stat", (int)tid);
	if ((f = fopen(path, "r")) == NULL)
		return (0);
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	/* The name may hold anything: fields start after its last ')'. */
	if ((p = strrchr(buf, ')')) == NULL ||
	    sscanf(p + 2,
		"%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &ut,
		&st) != 2)
		return (0);
	return ((uint64_t)(ut + st));
}

static inline void
xt_tasks_read(struct xt_tasks *t)
{
	struct dirent *de;
	DIR *d;

	t->t_n = 0;
	d = opendir("/proc/self/task");
	assert_non_null(d);
	while ((de = readdir(d)) != NULL && t->t_n < XT_MAX_TASKS) {
		if (de->d_name[0] == '.')
			continue;
		t->t_tid[t->t_n] = (pid_t)strtoul(de->d_name, NULL, 10);
		t->t_ticks[t->t_n] = xt_task_ticks(t->t_tid[t->t_n]);
		t->t_n++;
	}
	closedir(d);
}

/* Index of tid in t, or -1. */
static inline int
xt_tasks_find(const struct xt_tasks *t, pid_t tid)
{
	unsigned int i;

	for (i = 0; i < t->t_n; i++)
		if (t->t_tid[i] == tid)
			return ((int)i);
	return (-1);
}

/* The threads of after that before does not have (times ignored). */
static inline void
xt_tasks_new(const struct xt_tasks *before, const struct xt_tasks *after,
    struct xt_tasks *out)
{
	unsigned int i;

	out->t_n = 0;
	for (i = 0; i < after->t_n; i++)
		if (xt_tasks_find(before, after->t_tid[i]) < 0) {
			out->t_tid[out->t_n] = after->t_tid[i];
			out->t_ticks[out->t_n++] = 0;
		}
}

/* Add the threads of b to a. */
static inline void
xt_tasks_union(struct xt_tasks *a, const struct xt_tasks *b)
{
	unsigned int i;

	for (i = 0; i < b->t_n && a->t_n < XT_MAX_TASKS; i++)
		if (xt_tasks_find(a, b->t_tid[i]) < 0)
			a->t_tid[a->t_n++] = b->t_tid[i];
}

/*
 * Seconds of CPU the threads of set used between snapshots t0 and t1
 * (a thread missing from either counts from or to zero).
 */
static inline double
xt_tasks_cpu(const struct xt_tasks *set, const struct xt_tasks *t0,
    const struct xt_tasks *t1)
{
	uint64_t sum = 0, a, b;
	unsigned int i;
	int k;

	for (i = 0; i < set->t_n; i++) {
		a = (k = xt_tasks_find(t0, set->t_tid[i])) < 0 ? 0 :
								 t0->t_ticks[k];
		b = (k = xt_tasks_find(t1, set->t_tid[i])) < 0 ? 0 :
								 t1->t_ticks[k];
		if (b > a)
			sum += b - a;
	}
	return ((double)sum / (double)sysconf(_SC_CLK_TCK));
}

/* Seconds of CPU every thread used between t0 and t1. */
static inline double
xt_tasks_cpu_all(const struct xt_tasks *t0, const struct xt_tasks *t1)
{
	return (xt_tasks_cpu(t1, t0, t1));
}

#endif /* XBD_TESTS_XT_CPU_H */
