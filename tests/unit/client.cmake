# Unit tests of libzkv (client/): routing and retry decisions, status mapping, errors,
# options, batch queueing and grouping, describe JSON, the async context (scripted
# loopback peer), create failing fast without ZooKeeper. They link the static library and
# see its internal headers (client/src).
# Included by tests/CMakeLists.txt.
foreach(t route api async scan_args)
  zkv_unit_test(client_${t} SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_client_${t}.c LIBS zkv_static)
  target_include_directories(test_client_${t} PRIVATE ${PROJECT_SOURCE_DIR}/client/src)
endforeach()
# The HTTP gateway's REST rules (client/examples/http-gateway/gw_api.c).
if(TARGET zkv_gw_api)
  zkv_unit_test(gw_api SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_gw_api.c LIBS zkv_gw_api)
endif()
