# Fetches packages from Debian's archive by name, verified, without apt and
# without touching the host's package state. Sourced by scripts/get-kernel and
# scripts/build-kernel; the caller defines say() and die().
#
#   da_init SUITE DIR     fetch SUITE's InRelease (gpgv against
#                         debian-archive-keyring when installed) and its
#                         main/binary-amd64 Packages (checked against InRelease)
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
  local t want
  for t in curl xz dpkg-deb sha256sum; do
    command -v "$t" >/dev/null || die "$t missing: run scripts/setup"
  done
  mkdir -p "$da_dir"
  da_get "$da_mirror/dists/$da_suite/InRelease" "$da_dir/InRelease"
  if [ -f "$da_keyring" ] && command -v gpgv >/dev/null; then
    gpgv --keyring "$da_keyring" "$da_dir/InRelease" 2>/dev/null ||
      die "$da_suite's InRelease does not verify against $da_keyring"
  else
    say "warning: no $da_keyring or gpgv; InRelease not signature-checked (apt-get install debian-archive-keyring gpgv)"
  fi
  want="$(awk '/^SHA256:/{s=1;next} /^[A-Za-z]/{s=0} s && $3=="main/binary-amd64/Packages.xz"{print $1}' "$da_dir/InRelease")"
  [ -n "$want" ] || die "$da_suite's InRelease lists no main/binary-amd64/Packages.xz"
  da_get "$da_mirror/dists/$da_suite/main/binary-amd64/Packages.xz" "$da_dir/Packages.xz"
  echo "$want  $da_dir/Packages.xz" | sha256sum --quiet -c - >/dev/null 2>&1 ||
    die "Packages.xz does not match $da_suite's InRelease"
  xz -dc "$da_dir/Packages.xz" > "$da_dir/Packages"
}

da_field() {
  local newest
  newest="$(awk -v p="$1" 'BEGIN{RS="";FS="\n"}
    { pk=0; v=""; for (i=1;i<=NF;i++) { if ($i == "Package: " p) pk=1; if (index($i, "Version: ") == 1) v=substr($i, 10) }
      if (pk) print v }' "$da_dir/Packages" | sort -V | tail -n 1)"
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
