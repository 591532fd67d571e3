#!/bin/sh
# tools/fetch-data.sh - puts the data sets eta's demo, tests and configs read
# into data/ (or $1):
# - scikit-learn's data sets (diabetes for the demo, digits for
#   examples/digits.c, iris, wine, breast cancer) in data/sklearn/, taken out
#   of Debian's python3-sklearn package without installing it (nor its
#   numpy/scipy closure); needs apt-get;
# - npm packages at the versions pinned by tools/data-npm/package-lock.json,
#   installed with `npm ci` into data/node_modules/: sentiment@5.0.2 (the UCI
#   labelled sentences in test/fixtures/{amazon,imdb,yelp}.json) and
#   vega-datasets@3.2.1 (S&P 500 daily prices, data/sp500-2000.csv); needs npm
#   and the npm registry.
# Fashion-MNIST and the dasher text are Debian packages (dataset-fashion-mnist,
# dasher-data) that ./bootstrap installs; eta reads them where Debian puts them.
# Writes nothing outside the target directory, a temporary one and npm's
# cache. Safe to run again: what is already there is kept.
set -eu
here=$(cd "$(dirname "$0")/.." && pwd)
dest=${1:-$here/data}
mkdir -p "$dest"
dest=$(cd "$dest" && pwd)

sklearn() {
    mkdir -p "$dest/sklearn"
    need=
    for f in diabetes_data_raw.csv.gz diabetes_target.csv.gz digits.csv.gz iris.csv wine_data.csv breast_cancer.csv; do
        [ -s "$dest/sklearn/$f" ] || need=1
    done
    [ -z "$need" ] && return 0
    tmp=$(mktemp -d)
    # apt-get download writes into the current directory; as root it warns that
    # the download is unsandboxed, which does no harm.
    if ! (cd "$tmp" && apt-get download python3-sklearn >/dev/null 2>&1); then
        rm -rf "$tmp"
        echo "fetch-data: 'apt-get download python3-sklearn' failed (run 'apt-get update' first?)" >&2
        return 1
    fi
    (cd "$tmp" && dpkg-deb -x python3-sklearn_*.deb x)
    src=$tmp/x/usr/lib/python3/dist-packages/sklearn/datasets/data
    for f in diabetes_data_raw.csv.gz diabetes_target.csv.gz iris.csv wine_data.csv breast_cancer.csv digits.csv.gz; do
        [ -f "$src/$f" ] && cp "$src/$f" "$dest/sklearn/$f"
    done
    cp "$tmp/x/usr/share/doc/python3-sklearn/copyright" "$dest/sklearn/COPYRIGHT" 2>/dev/null || true
    rm -rf "$tmp"
    echo "fetch-data: scikit-learn data sets in $dest/sklearn" >&2
}

npm_data() {
    lock=$here/tools/data-npm/package-lock.json
    if cmp -s "$lock" "$dest/package-lock.json" && [ -d "$dest/node_modules/sentiment/test/fixtures" ] &&
        [ -f "$dest/node_modules/vega-datasets/data/sp500-2000.csv" ]; then
        return 0
    fi
    if ! command -v npm >/dev/null 2>&1; then
        echo "fetch-data: npm not found (apt-get install npm), needed for sentiment and vega-datasets" >&2
        return 1
    fi
    cp "$here/tools/data-npm/package.json" "$lock" "$dest/"
    # --ignore-scripts: data packages have nothing to build
    if ! npm ci --prefix "$dest" --no-audit --no-fund --ignore-scripts --loglevel=error >&2; then
        rm -f "$dest/package-lock.json" # so the next run tries again
        echo "fetch-data: 'npm ci' failed (is the npm registry reachable?)" >&2
        return 1
    fi
    echo "fetch-data: npm data sets (sentiment, vega-datasets) in $dest/node_modules" >&2
}

rc=0
sklearn || rc=1
npm_data || rc=1
exit $rc
