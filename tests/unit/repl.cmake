# Unit tests of repl/ (tokenizer, command table, tables, describe views, admin status) and of the
# pure parts of bench/ (latency histogram, test lists and mixes, key generation).
# Included from tests/CMakeLists.txt.
foreach(t tokenize commands table admin node_render)
  zkv_unit_test(repl_${t} SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_repl_${t}.c LIBS zkv_repl_core)
endforeach()
zkv_unit_test(bench_hist SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_bench_hist.c LIBS zkv_bench_core)
zkv_unit_test(bench_tests SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_bench_tests.c LIBS zkv_bench_core)
zkv_unit_test(bench_keygen SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_bench_keygen.c LIBS zkv_bench_core)
