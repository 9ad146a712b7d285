# SPDX-License-Identifier: BSD-2-Clause
# Tests of the frontend component (included from tests/CMakeLists.txt).

if(TARGET xbd_sim)
	xbd_test(NAME test_xbd_queue SOURCES unit/test_xbd_queue.c
	    LIBS xbd_front LABELS "unit;frontend" TIMEOUT 30)
endif()

if(TARGET xbd_sim AND TARGET xbd_back)
	add_library(xbdt STATIC integ/xbdt.c integ/xbdt_wl.c)
	target_link_libraries(xbdt PUBLIC xbd_embed
	    PRIVATE xbd_warnings)
	target_include_directories(xbdt PUBLIC ${PROJECT_SOURCE_DIR}/tests)
	xbd_test(NAME test_xbd_e2e SOURCES integ/test_xbd_e2e.c LIBS xbdt
	    LABELS "integ;frontend" TIMEOUT 300)
endif()

if(TARGET xbd_sim)
	xbd_test(NAME test_xbd_hostile SOURCES integ/test_xbd_hostile.c
	    LIBS xbdt_sfix LABELS "integ;frontend;hardening" TIMEOUT 300)
endif()

# The backend killed and restarted under a running workload (processes).
if(TARGET xbd_sim AND TARGET xbd_back)
	xbd_test(NAME test_xbd_recovery
	    SOURCES integ/test_xbd_recovery.c integ/xbdt_wl.c integ/xbdt_mp.c
	    LIBS xbd_front ARGS $<TARGET_FILE:xbd>
	    LABELS "integ;frontend;hardening" TIMEOUT 180)
endif()

if(TARGET xbd_shared)
	xbd_script_test(NAME test_libxbd
	    COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/integ/test_libxbd.sh
	    LABELS "integ;frontend" TIMEOUT 120)
endif()

# Durability: the backend killed at random points under writes and flushes.
if(TARGET xbd_sim AND TARGET xbd_back)
	xbd_test(NAME test_xbd_killpoints
	    SOURCES integ/test_xbd_killpoints.c integ/xbdt_mp.c
	    LIBS xbd_front ARGS $<TARGET_FILE:xbd>
	    LABELS "integ;frontend;hardening" TIMEOUT 900)
endif()

# Connect/disconnect cycles with leak accounting.
if(TARGET xbd_embed)
	xbd_test(NAME test_xbd_lifecycle SOURCES integ/test_xbd_lifecycle.c
	    LIBS xbd_embed LABELS "integ;frontend;hardening" TIMEOUT 900)
endif()

# Scripted backends: suspend/resume and the wire format of requests (the
# hostile-backend tests above use the same fixture).
if(TARGET xbd_sim)
	add_library(xbdt_sfix STATIC integ/sfix.c integ/hostile.c)
	target_link_libraries(xbdt_sfix PUBLIC xbd_front PkgConfig::CMOCKA
	    PRIVATE xbd_warnings)
	target_include_directories(xbdt_sfix PUBLIC ${PROJECT_SOURCE_DIR}/tests)
	xbd_test(NAME test_xbd_suspend SOURCES integ/test_xbd_suspend.c
	    LIBS xbdt_sfix LABELS "integ;frontend" TIMEOUT 120)
endif()
if(TARGET xbd_sim)
	xbd_test(NAME test_xbd_ops SOURCES integ/test_xbd_ops.c
	    LIBS xbdt_sfix LABELS "integ;frontend" TIMEOUT 120)
endif()

# Races on shared memory and peeks into granted pages by a hostile backend.
if(TARGET xbd_sim)
	xbd_test(NAME test_xbd_hostile_io SOURCES integ/test_xbd_hostile_io.c
	    LIBS xbdt_sfix LABELS "integ;frontend;hardening" TIMEOUT 300)
endif()

# A peer process killed in every XenBus state, both ways, with leak
# accounting (XBD_KILLSTATES_CYCLES a side).
if(TARGET xbd_sim AND TARGET xbd_back)
	xbd_test(NAME test_xbd_killstates
	    SOURCES integ/test_xbd_killstates.c integ/xbdt_wl.c integ/xbdt_mp.c
	    LIBS xbd_front xbd_back ARGS $<TARGET_FILE:xbd>
	    LABELS "integ;hardening" TIMEOUT 600)
endif()
