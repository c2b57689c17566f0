# Fetches packages from Debian's archive by name, verified, without apt and
# without touching the host's package state. Sourced by scripts/get-kernel and
# scripts/build-kernel; the caller defines say() and die().
#
#   da_init SUITE DIR     fetch SUITE's InRelease, verify it with gpgv against
#                         debian-archive-keyring (fails without them unless
#                         ALPS_DEBIAN_INSECURE=1), check its suite and
#                         Valid-Until, and fetch main/binary-amd64 Packages
#                         (checked against the signed Release)
#   da_field PKG FIELD    FIELD of the newest version of PKG in Packages
#   da_fetch PKG          download PKG's .deb into DIR (checked against
#                         Packages) and print its path
#
# Environment: ALPS_DEBIAN_MIRROR (default http://deb.debian.org/debian).

da_mirror="${ALPS_DEBIAN_MIRROR:-http://deb.debian.org/debian}"
da_keyring=/usr/share/keyrings/debian-archive-keyring.gpg

da_get() { curl -fsSL --retry 3 -o "$2" "$1" || die "cannot download $1"; }

da_init() {
  da_suite="$1" da_dir="$2"
  local t want status valid
  for t in curl xz dpkg dpkg-deb sha256sum; do
    command -v "$t" >/dev/null || die "$t missing: run scripts/setup"
  done
  mkdir -p "$da_dir"
  da_get "$da_mirror/dists/$da_suite/InRelease" "$da_dir/InRelease"
  rm -f "$da_dir/Release"
  if [ -f "$da_keyring" ] && command -v gpgv >/dev/null; then
    # gpgv fails when one of the archive's signatures has a key the keyring
    # lacks, even if another is good: judge by its status lines instead, and
    # read only what the signature covers (--output), never the raw file.
    status="$(gpgv --status-fd 1 --keyring "$da_keyring" --output "$da_dir/Release" \
      "$da_dir/InRelease" 2>"$da_dir/gpgv.log" || true)"
    if ! grep -q '^\[GNUPG:\] VALIDSIG ' <<<"$status" || grep -q '^\[GNUPG:\] BADSIG ' <<<"$status" ||
       [ ! -s "$da_dir/Release" ]; then
      die "$da_suite's InRelease does not verify against $da_keyring (see $da_dir/gpgv.log)"
    fi
  elif [ "${ALPS_DEBIAN_INSECURE:-0}" = 1 ]; then
    say "warning: ALPS_DEBIAN_INSECURE=1: InRelease not signature-checked"
    cp "$da_dir/InRelease" "$da_dir/Release"
  else
    die "cannot check $da_suite's signature: apt-get install gpgv debian-archive-keyring (or ALPS_DEBIAN_INSECURE=1)"
  fi
  awk -v s="$da_suite" '/^(Suite|Codename): /{ if ($2 == s) ok=1 } END { exit !ok }' "$da_dir/Release" ||
    die "the Release file served for $da_suite names another suite"
  valid="$(awk '/^Valid-Until: /{ sub(/^Valid-Until: /, ""); print }' "$da_dir/Release")"
  # An expired Release is a stale or replayed mirror. apt refuses it; here it
  # is a warning, because the signature and every hash still hold and frozen
  # mirrors (snapshots, sandboxes) are common where tests run.
  if [ -n "$valid" ] && [ "$(date -d "$valid" +%s)" -lt "$(date +%s)" ]; then
    say "warning: $da_suite's Release expired on $valid: $da_mirror is stale or a snapshot"
  fi
  want="$(awk '/^SHA256:/{s=1;next} /^[A-Za-z]/{s=0} s && $3=="main/binary-amd64/Packages.xz"{print $1}' "$da_dir/Release")"
  [ -n "$want" ] || die "$da_suite's Release lists no main/binary-amd64/Packages.xz"
  da_get "$da_mirror/dists/$da_suite/main/binary-amd64/Packages.xz" "$da_dir/Packages.xz"
  echo "$want  $da_dir/Packages.xz" | sha256sum --quiet -c - >/dev/null 2>&1 ||
    die "Packages.xz does not match $da_suite's Release"
  xz -dc "$da_dir/Packages.xz" > "$da_dir/Packages"
}

da_field() {
  local v newest=""
  # The newest version by dpkg's ordering (epochs, ~, +really), not sort -V's.
  while read -r v; do
    if [ -z "$newest" ] || dpkg --compare-versions "$v" gt "$newest"; then newest="$v"; fi
  done < <(awk -v p="$1" 'BEGIN{RS="";FS="\n"}
    { pk=0; v=""; for (i=1;i<=NF;i++) { if ($i == "Package: " p) pk=1; if (index($i, "Version: ") == 1) v=substr($i, 10) }
      if (pk) print v }' "$da_dir/Packages")
  [ -n "$newest" ] || return 0
  awk -v p="$1" -v v="$newest" -v f="$2" 'BEGIN{RS="";FS="\n"}
    { pk=0; vv=0; out=""
      for (i=1;i<=NF;i++) { if ($i == "Package: " p) pk=1; if ($i == "Version: " v) vv=1
                            if (index($i, f ": ") == 1) out=substr($i, length(f)+3) }
      if (pk && vv) { print out; exit } }' "$da_dir/Packages"
}

da_fetch() {
  local file sum deb
  file="$(da_field "$1" Filename)"; sum="$(da_field "$1" SHA256)"
  [ -n "$file" ] && [ -n "$sum" ] || die "package $1 is not in $da_suite's Packages"
  deb="$da_dir/$(basename "$file")"
  if ! echo "$sum  $deb" | sha256sum --quiet -c - >/dev/null 2>&1; then
    say "downloading $1 ($(( $(da_field "$1" Size) / 1048576 )) MB)"
    da_get "$da_mirror/$file" "$deb"
    echo "$sum  $deb" | sha256sum --quiet -c - >/dev/null 2>&1 || die "$deb does not match Packages"
  fi
  echo "$deb"
}
