#!/usr/bin/env bash
# check_k8s.sh SOURCE_DIR: checks deploy/k8s (ctest deploy_k8s; docs/kubernetes.md):
#  - yamllint with deploy/k8s/.yamllint;
#  - when kubectl is installed: `kubectl kustomize` builds the kustomization and
#    `kubectl label --local --dry-run=client` reads every object of it (offline: no API
#    server is reachable here, and `kubectl apply --dry-run=client` asks one for its
#    schema and resource list);
#  - what the manifests must hold: headless services for ZooKeeper and the nodes,
#    StatefulSets for both, a Deployment of coordinators, /ready readiness probes, the
#    preStop controlled shutdown, PodDisruptionBudgets, --advertise from the pod's name,
#    ZooKeeper's shipped tickTime/initLimit/syncLimit.
# Exit 0, 1 with the reason, or 77 (skipped) without yamllint.
set -euo pipefail
dir="${1:?source dir}/deploy/k8s"
command -v yamllint >/dev/null || { echo "SKIPPED: yamllint is not installed"; exit 77; }
yamllint -c "$dir/.yamllint" "$dir"
echo "yamllint: ok"
all="$(cat "$dir"/zookeeper.yaml "$dir"/config.yaml "$dir"/zkv-server.yaml "$dir"/zkv-coordinator.yaml)"
if command -v kubectl >/dev/null; then
  built="$(kubectl kustomize "$dir")"
  objects="$(printf '%s\n' "$built" | kubectl label --local --dry-run=client -o name -f - checked=true)"
  echo "kubectl read: $(printf '%s\n' "$objects" | tr '\n' ' ')"
  [ "$(printf '%s\n' "$objects" | wc -l)" -eq 10 ] || { echo "expected 10 objects"; exit 1; }
else
  echo "kubectl is not installed: the kustomization was not built (yamllint and the checks below ran)"
fi
need() { # need DESCRIPTION PATTERN [COUNT]
  local n
  n="$(printf '%s\n' "$all" | grep -cE -- "$2" || true)"
  [ "$n" -ge "${3:-1}" ] || { echo "missing: $1 ($2: $n of ${3:-1})"; exit 1; }
  echo "ok: $1"
}
need "StatefulSets for ZooKeeper and the nodes" '^kind: StatefulSet$' 2
need "a Deployment of coordinators" '^kind: Deployment$' 1
need "headless services" '^  clusterIP: None$' 2
need "PodDisruptionBudgets for ZooKeeper, nodes and coordinators" '^kind: PodDisruptionBudget$' 3
need "readiness probes on /ready" '^              path: /ready$' 2
need "the preStop controlled shutdown" 'kill -TERM 1; while kill -0 1' 1
need "--advertise from the pod's DNS name" '--advertise=\$\(POD_NAME\)\.zkv-server\.\$\(POD_NAMESPACE\)\.svc' 1
need_env() { # need_env NAME VALUE: a container variable NAME with the value VALUE
  printf '%s\n' "$all" | grep -A1 -E -- "^ +- name: $1$" | grep -qE -- "^ +value: \"?$2\"?$" ||
    { echo "missing: $1=$2"; exit 1; }
}
need_env ZOO_TICK_TIME 1000
need_env ZOO_INIT_LIMIT 20
need_env ZOO_SYNC_LIMIT 2
echo "ok: ZooKeeper's tickTime, initLimit and syncLimit as docs/zookeeper.md ships them"
need "a grace period longer than the controlled shutdown" '^      terminationGracePeriodSeconds: 60$' 1
echo "deploy/k8s: ok"
