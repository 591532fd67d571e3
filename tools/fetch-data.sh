#!/bin/sh
# tools/fetch-data.sh - puts the data sets eta's demo and tests read into
# data/ (or $1): scikit-learn's data sets (diabetes for the demo, digits
# for examples/digits.c, iris, wine, breast cancer), taken out of Debian's
# python3-sklearn package without installing it (nor its numpy/scipy
# closure). Needs apt-get; writes nothing outside the target directory and a
# temporary one. Safe to run again: files already there are kept.
set -eu
here=$(cd "$(dirname "$0")/.." && pwd)
dest=${1:-$here/data}
mkdir -p "$dest/sklearn"
need=
for f in diabetes_data_raw.csv.gz diabetes_target.csv.gz digits.csv.gz; do
    [ -s "$dest/sklearn/$f" ] || need=1
done
[ -z "$need" ] && exit 0
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cd "$tmp"
# apt-get download writes into the current directory; as root it warns that
# the download is unsandboxed, which does no harm.
apt-get download python3-sklearn >/dev/null 2>&1 || {
    echo "fetch-data: 'apt-get download python3-sklearn' failed (run 'apt-get update' first?)" >&2
    exit 1
}
dpkg-deb -x python3-sklearn_*.deb x
src=x/usr/lib/python3/dist-packages/sklearn/datasets/data
for f in diabetes_data_raw.csv.gz diabetes_target.csv.gz iris.csv wine_data.csv breast_cancer.csv digits.csv.gz; do
    [ -f "$src/$f" ] && cp "$src/$f" "$dest/sklearn/$f"
done
cp x/usr/share/doc/python3-sklearn/copyright "$dest/sklearn/COPYRIGHT" 2>/dev/null || true
echo "fetch-data: scikit-learn data sets in $dest/sklearn" >&2
