#!/usr/bin/env bash
# Checks deploy/*.yaml against the Kubernetes API schemas (strict: unknown
# fields are errors), offline: kubernetes-validate carries the schemas of
# each Kubernetes release. No cluster and no kubectl needed.
#
#   scripts/k8s-validate.sh [VENV]      # default VENV: .venv-k8s
set -euo pipefail
cd "$(dirname "$0")/.."
venv=${1:-.venv-k8s}
[ -x "$venv/bin/kubernetes-validate" ] || {
  python3 -m venv "$venv"
  "$venv/bin/python" -m pip install -q --disable-pip-version-check kubernetes-validate==1.37.0
}
# 1.28 is the first release whose Job has backoffLimitPerIndex.
for version in 1.28 1.33 1.37; do
  "$venv/bin/kubernetes-validate" --strict -k "$version" deploy/*.yaml
done
