#!/usr/bin/env bash
# Offline validation of the deployment files, without a cluster:
#   1. every manifest in infra/k8s and infra/k8s-jetstream (not the overlay's kustomization) against
#      the Kubernetes OpenAPI schemas shipped inside the kubernetes-validate package (strict: an
#      unknown or misspelt field is an error);
#   2. skaffold.yaml against the skaffold/v4beta13 JSON schema.
#
# usage: bash infra/validate/validate-manifests.sh
# The first run creates <repo>/.tools/venv and installs the pinned tools from PyPI; later runs reuse
# it and touch no network. Exits non-zero on any error (or on a warning such as an unknown kind).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"

# Newest Kubernetes minor that kubernetes-validate 1.37.0 ships schemas for (see `all_versions()`).
K8S_VERSION="${K8S_VERSION:-1.37.0}"
REQUIREMENTS=(
  "kubernetes-validate==1.37.0"
  "jsonschema==4.26.0"
  "pyyaml==6.0.4"
)
PYTHON="${PYTHON:-python3}"
venv="$repo/.tools/venv"
stamp="$venv/.ticketing-validate-requirements"

log() { printf 'validate-manifests: %s\n' "$*" >&2; }

ensure_venv() {
  local wanted
  wanted="$(printf '%s\n' "${REQUIREMENTS[@]}")"
  if [[ -x "$venv/bin/python" && -f "$stamp" && "$(cat "$stamp")" == "$wanted" ]]; then
    return 0
  fi
  if [[ ! -x "$venv/bin/python" ]]; then
    log "creating $venv"
    "$PYTHON" -m venv "$venv"
  fi
  log "installing ${REQUIREMENTS[*]}"
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check "${REQUIREMENTS[@]}"
  printf '%s\n' "$wanted" >"$stamp"
}

mkdir -p "$repo/.tools"
# Two runs at once (CI script and jest, say) must not build the venv concurrently.
if command -v flock >/dev/null 2>&1; then
  exec 9>"$repo/.tools/venv.lock"
  flock 9
fi
ensure_venv
if command -v flock >/dev/null 2>&1; then
  flock -u 9
fi

# --- 1. Kubernetes manifests ---------------------------------------------------------------
shopt -s nullglob
manifests=("$repo"/infra/k8s/*.yaml "$repo"/infra/k8s/*.yml "$repo"/infra/k8s-jetstream/*.yaml)
shopt -u nullglob
# The overlay's kustomization.yaml (and its patches/, partial objects) are no Kubernetes objects:
# infra.test.ts renders the overlay and validates the result against the same schemas.
for i in "${!manifests[@]}"; do
  [[ "$(basename "${manifests[$i]}")" == kustomization.yaml ]] && unset 'manifests[i]'
done
manifests=("${manifests[@]}")
if ((${#manifests[@]} == 0)); then
  log "no manifest found in $repo/infra/k8s"
  exit 1
fi

status=0
output="$("$venv/bin/kubernetes-validate" --strict --kubernetes-version "$K8S_VERSION" "${manifests[@]}" 2>&1)" || status=$?
printf '%s\n' "$output" | sed "s#$repo/##g"
# kubernetes-validate only WARNs (exit 0) when it has no schema for a kind/apiVersion: a typo in
# apiVersion would then pass unchecked. Treat anything but INFO as a failure.
if ((status != 0)) || grep -qvE '^INFO ' <<<"$output"; then
  log "FAILED: Kubernetes manifests (strict, Kubernetes $K8S_VERSION)"
  exit 1
fi
resources="$(grep -c '^INFO ' <<<"$output")"
log "OK: $resources resources in ${#manifests[@]} files valid against Kubernetes $K8S_VERSION (strict)"

# --- 2. skaffold.yaml ----------------------------------------------------------------------
# Tests and CI run from a clone with shared/ beside it; the copy in this folder is the fallback.
schema="$repo/../shared/schemas/skaffold-v4beta13.json"
[[ -f "$schema" ]] || schema="$here/skaffold-v4beta13.json"
if ! "$venv/bin/python" "$here/check_skaffold.py" "$repo/skaffold.yaml" "$schema"; then
  log "FAILED: skaffold.yaml"
  exit 1
fi
log "OK: skaffold.yaml valid against skaffold/v4beta13"
