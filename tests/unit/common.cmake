# Unit tests of zkv_common (framing, protocol round trips, the client wire fast paths, the HELLO exchange, key ranges, znode JSON codecs,
# range map, flags, buffers, TLS, the in-order pending queue and small utilities). Included by tests/CMakeLists.txt.
foreach(t buf frame keyrange znode rangemap flags util log wire_client hello auth zkacl tls pending procstat config)
  zkv_unit_test(common_${t} SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_common_${t}.c LIBS zkv_common)
endforeach()
# The TLS test makes its certificates with scripts/test-ca.sh at suite init.
target_compile_definitions(test_common_tls PRIVATE ZKV_TEST_CA_SCRIPT="${CMAKE_SOURCE_DIR}/scripts/test-ca.sh")
