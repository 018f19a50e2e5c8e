# Tests of the monitoring files in docs/: the alert rules checked and unit tested by
# promtool (docs_alerts; skipped, and said so, without promtool), and the metrics the rules
# and the Grafana dashboard name all documented (docs_monitoring). Included by
# tests/CMakeLists.txt.
zkv_unit_test(docs_monitoring SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_docs_monitoring.c
  LIBS PkgConfig::CJSON)
target_compile_definitions(test_docs_monitoring PRIVATE ZKV_TEST_SOURCE_DIR="${PROJECT_SOURCE_DIR}")
add_test(NAME docs_alerts COMMAND sh -c
  "command -v promtool >/dev/null || { echo 'SKIPPED: promtool is not installed'; exit 77; }; cd '${PROJECT_SOURCE_DIR}/docs' && promtool check rules alerts.yml && promtool test rules alerts_test.yml")
set_tests_properties(docs_alerts PROPERTIES LABELS unit SKIP_RETURN_CODE 77 TIMEOUT 60)
# deploy/k8s: yamllint, kubectl's offline reading of the kustomization when kubectl is
# there, and what the manifests must hold (tests/deploy/check_k8s.sh).
add_test(NAME deploy_k8s COMMAND ${PROJECT_SOURCE_DIR}/tests/deploy/check_k8s.sh ${PROJECT_SOURCE_DIR})
set_tests_properties(deploy_k8s PROPERTIES LABELS unit SKIP_RETURN_CODE 77 TIMEOUT 60)
# docker/: the images built and the compose cluster run for real, a node's container killed
# and its ranges failed over (tests/deploy/docker_cluster.sh, docker/README.md). Label
# docker, not unit: it needs a Docker engine or root to start one (else skipped), takes
# minutes and, cold, the Debian mirror. The high COST makes ctest -j start it first.
add_test(NAME deploy_docker COMMAND ${PROJECT_SOURCE_DIR}/tests/deploy/docker_cluster.sh ${PROJECT_SOURCE_DIR})
set_tests_properties(deploy_docker PROPERTIES LABELS docker SKIP_RETURN_CODE 77 TIMEOUT 900
  COST 100000)
