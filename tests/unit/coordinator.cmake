# Coordinator unit tests: the pure placement function (failover included), the election
# helpers, the RANGE_STATUS client against fake nodes on loopback, and the automatic
# split/merge decision.
zkv_unit_test(placement
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_placement.c
  LIBS zkv_coordinator_core zkv_common)
zkv_unit_test(coordinator_election
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_coordinator_election.c
  LIBS zkv_coordinator_core zkv_common)
zkv_unit_test(coordinator_position
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_coordinator_position.c
  LIBS zkv_coordinator_core zkv_common)
# The rules for a cluster that changes shape (handoff requests, owner balance, drained and
# leaving nodes, the rebalance delay), by simulating the nodes' answers.
zkv_unit_test(placement_moves
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_placement_moves.c
  LIBS zkv_coordinator_core zkv_common)
zkv_unit_test(coordinator_since
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_coordinator_since.c
  LIBS zkv_coordinator_core zkv_common)
# The operators' operations (move, drain, undrain, set-replicas, split, merge) as a state
# machine, in a
# simulated cluster, with leader crashes between any two passes.
zkv_unit_test(coordinator_opstep
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_coordinator_opstep.c
  LIBS zkv_coordinator_core zkv_common)
# The automatic split and merge decision (which range, which pair, or nothing) over
# hand-made stats reports.
zkv_unit_test(coordinator_autoshape
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_coordinator_autoshape.c
  LIBS zkv_coordinator_core zkv_common)
# Owners even by bytes (rule 14): which trade, or none, over hand-made sizes.
zkv_unit_test(coordinator_bytebalance
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_coordinator_bytebalance.c
  LIBS zkv_coordinator_core zkv_common)
# Replica slots even by bytes (rule 15), and placement dropping the replica a move names.
zkv_unit_test(coordinator_replicabalance
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_coordinator_replicabalance.c
  LIBS zkv_coordinator_core zkv_common)
# The coordinator's --metrics: the cluster summary of a map, its text and status page.
zkv_unit_test(coordinator_cmetrics
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_coordinator_cmetrics.c
  LIBS zkv_coordinator_core zkv_common)
