# Unit tests of server/: record and key encodings, the request-decoding arena, the
# LevelDB store (real database in a temp dir) and its GET row cache, request dispatch
# (ownership, limits, hello, scan pages) without sockets, the data directory and flags,
# and the wire fast paths (hand-made response encoding and request decoding against
# protobuf-c), the in-memory log records of the last batch (logbatch), and the
# Prometheus text of --metrics (metrics), and the read-visibility rule of owner reads
# (readvis), the pure steps of a live ownership move (handoff), a node's range report
# (stats), the token bucket and admission of the snapshots a node sends (copythrottle), and
# the store fork of split and merged ranges (reshape), what a node may delete of what it no
# longer holds (reclaim_plan), and the connection limits (connlimits:
# admission, backpressure, timeouts, the open-file plan), and how LevelDB writes are judged
# and counted (dbwrite), and how many log entries fit in a number of bytes (logspan), and
# the answer queue that sends large GET values without copying them (outq), and what a node
# back from a machine restart waits for and forgets (rejoin), and the retry rule of writes
# that bump the map (mapbump).
# Included by tests/CMakeLists.txt.
foreach(t record store rowcache dispatch datadir arena lease repl_state shipper repl_plan replica wire
    logbatch metrics readvis handoff stats copythrottle reshape connlimits reclaim_plan dedupe ownerclock
    dbstats dbwrite logspan status_page nodeinfo vlog store_vlog outq rejoin mapbump)
  zkv_unit_test(server_${t} SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_server_${t}.c
    LIBS zkv_server_core zkv_common)
endforeach()
zkv_unit_test(server_tail SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_server_tail.c LIBS zkv_server_core zkv_common)
zkv_unit_test(server_tail_wire SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_server_tail_wire.c LIBS zkv_server_core zkv_common)
