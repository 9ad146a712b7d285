# SPDX-License-Identifier: BSD-2-Clause
# Fuzz targets of the backend component (included from fuzz/CMakeLists.txt).

xbd_fuzz(NAME fuzz_xbb_req SOURCES fuzz_xbb_req.c LIBS xbd_back
    LABELS backend)

if(TARGET xbd_sim)
	# The backend's XenBus state machine against hostile frontend nodes,
	# end to end ...
	xbd_fuzz(NAME fuzz_xbus_back
	    SOURCES fuzz_xbus_back.c fz_back.c fz_sim.c
	    LIBS xbd_back xbd_front xbd_sim xbd_xbus LABELS backend)
	# ... and run on the fuzzer's thread.
	xbd_fuzz(NAME fuzz_xbb_bus SOURCES fuzz_xbb_bus.c fz_back.c fz_sim.c
	    LIBS xbd_back xbd_front xbd_sim xbd_xbus LABELS backend)
	foreach(t fuzz_xbus_back fuzz_xbb_bus)
		target_include_directories(${t} PRIVATE
		    ${PROJECT_SOURCE_DIR}/tests ${PROJECT_SOURCE_DIR}/lib)
	endforeach()
endif()
