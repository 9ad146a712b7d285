/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Description: the frontend's command queues and counted freeze, on a
 * softc built by hand (no platform).  A command is on exactly one queue
 * and knows which; lengths and maxima follow every move; each named
 * freeze reason counts once, per-command freezes stack but a command
 * holds at most one; thaws release exactly what was frozen.  Also the
 * vdevice-to-unit mapping of FreeBSD's xbd.
 */

#include <stdlib.h>
#include <string.h>

#include "front/xbd_internal.h"
#include "front/xbd_queue.h"
#include "xt.h"

#define NCMS 8

struct fixture {
	struct xbd_softc sc;
	struct xbd_command cms[NCMS];
};

static int
setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	int q, i;

	for (q = 0; q < XBD_Q_COUNT; q++)
		if (q != XBD_Q_BIO)
			xbd_initq_cm(&f->sc, (enum xbd_q_index)q);
	xbd_initq_bio(&f->sc);
	for (i = 0; i < NCMS; i++) {
		f->cms[i].cm_sc = &f->sc;
		f->cms[i].cm_flags = XBDCF_INITIALIZER;
		f->cms[i].cm_id = (uint64_t)i;
	}
	*state = f;
	return (0);
}

static int
teardown(void **state)
{
	free(*state);
	return (0);
}

static void
test_queue_moves(void **state)
{
	struct fixture *f = *state;
	struct xbd_softc *sc = &f->sc;
	struct xbd_command *cm;
	int i;

	for (i = 0; i < NCMS; i++) {
		assert_int_equal(xbd_cm_queue(&f->cms[i]), XBD_Q_NONE);
		xbd_enqueue_cm(&f->cms[i], XBD_Q_FREE);
		assert_int_equal(xbd_cm_queue(&f->cms[i]), XBD_Q_FREE);
	}
	assert_int_equal(xbd_queue_length(sc, XBD_Q_FREE), NCMS);
	assert_int_equal(sc->xbd_cm_q[XBD_Q_FREE].q_max, NCMS);

	/* FIFO from FREE to BUSY. */
	for (i = 0; i < 3; i++) {
		cm = xbd_dequeue_cm(sc, XBD_Q_FREE);
		assert_ptr_equal(cm, &f->cms[i]);
		assert_int_equal(xbd_cm_queue(cm), XBD_Q_NONE);
		xbd_enqueue_cm(cm, XBD_Q_BUSY);
	}
	assert_int_equal(xbd_queue_length(sc, XBD_Q_FREE), NCMS - 3);
	assert_int_equal(xbd_queue_length(sc, XBD_Q_BUSY), 3);
	assert_int_equal(sc->xbd_cm_q[XBD_Q_FREE].q_max, NCMS);
	assert_int_equal(sc->xbd_cm_q[XBD_Q_BUSY].q_max, 3);

	/* Remove from the middle, requeue at the head of READY. */
	xbd_remove_cm(&f->cms[1], XBD_Q_BUSY);
	xbd_enqueue_cm(&f->cms[1], XBD_Q_READY);
	xbd_remove_cm(&f->cms[2], XBD_Q_BUSY);
	xbd_requeue_cm(&f->cms[2], XBD_Q_READY);
	assert_ptr_equal(xbd_dequeue_cm(sc, XBD_Q_READY), &f->cms[2]);
	assert_ptr_equal(xbd_dequeue_cm(sc, XBD_Q_READY), &f->cms[1]);
	assert_null(xbd_dequeue_cm(sc, XBD_Q_READY));
	assert_int_equal(xbd_queue_length(sc, XBD_Q_READY), 0);
	assert_int_equal(sc->xbd_cm_q[XBD_Q_READY].q_max, 2);
	assert_int_equal(xbd_queue_length(sc, XBD_Q_BUSY), 1);
	xbd_enqueue_cm(&f->cms[1], XBD_Q_COMPLETE);
	xbd_enqueue_cm(&f->cms[2], XBD_Q_COMPLETE);
	assert_int_equal(xbd_cm_queue(&f->cms[2]), XBD_Q_COMPLETE);
	assert_int_equal(xbd_queue_length(sc, XBD_Q_COMPLETE), 2);
}

static void
test_bio_queue(void **state)
{
	struct fixture *f = *state;
	struct xbd_softc *sc = &f->sc;
	struct xbd_bio a, b, c;

	memset(&a, 0, sizeof(a));
	memset(&b, 0, sizeof(b));
	memset(&c, 0, sizeof(c));
	xbd_enqueue_bio(sc, &a);
	xbd_enqueue_bio(sc, &b);
	xbd_requeue_bio(sc, &c);
	assert_int_equal(sc->xbd_cm_q[XBD_Q_BIO].q_length, 3);
	assert_ptr_equal(xbd_dequeue_bio(sc), &c);
	assert_ptr_equal(xbd_dequeue_bio(sc), &a);
	assert_ptr_equal(xbd_dequeue_bio(sc), &b);
	assert_null(xbd_dequeue_bio(sc));
	assert_int_equal(sc->xbd_cm_q[XBD_Q_BIO].q_length, 0);
	assert_int_equal(sc->xbd_cm_q[XBD_Q_BIO].q_max, 3);
}

static void
test_freeze_counting(void **state)
{
	struct fixture *f = *state;
	struct xbd_softc *sc = &f->sc;

	/* A named reason counts once however often it is hit. */
	xbd_freeze(sc, XBDF_CM_SHORTAGE);
	xbd_freeze(sc, XBDF_CM_SHORTAGE);
	assert_int_equal(sc->xbd_qfrozen_cnt, 1);
	assert_true(sc->xbd_flags & XBDF_CM_SHORTAGE);
	xbd_freeze(sc, XBDF_GNT_SHORTAGE);
	xbd_freeze(sc, XBDF_WAIT_IDLE);
	assert_int_equal(sc->xbd_qfrozen_cnt, 3);
	/* Thawing a reason that is not set does nothing. */
	xbd_thaw(sc, XBDF_WAIT_IDLE);
	xbd_thaw(sc, XBDF_WAIT_IDLE);
	assert_int_equal(sc->xbd_qfrozen_cnt, 2);
	assert_false(sc->xbd_flags & XBDF_WAIT_IDLE);
	xbd_thaw(sc, XBDF_CM_SHORTAGE);
	xbd_thaw(sc, XBDF_GNT_SHORTAGE);
	assert_int_equal(sc->xbd_qfrozen_cnt, 0);
	assert_int_equal(sc->xbd_stats.xst_cm_shortage, 1);
	assert_int_equal(sc->xbd_stats.xst_gnt_shortage, 1);
	assert_int_equal(sc->xbd_stats.xst_wait_idle, 1);

	/* Per-command freezes stack across commands, once per command. */
	xbd_cm_freeze(sc, &f->cms[0], XBDCF_Q_FREEZE);
	xbd_cm_freeze(sc, &f->cms[0], XBDCF_Q_FREEZE);
	xbd_cm_freeze(sc, &f->cms[1], XBDCF_Q_FREEZE);
	assert_int_equal(sc->xbd_qfrozen_cnt, 2);
	assert_true(f->cms[0].cm_flags & XBDCF_FROZEN);
	xbd_cm_thaw(sc, &f->cms[0]);
	xbd_cm_thaw(sc, &f->cms[0]);
	assert_int_equal(sc->xbd_qfrozen_cnt, 1);
	assert_false(f->cms[0].cm_flags & XBDCF_FROZEN);
	xbd_cm_thaw(sc, &f->cms[1]);
	assert_int_equal(sc->xbd_qfrozen_cnt, 0);
	/* A command freeze and a named reason are independent. */
	xbd_freeze(sc, XBDF_WAIT_IDLE);
	xbd_cm_freeze(sc, &f->cms[2], XBDCF_Q_FREEZE);
	xbd_thaw(sc, XBDF_WAIT_IDLE);
	assert_int_equal(sc->xbd_qfrozen_cnt, 1);
	xbd_cm_thaw(sc, &f->cms[2]);
	assert_int_equal(sc->xbd_qfrozen_cnt, 0);
}

static void
test_vdevice_to_unit(void **state)
{
	const char *name;
	int unit;

	xbd_vdevice_to_unit(51712, &unit, &name); /* xvda */
	assert_string_equal(name, "xbd");
	assert_int_equal(unit, 0);
	xbd_vdevice_to_unit(51728, &unit, &name); /* xvdb */
	assert_int_equal(unit, 1);
	xbd_vdevice_to_unit((1u << 28) | (20 << 8), &unit, &name);
	assert_string_equal(name, "xbd");
	assert_int_equal(unit, 20);
	xbd_vdevice_to_unit(3 << 8 | 64, &unit, &name); /* hdb */
	assert_string_equal(name, "ada");
	assert_int_equal(unit, 1);
	xbd_vdevice_to_unit(22 << 8, &unit, &name); /* hdc */
	assert_string_equal(name, "ada");
	assert_int_equal(unit, 2);
	xbd_vdevice_to_unit(8 << 8 | 32, &unit, &name); /* sdc */
	assert_string_equal(name, "da");
	assert_int_equal(unit, 2);
	xbd_vdevice_to_unit(65 << 8 | 16, &unit, &name); /* sdr */
	assert_string_equal(name, "da");
	assert_int_equal(unit, 17);
	xbd_vdevice_to_unit(135 << 8 | 0xf0, &unit, &name);
	assert_string_equal(name, "da");
	assert_int_equal(unit, 255);
	xbd_vdevice_to_unit(7 << 8 | 0x30, &unit, &name); /* unknown major */
	assert_string_equal(name, "xbd");
	assert_int_equal(unit, 3);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_queue_moves, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_bio_queue, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_freeze_counting, setup,
		    teardown),
		cmocka_unit_test(test_vdevice_to_unit),
	};

	return (cmocka_run_group_tests(tests, NULL, NULL));
}
