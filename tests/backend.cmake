# SPDX-License-Identifier: BSD-2-Clause
# Tests of the backend component (included from tests/CMakeLists.txt).

xbd_test(NAME test_xbb_validate SOURCES unit/test_xbb_validate.c
    LIBS xbd_back LABELS "unit;backend" TIMEOUT 30)
xbd_test(NAME test_xbb_grant SOURCES unit/test_xbb_grant.c
    LIBS xbd_back LABELS "unit;backend" TIMEOUT 30)
xbd_test(NAME test_xbb_io SOURCES unit/test_xbb_io.c
    LIBS xbd_back LABELS "unit;backend" TIMEOUT 30)
xbd_test(NAME test_xbb_target SOURCES unit/test_xbb_target.c
    LIBS xbd_back LABELS "unit;backend" TIMEOUT 30)

# The scripted frontend and machine the integration tests share.
if(TARGET xbd_sim)
	add_library(xbbt_front STATIC integ/xbbt_front.c integ/xbbt_stream.c)
	target_link_libraries(xbbt_front PUBLIC xbd_back xbd_sim xbd_xbus
	    PkgConfig::CMOCKA PRIVATE xbd_warnings)
	target_include_directories(xbbt_front PUBLIC ${PROJECT_SOURCE_DIR}/tests)
	xbd_test(NAME test_xbb_basic SOURCES integ/test_xbb_basic.c
	    LIBS xbbt_front LABELS "integ;backend" TIMEOUT 120)
	xbd_test(NAME test_xbb_durability SOURCES integ/test_xbb_durability.c
	    LIBS xbbt_front LABELS "integ;backend" TIMEOUT 120)
	xbd_test(NAME test_xbb_hostile SOURCES integ/test_xbb_hostile.c
	    LIBS xbbt_front LABELS "integ;backend;hardening" TIMEOUT 120)
	xbd_test(NAME test_xbb_workload SOURCES integ/test_xbb_workload.c
	    LIBS xbbt_front LABELS "integ;backend" TIMEOUT 120)
	xbd_test(NAME test_xbb_resume SOURCES integ/test_xbb_resume.c
	    LIBS xbbt_front LABELS "integ;backend" TIMEOUT 120)
	# NBD storage against nbdkit (lib/back/xbb_store_nbd.c).
	if(LIBNBD_FOUND)
		xbd_test(NAME test_xbb_nbd SOURCES integ/test_xbb_nbd.c
		    LIBS xbbt_front LABELS "integ;backend;storage" TIMEOUT 120)
	endif()
	# `xbd serve` against a forked `xbd hv`: the multi-process mode.
	if(TARGET xbd)
		xbd_test(NAME test_xbb_serve SOURCES integ/test_xbb_serve.c
		    LIBS xbbt_front LABELS "integ;backend" TIMEOUT 120
		    ARGS $<TARGET_FILE:xbd>)
		xbd_test(NAME test_xbb_resume_kill
		    SOURCES integ/test_xbb_resume_kill.c integ/xbdt_mp.c
		    LIBS xbbt_front LABELS "integ;backend" TIMEOUT 120
		    ARGS $<TARGET_FILE:xbd>)
	endif()
endif()
xbd_script_test(NAME test_restart
    COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/integ/test_restart.sh
    LABELS "integ;backend;hardening" TIMEOUT 180)
xbd_script_test(NAME test_driver_domain
    COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/integ/test_driver_domain.sh
    LABELS "integ;backend" TIMEOUT 90)
