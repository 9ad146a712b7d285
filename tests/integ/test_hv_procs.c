/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Description: the simulated hypervisor across real processes, with the
 * `xbd hv` daemon binary (argv[1]) serving them.  Two domain processes
 * share a page (granted by one, mapped and written by the other) and
 * exchange an event each way; a mapper process killed with SIGKILL while
 * it holds mappings and a bound port leaves nothing behind (the granter
 * ends access, its port returns to unbound, the domain id is reusable);
 * a granter process killed while mapped leaves the mapper's memory
 * valid and its grants unmappable (docs/reliability.md 6.4 H6); and the
 * command line of `xbd hv`.
 */

#include <dirent.h>
#include <fcntl.h>

#include "../unit/test_hv_fixture.h"
#include "xt_res.h"

/* The xbd binary under test. */
static const char *xbd_path;

/* In a forked domain process: report and fail without cmocka. */
#define CHECK(cond)                                                        \
	do {                                                               \
		if (!(cond)) {                                             \
			fprintf(stderr, "%s:%d: child check failed: %s\n", \
			    __FILE__, __LINE__, #cond);                    \
			_exit(1);                                          \
		}                                                          \
	} while (0)

/* What the granter tells the mapper. */
struct offer {
	grant_ref_t o_ref;    /* the granted page */
	evtchn_port_t o_port; /* the unbound port to bind to */
};

struct procs {
	char p_dir[128]; /* the daemon's directory */
	pid_t p_daemon;	 /* `xbd hv` */
};

static pid_t
spawn_daemon(const char *dir)
{
	struct sockaddr_un sa;
	long deadline;
	pid_t pid;
	int s;

	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		execl(xbd_path, "xbd", "hv", "--dir", dir, "--grant-entries",
		    "1024", "--arena-pages", "256", (char *)NULL);
		_exit(127);
	}
	memset(&sa, 0, sizeof(sa));
	sa.sun_family = AF_UNIX;
	assert_true(snprintf(sa.sun_path, sizeof(sa.sun_path), "%s/hv.sock",
			dir) < (int)sizeof(sa.sun_path));
	deadline = fx_now_ms() + 10000;
	for (;;) {
		s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		assert_true(s >= 0);
		if (connect(s, (struct sockaddr *)&sa, sizeof(sa)) == 0) {
			close(s);
			return (pid);
		}
		close(s);
		assert_true(fx_now_ms() < deadline);
		usleep(5000);
	}
}

static int
setup(void **state)
{
	struct procs *p = calloc(1, sizeof(*p));

	assert_non_null(p);
	fx_mkdtemp(p->p_dir, sizeof(p->p_dir));
	p->p_daemon = spawn_daemon(p->p_dir);
	*state = p;
	return (0);
}

static int
teardown(void **state)
{
	struct procs *p = *state;
	char path[PATH_MAX];

	fx_daemon_stop(p->p_daemon, p->p_dir);
	snprintf(path, sizeof(path), "%s/hv.sock", p->p_dir);
	assert_int_equal(access(path, F_OK), -1); /* removed on exit */
	free(p);
	return (0);
}

/* Wait for one event on h and return its port (child side). */
static evtchn_port_t
child_take(struct plat_evtchn *h)
{
	evtchn_port_t port;

	CHECK(fx_readable(plat_evtchn_fd(h), 10000));
	CHECK(plat_evtchn_pending(h, &port) == 0);
	return (port);
}

static void
child_granter(const char *dir, int sock)
{
	struct plat_evtchn *h;
	struct plat *d;
	struct offer o;
	char *page, done;
	grant_ref_t wire;

	CHECK(plat_sim_connect(dir, 1, "front", 0, &d) == 0);
	/* Domain 0 must exist before a port can be offered to it. */
	CHECK(read(sock, &done, 1) == 1);
	CHECK(plat_mem_alloc(d, 0, 1, (void **)&page) == 0);
	CHECK(plat_gnt_reserve(d, 1, &o.o_ref) == 0);
	CHECK(plat_gnt_grant(d, o.o_ref, 0, page, false, &wire) == 0);
	CHECK(plat_evtchn_open(d, &h) == 0);
	CHECK(plat_evtchn_bind_unbound(h, 0, &o.o_port) == 0);
	CHECK(write(sock, &o, sizeof(o)) == (ssize_t)sizeof(o));
	/* The mapper wrote the page, then notified. */
	CHECK(child_take(h) == o.o_port);
	CHECK(page[0] == 'B' && page[4095] == 'B');
	page[1] = 'A';
	CHECK(plat_evtchn_unmask(h, o.o_port) == 0);
	CHECK(plat_evtchn_notify(h, o.o_port) == 0);
	/* The mapper unmapped before saying so: access can end. */
	CHECK(read(sock, &done, 1) == 1);
	CHECK(plat_gnt_end(d, o.o_ref) == 0);
	plat_gnt_release(d, 1, &o.o_ref);
	plat_mem_free(d, page, 1);
	plat_evtchn_close(h);
	plat_close(d);
	exit(0);
}

static void
child_mapper(const char *dir, int sock)
{
	struct plat_map_seg seg = { 0 };
	struct plat_evtchn *h;
	evtchn_port_t port;
	struct plat *d;
	struct offer o;
	char *page;

	CHECK(plat_sim_connect(dir, 0, "back", 0, &d) == 0);
	CHECK(write(sock, "c", 1) == 1);
	CHECK(read(sock, &o, sizeof(o)) == (ssize_t)sizeof(o));
	seg.ms_ref = o.o_ref;
	CHECK(plat_map_batch(d, 1, 1, true, &seg) == 0);
	page = seg.ms_addr;
	memset(page, 'B', 4096);
	CHECK(plat_evtchn_open(d, &h) == 0);
	CHECK(plat_evtchn_bind_interdomain(h, 1, o.o_port, &port) == 0);
	CHECK(child_take(h) == port); /* the spurious first event */
	CHECK(plat_evtchn_unmask(h, port) == 0);
	CHECK(plat_evtchn_notify(h, port) == 0);
	CHECK(child_take(h) == port);
	CHECK(page[1] == 'A');
	plat_unmap_batch(d, 1, &seg);
	CHECK(write(sock, "d", 1) == 1);
	plat_evtchn_close(h);
	plat_close(d);
	exit(0);
}

static void
wait_ok(pid_t pid)
{
	int st;

	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_true(WIFEXITED(st));
	assert_int_equal(WEXITSTATUS(st), 0);
}

static void
test_two_processes(void **state)
{
	struct procs *p = *state;
	pid_t a, b;
	int sv[2];

	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	if ((a = fork()) == 0) {
		close(sv[1]);
		child_granter(p->p_dir, sv[0]);
	}
	if ((b = fork()) == 0) {
		close(sv[0]);
		child_mapper(p->p_dir, sv[1]);
	}
	assert_true(a > 0 && b > 0);
	close(sv[0]);
	close(sv[1]);
	wait_ok(a);
	wait_ok(b);
}

/* Wait until domid is gone from the machine as v sees it. */
static void
wait_gone(struct plat *v, uint32_t domid)
{
	unsigned int slot;
	uint32_t gen;
	long deadline = fx_now_ms() + 10000;

	while (hv_dom_find(fx_shm(v), domid, &slot, &gen) == 0) {
		assert_true(fx_now_ms() < deadline);
		usleep(1000);
	}
}

/* A mapper process: map o (batch and ring), bind, say ready, sleep. */
static void
child_victim_mapper(const char *dir, int sock, uint32_t granter)
{
	struct plat_map_seg seg = { 0 };
	struct plat_evtchn *h;
	evtchn_port_t port;
	struct plat *d;
	struct offer o;
	void *ring;

	CHECK(plat_sim_connect(dir, 2, "victim", 0, &d) == 0);
	CHECK(write(sock, "c", 1) == 1);
	CHECK(read(sock, &o, sizeof(o)) == (ssize_t)sizeof(o));
	seg.ms_ref = o.o_ref;
	CHECK(plat_map_batch(d, granter, 1, true, &seg) == 0);
	CHECK(plat_map(d, granter, 1, &o.o_ref, false, &ring) == 0);
	*(char *)seg.ms_addr = 'K';
	CHECK(plat_evtchn_open(d, &h) == 0);
	CHECK(plat_evtchn_bind_interdomain(h, granter, o.o_port, &port) == 0);
	CHECK(write(sock, "r", 1) == 1);
	for (;;)
		pause();
}

/* catalogue: H6 */
static void
test_mapper_killed(void **state)
{
	struct procs *p = *state;
	struct plat_evtchn *h, *h2;
	struct plat *d, *again;
	evtchn_port_t port;
	struct hv_port *q;
	struct offer o;
	grant_ref_t wire;
	char *page, ready;
	long deadline;
	pid_t pid;
	int sv[2], st, error;

	assert_int_equal(plat_sim_connect(p->p_dir, 1, "granter", 0, &d), 0);
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	if ((pid = fork()) == 0) {
		close(sv[0]);
		child_victim_mapper(p->p_dir, sv[1], 1);
	}
	assert_true(pid > 0);
	close(sv[1]);
	/* Domain 2 exists once the child connected: grant to it. */
	assert_int_equal(read(sv[0], &ready, 1), 1);
	assert_int_equal(plat_mem_alloc(d, 2, 1, (void **)&page), 0);
	assert_int_equal(plat_gnt_reserve(d, 1, &o.o_ref), 0);
	assert_int_equal(plat_gnt_grant(d, o.o_ref, 2, page, false, &wire), 0);
	assert_int_equal(plat_evtchn_open(d, &h), 0);
	assert_int_equal(plat_evtchn_bind_unbound(h, 2, &o.o_port), 0);
	assert_int_equal(write(sv[0], &o, sizeof(o)), sizeof(o));
	assert_int_equal(read(sv[0], &ready, 1), 1);
	q = hv_port_at(fx_shm(d), fx_slot(d), o.o_port);
	assert_int_equal(atomic_load(&q->ec_state), HV_PORT_INTERDOMAIN);
	assert_int_equal(fx_gflags(d, o.o_ref),
	    GTF_permit_access | GTF_reading | GTF_writing);
	assert_int_equal(plat_gnt_end(d, o.o_ref), -EBUSY);

	assert_int_equal(kill(pid, SIGKILL), 0);
	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_true(WIFSIGNALED(st));
	close(sv[0]);
	/* The daemon sees the socket close and destroys domain 2. */
	deadline = fx_now_ms() + 10000;
	while ((error = plat_gnt_end(d, o.o_ref)) == -EBUSY) {
		assert_true(fx_now_ms() < deadline);
		usleep(1000);
	}
	assert_int_equal(error, 0);
	wait_gone(d, 2);
	assert_int_equal(page[0], 'K');
	assert_int_equal(atomic_load(&q->ec_state), HV_PORT_UNBOUND);
	assert_int_equal(atomic_load(&q->ec_remote_dom), 2);
	assert_int_equal(plat_evtchn_notify(h, o.o_port), 0); /* dropped */
	/* Domain 2 can be created again and bind to the same port. */
	assert_int_equal(plat_sim_connect(p->p_dir, 2, "again", 0, &again), 0);
	assert_int_equal(plat_evtchn_open(again, &h2), 0);
	assert_int_equal(plat_evtchn_bind_interdomain(h2, 1, o.o_port, &port),
	    0);
	assert_int_equal(atomic_load(&q->ec_state), HV_PORT_INTERDOMAIN);
	plat_evtchn_close(h2);
	plat_evtchn_close(h);
	plat_close(again);
	plat_gnt_release(d, 1, &o.o_ref);
	plat_mem_free(d, page, 1);
	plat_close(d);
}

/* A granter process: grant a page and a port to domain 0, then sleep. */
static void
child_victim_granter(const char *dir, int sock)
{
	struct plat_evtchn *h;
	struct plat *d;
	struct offer o;
	grant_ref_t wire;
	char *page;

	CHECK(plat_sim_connect(dir, 3, "doomed", 0, &d) == 0);
	CHECK(plat_mem_alloc(d, 0, 1, (void **)&page) == 0);
	memset(page, 'G', 4096);
	CHECK(plat_gnt_reserve(d, 1, &o.o_ref) == 0);
	CHECK(plat_gnt_grant(d, o.o_ref, 0, page, false, &wire) == 0);
	CHECK(plat_evtchn_open(d, &h) == 0);
	CHECK(plat_evtchn_bind_unbound(h, 0, &o.o_port) == 0);
	CHECK(write(sock, &o, sizeof(o)) == (ssize_t)sizeof(o));
	for (;;)
		pause();
}

/* catalogue: H6 */
static void
test_granter_killed(void **state)
{
	struct procs *p = *state;
	struct plat_map_seg seg = { 0 };
	struct plat_evtchn *h;
	evtchn_port_t port;
	struct hv_port *q;
	struct plat *d;
	struct offer o;
	void *ring;
	pid_t pid;
	int sv[2], st;

	assert_int_equal(plat_sim_connect(p->p_dir, 0, "Domain-0", 0, &d), 0);
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	if ((pid = fork()) == 0) {
		close(sv[0]);
		child_victim_granter(p->p_dir, sv[1]);
	}
	assert_true(pid > 0);
	close(sv[1]);
	assert_int_equal(read(sv[0], &o, sizeof(o)), sizeof(o));
	seg.ms_ref = o.o_ref;
	assert_int_equal(plat_map_batch(d, 3, 1, true, &seg), 0);
	assert_int_equal(plat_map(d, 3, 1, &o.o_ref, false, &ring), 0);
	assert_int_equal(plat_evtchn_open(d, &h), 0);
	assert_int_equal(plat_evtchn_bind_interdomain(h, 3, o.o_port, &port),
	    0);
	assert_int_equal(kill(pid, SIGKILL), 0);
	assert_int_equal(waitpid(pid, &st, 0), pid);
	close(sv[0]);
	wait_gone(d, 3);
	/* Our mappings stay valid memory until we unmap them. */
	assert_int_equal(*(char *)seg.ms_addr, 'G');
	assert_int_equal(((char *)ring)[4095], 'G');
	q = hv_port_at(fx_shm(d), fx_slot(d), port);
	assert_int_equal(atomic_load(&q->ec_state), HV_PORT_UNBOUND);
	plat_unmap_batch(d, 1, &seg);
	assert_int_equal(plat_unmap(d, ring, 1), 0);
	seg.ms_ref = o.o_ref;
	assert_int_equal(plat_map_batch(d, 3, 1, false, &seg), -EIO);
	assert_int_equal(seg.ms_status, GNTST_bad_domain);
	plat_evtchn_close(h);
	plat_close(d);
}

/* Open descriptors of process pid ("self" for us). */
static int
count_fds(const char *pid)
{
	char path[64];

	snprintf(path, sizeof(path), "/proc/%s/fd", pid);
	return (xt_count_dir(path));
}

/*
 * The daemon's resident memory in KiB.  Its heap cannot be counted from
 * outside, but a leak of even a few hundred bytes per domain shows over
 * ten thousand domains.
 */
static long
daemon_rss_kib(const char *pid)
{
	char path[64], line[128];
	long kib = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%s/status", pid);
	f = fopen(path, "r");
	assert_non_null(f);
	while (fgets(line, sizeof(line), f) != NULL)
		if (sscanf(line, "VmRSS: %ld kB", &kib) == 1)
			break;
	fclose(f);
	assert_true(kib > 0);
	return (kib);
}

/* What ten thousand domains may add to the daemon's resident memory. */
#define MP_RSS_SLACK_KIB 1024

/*
 * Domain processes come and go (connect, grant, map, events, close):
 * neither the daemon nor the client side keeps a descriptor or a
 * mapping of a domain that is gone.
 */
#define MP_CYCLES 10000
#define MP_WARMUP 10

/* catalogue: L1 */
static void
test_cycles(void **state)
{
	struct procs *p = *state;
	struct plat_map_seg seg = { 0 };
	struct plat_evtchn *h0, *h1;
	struct plat *d0, *d1;
	evtchn_port_t p0, p1, got;
	int fds = 0, dfds = 0, maps = 0, i;
	long rss = 0;
	char daemon[16], *page;
	grant_ref_t ref, wire;
	long t0;

	snprintf(daemon, sizeof(daemon), "%d", (int)p->p_daemon);
	assert_int_equal(plat_sim_connect(p->p_dir, 0, "Domain-0", 0, &d0), 0);
	assert_int_equal(plat_evtchn_open(d0, &h0), 0);
	t0 = fx_now_ms();
	for (i = 0; i < MP_CYCLES + MP_WARMUP; i++) {
		if (i == MP_WARMUP) {
			fds = count_fds("self");
			dfds = count_fds(daemon);
			maps = xt_count_maps();
			rss = daemon_rss_kib(daemon);
		}
		assert_int_equal(
		    plat_sim_connect(p->p_dir, 1, "cycled", 0, &d1), 0);
		assert_int_equal(plat_mem_alloc(d1, 0, 1, (void **)&page), 0);
		assert_int_equal(plat_gnt_reserve(d1, 1, &ref), 0);
		assert_int_equal(plat_gnt_grant(d1, ref, 0, page, false, &wire),
		    0);
		seg.ms_ref = ref;
		assert_int_equal(plat_map_batch(d0, 1, 1, true, &seg), 0);
		*(char *)seg.ms_addr = 'c';
		assert_int_equal(page[0], 'c');
		assert_int_equal(plat_evtchn_open(d1, &h1), 0);
		assert_int_equal(plat_evtchn_bind_unbound(h1, 0, &p1), 0);
		assert_int_equal(plat_evtchn_bind_interdomain(h0, 1, p1, &p0),
		    0);
		assert_int_equal(plat_evtchn_pending(h0, &got), 0);
		assert_int_equal(plat_evtchn_unmask(h0, p0), 0);
		assert_int_equal(plat_evtchn_notify(h0, p0), 0);
		assert_int_equal(plat_evtchn_pending(h1, &got), 0);
		assert_int_equal(got, p1);
		/* Every other domain dies with the page still mapped. */
		if (i % 2 == 1) {
			plat_unmap_batch(d0, 1, &seg);
			assert_int_equal(plat_gnt_end(d1, ref), 0);
		}
		plat_evtchn_close(h1);
		plat_close(d1); /* returns once the daemon destroyed it */
		if (i % 2 == 0)
			plat_unmap_batch(d0, 1, &seg);
		assert_int_equal(plat_evtchn_unbind(h0, p0), 0);
	}
	print_message("multi-process cycles: %d in %ld ms; fds %d -> %d, "
		      "daemon fds %d -> %d, mappings %d -> %d, "
		      "daemon RSS %ld -> %ld KiB\n",
	    MP_CYCLES, fx_now_ms() - t0, fds, count_fds("self"), dfds,
	    count_fds(daemon), maps, xt_count_maps(), rss,
	    daemon_rss_kib(daemon));
	assert_int_equal(count_fds("self"), fds);
	assert_int_equal(count_fds(daemon), dfds);
#if !defined(__SANITIZE_ADDRESS__)
	/*
	 * ASan's allocator maps more as its quarantine fills, and each view
	 * now starts a thread (its hang-up watch) that ASan gives stacks of
	 * its own: the count is compared where it means a leak.
	 */
	assert_int_equal(xt_count_maps(), maps);
	/* ASan's quarantine keeps freed memory resident: LSan checks. */
	assert_true(daemon_rss_kib(daemon) <= rss + MP_RSS_SLACK_KIB);
#endif
	plat_evtchn_close(h0);
	plat_close(d0);
}

/*
 * Two views of one domain (plat_sim_connect with attach): refs and pages
 * never collide, the attached view's close leaves the domain alone, the
 * creator's close destroys it.
 */
static void
test_attach(void **state)
{
	struct procs *p = *state;
	struct plat *c, *a, *x;
	grant_ref_t rc[100], ra[100];
	char *pc, *pa;
	unsigned int i, j;

	assert_int_equal(plat_sim_connect(p->p_dir, 4, "shared", 0, &c), 0);
	assert_int_equal(plat_sim_connect(p->p_dir, 4, "again", 0, &x),
	    -EEXIST);
	assert_int_equal(plat_sim_connect(p->p_dir, 4, NULL, 1, &a), 0);
	assert_int_equal(plat_domid(a), 4);
	assert_int_equal(plat_gnt_reserve(c, 100, rc), 0);
	assert_int_equal(plat_gnt_reserve(a, 100, ra), 0);
	for (i = 0; i < 100; i++)
		for (j = 0; j < 100; j++)
			assert_true(rc[i] != ra[j]);
	assert_int_equal(plat_mem_alloc(c, 0, 20, (void **)&pc), 0);
	assert_int_equal(plat_mem_alloc(a, 0, 20, (void **)&pa), 0);
	memset(pc, 'c', 20 * 4096);
	memset(pa, 'a', 20 * 4096);
	for (i = 0; i < 20 * 4096; i++)
		assert_int_equal(pc[i], 'c');
	plat_close(a);
	assert_int_equal(plat_gnt_grant(c, rc[0], 0, pc, false, &rc[1]), 0);
	plat_close(c);
	/* The creator's close destroyed it: the id is free again. */
	assert_int_equal(plat_sim_connect(p->p_dir, 4, "again", 0, &x), 0);
	plat_close(x);
}

/* Run `xbd hv args...` and return its exit status. */
static int
run_xbd_hv(const char *a1, const char *a2, const char *a3)
{
	pid_t pid;
	int st, devnull;

	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		devnull = open("/dev/null", O_WRONLY);
		dup2(devnull, 1);
		dup2(devnull, 2);
		execl(xbd_path, "xbd", "hv", a1, a2, a3, (char *)NULL);
		_exit(127);
	}
	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_true(WIFEXITED(st));
	return (WEXITSTATUS(st));
}

static void
test_cli(void **state)
{
	struct procs *p = *state;

	assert_int_equal(run_xbd_hv("--help", NULL, NULL), 0);
	assert_int_equal(run_xbd_hv(NULL, NULL, NULL), 2);
	assert_int_equal(run_xbd_hv("--bogus", NULL, NULL), 2);
	assert_int_equal(run_xbd_hv("--dir", p->p_dir, "--arena-pages=x"), 2);
	/* A second daemon on a served directory refuses to start. */
	assert_int_equal(run_xbd_hv("--dir", p->p_dir, NULL), 1);
}

int
main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_two_processes, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_mapper_killed, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_granter_killed, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_cycles, setup, teardown),
		cmocka_unit_test_setup_teardown(test_attach, setup, teardown),
		cmocka_unit_test_setup_teardown(test_cli, setup, teardown),
	};

	if (argc != 2) {
		fprintf(stderr, "usage: %s path/to/xbd\n", argv[0]);
		return (2);
	}
	xbd_path = argv[1];
	return (cmocka_run_group_tests(tests, NULL, NULL));
}
