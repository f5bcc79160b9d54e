#!/usr/bin/env bash
# Setup step of the benchmark: R, its survival package and cmprsk (Gray's test) from
# Debian's packages.
# Without them the benchmark runs and says that the comparison with R is skipped.
set -euo pipefail
if command -v Rscript >/dev/null 2>&1 && Rscript -e 'library(survival)' >/dev/null 2>&1; then
    exit 0
fi
if ! command -v apt-get >/dev/null 2>&1; then
    echo "benchmarks/setup_r.sh: no apt-get; install R and its survival package yourself" >&2
    exit 1
fi
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
    r-base-core r-cran-survival r-cran-cmprsk >/dev/null
