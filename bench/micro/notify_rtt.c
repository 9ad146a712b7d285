/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * What a notification costs a shared-memory ring: the round trip of an
 * eventfd ping-pong between two threads or two processes (the shape of
 * an event channel kick and its answer), the round trip of two threads
 * spinning on shared cache lines (the floor without any system call),
 * and single calls: an eventfd write nobody waits for, getppid,
 * clock_gettime.  One JSON object per case on stdout, read by
 * bench/peers.sh.
 *
 * Usage: notify_rtt [MAX_ROUND_TRIPS] [MAX_SECONDS_PER_CASE]
 */

#define _GNU_SOURCE
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static long nr_max = 100000;
static double nr_secs = 2.0;

static uint64_t
nr_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ((uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec);
}

/* Pin the caller to one CPU (-1: leave it to the scheduler). */
static void
nr_pin(int cpu)
{
	cpu_set_t set;

	if (cpu < 0)
		return;
	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	(void)sched_setaffinity(0, sizeof(set), &set);
}

static int
nr_cmp(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return (x < y ? -1 : x > y);
}

/* Mean, median and 99th percentile of n round trips (sorts lat). */
static void
nr_report(const char *name, uint64_t *lat, long n)
{
	uint64_t sum = 0;
	long i;

	if (n == 0) {
		printf("{\"case\":\"%s\",\"roundtrips\":0}\n", name);
		return;
	}
	for (i = 0; i < n; i++)
		sum += lat[i];
	qsort(lat, (size_t)n, sizeof(*lat), nr_cmp);
	printf("{\"case\":\"%s\",\"roundtrips\":%ld,\"mean_ns\":%.0f,"
	       "\"p50_ns\":%llu,\"p99_ns\":%llu}\n",
	    name, n, (double)sum / (double)n, (unsigned long long)lat[n / 2],
	    (unsigned long long)lat[n * 99 / 100]);
	fflush(stdout);
}

/* The two eventfds of a ping-pong: ping wakes the echo, pong answers. */
struct nr_pair {
	int np_ping;
	int np_pong;
	int np_cpu;
};

/* Answer every ping until a ping of 2 (the stop word). */
static void *
nr_echo(void *arg)
{
	struct nr_pair *p = arg;
	uint64_t v;

	nr_pin(p->np_cpu);
	for (;;) {
		if (read(p->np_ping, &v, sizeof(v)) != sizeof(v) || v == 2)
			break;
		v = 1;
		if (write(p->np_pong, &v, sizeof(v)) != sizeof(v))
			break;
	}
	return (NULL);
}

/* Time round trips until nr_max or nr_secs; returns how many. */
static long
nr_ping(struct nr_pair *p, uint64_t *lat)
{
	uint64_t one = 1, v, t0 = nr_now(), t;
	long n;

	for (n = 0; n < nr_max; n++) {
		t = nr_now();
		if (write(p->np_ping, &one, sizeof(one)) != sizeof(one) ||
		    read(p->np_pong, &v, sizeof(v)) != sizeof(v))
			break;
		lat[n] = nr_now() - t;
		if ((double)(nr_now() - t0) * 1e-9 > nr_secs) {
			n++;
			break;
		}
	}
	v = 2;
	(void)write(p->np_ping, &v, sizeof(v));
	return (n);
}

static void
nr_eventfd_case(const char *name, int procs, int cpu_a, int cpu_b,
    uint64_t *lat)
{
	struct nr_pair p = { eventfd(0, 0), eventfd(0, 0), cpu_b };
	pthread_t th;
	pid_t pid = -1;
	long n;

	if (p.np_ping < 0 || p.np_pong < 0)
		return;
	if (procs) {
		pid = fork();
		if (pid == 0) {
			nr_echo(&p);
			_exit(0);
		}
	} else if (pthread_create(&th, NULL, nr_echo, &p) != 0)
		return;
	nr_pin(cpu_a);
	n = nr_ping(&p, lat);
	if (procs)
		(void)waitpid(pid, NULL, 0);
	else
		pthread_join(th, NULL);
	nr_pin(-1);
	close(p.np_ping);
	close(p.np_pong);
	nr_report(name, lat, n);
}

/* Two counters on their own cache lines: the spinners' ping and pong. */
struct nr_spin {
	_Alignas(64) atomic_long ns_ping;
	_Alignas(64) atomic_long ns_pong;
	int ns_cpu;
};

static void *
nr_spin_echo(void *arg)
{
	struct nr_spin *s = arg;
	long seen = 0, v;

	nr_pin(s->ns_cpu);
	for (;;) {
		while ((v = atomic_load(&s->ns_ping)) == seen)
			;
		if (v < 0)
			break;
		seen = v;
		atomic_store(&s->ns_pong, v);
	}
	return (NULL);
}

/* Needs two CPUs: on one, a spinner only runs when the other yields. */
static void
nr_spin_case(const char *name, uint64_t *lat)
{
	static struct nr_spin s;
	uint64_t t, t0 = nr_now();
	pthread_t th;
	long n;

	atomic_store(&s.ns_ping, 0);
	atomic_store(&s.ns_pong, 0);
	s.ns_cpu = 1;
	if (pthread_create(&th, NULL, nr_spin_echo, &s) != 0)
		return;
	nr_pin(0);
	for (n = 0; n < nr_max && (double)(nr_now() - t0) * 1e-9 < nr_secs;
	     n++) {
		t = nr_now();
		atomic_store(&s.ns_ping, n + 1);
		while (atomic_load(&s.ns_pong) != n + 1)
			;
		lat[n] = nr_now() - t;
	}
	atomic_store(&s.ns_ping, -1);
	pthread_join(th, NULL);
	nr_pin(-1);
	nr_report(name, lat, n);
}

/* The mean cost of one call of each kind, over a million calls. */
static void
nr_calls(void)
{
	const long calls = 1000000;
	uint64_t one = 1, t;
	struct timespec ts;
	int fd = eventfd(0, EFD_NONBLOCK);
	long i;

	t = nr_now();
	for (i = 0; i < calls; i++)
		(void)write(fd, &one, sizeof(one));
	printf("{\"case\":\"eventfd_write_no_waiter\",\"calls\":%ld,"
	       "\"mean_ns\":%.1f}\n",
	    calls, (double)(nr_now() - t) / (double)calls);
	close(fd);
	t = nr_now();
	for (i = 0; i < calls; i++)
		(void)syscall(SYS_getppid);
	printf("{\"case\":\"bare_syscall_getppid\",\"calls\":%ld,"
	       "\"mean_ns\":%.1f}\n",
	    calls, (double)(nr_now() - t) / (double)calls);
	t = nr_now();
	for (i = 0; i < calls; i++)
		clock_gettime(CLOCK_MONOTONIC, &ts);
	printf("{\"case\":\"clock_gettime\",\"calls\":%ld,\"mean_ns\":%.1f}\n",
	    calls, (double)(nr_now() - t) / (double)calls);
	fflush(stdout);
}

int
main(int argc, char **argv)
{
	int two = sysconf(_SC_NPROCESSORS_ONLN) > 1;
	uint64_t *lat;

	if (argc > 1)
		nr_max = strtol(argv[1], NULL, 10);
	if (argc > 2)
		nr_secs = atof(argv[2]);
	if (nr_max <= 0 || nr_secs <= 0) {
		fprintf(stderr, "usage: notify_rtt [ROUND_TRIPS] [SECONDS]\n");
		return (2);
	}
	if ((lat = calloc((size_t)nr_max, sizeof(*lat))) == NULL)
		return (1);
	nr_eventfd_case("eventfd_rt_threads_unpinned", 0, -1, -1, lat);
	nr_eventfd_case("eventfd_rt_processes_unpinned", 1, -1, -1, lat);
	if (two) {
		nr_eventfd_case("eventfd_rt_threads_cpu0_cpu1", 0, 0, 1, lat);
		nr_eventfd_case("eventfd_rt_processes_cpu0_cpu1", 1, 0, 1, lat);
		nr_spin_case("spin_rt_threads_cpu0_cpu1", lat);
	}
	nr_eventfd_case("eventfd_rt_threads_same_cpu", 0, 0, 0, lat);
	nr_calls();
	free(lat);
	return (0);
}
