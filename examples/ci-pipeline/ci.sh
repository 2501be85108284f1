#!/usr/bin/env bash
# What a scheduled CI job runs: find drift with a plan, and apply only when there is some.
# Exit codes: 0 nothing to do or healed, anything else a failure to look at.
set -euo pipefail
cd "$(dirname "$0")"
terraform init -input=false -no-color >/dev/null
set +e
terraform plan -detailed-exitcode -input=false -no-color -lock-timeout=5m -out=ci.tfplan
code=$?
set -e
case $code in
  0) echo "ci: no drift" ;;
  2) echo "ci: drift found, applying the plan"
     terraform apply -input=false -no-color -lock-timeout=5m ci.tfplan ;;
  *) echo "ci: plan failed" >&2; exit "$code" ;;
esac
