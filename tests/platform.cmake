# SPDX-License-Identifier: BSD-2-Clause
# Tests of the platform component (included from tests/CMakeLists.txt).

xbd_test(NAME test_hv_gnt SOURCES unit/test_hv_gnt.c LIBS xbd_sim
    LABELS "unit;platform" TIMEOUT 60)
xbd_test(NAME test_hv_evtchn SOURCES unit/test_hv_evtchn.c LIBS xbd_sim
    LABELS "unit;platform" TIMEOUT 60)
xbd_test(NAME test_hv_dom SOURCES unit/test_hv_dom.c LIBS xbd_sim
    LABELS "unit;platform" TIMEOUT 60)
xbd_test(NAME test_hv_procs SOURCES integ/test_hv_procs.c LIBS xbd_sim
    ARGS $<TARGET_FILE:xbd> LABELS "integ;platform" TIMEOUT 600)

# The XenBus layer and libxl's vbd layout, against the XenStore daemon.
xbd_test(NAME test_xbus_vdev SOURCES unit/test_xbus_vdev.c LIBS xbd_xbus
    LABELS "unit;platform" TIMEOUT 30)
xbd_test(NAME test_xbus_vbd SOURCES integ/test_xbus_vbd.c
    LIBS xbd_sim xbd_xbus LABELS "integ;platform" TIMEOUT 60)

# The real-Xen platform's parts that need no hypervisor (the rest is the
# interop suite's).
if(XENEVTCHN_FOUND AND XENGNTTAB_FOUND)
	xbd_test(NAME test_px SOURCES unit/test_px.c LIBS xbd_xen
	    LABELS "unit;platform" TIMEOUT 30)
endif()
