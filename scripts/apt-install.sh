# Sourced by the scripts that install Debian packages on a fresh machine.
# apt_install PKG...: install quietly; refresh the package lists only when the first try fails.
apt_install() {
  export DEBIAN_FRONTEND=noninteractive
  apt-get install -y -qq "$@" >/dev/null 2>&1 \
    || { apt-get update -qq >/dev/null && apt-get install -y -qq "$@" >/dev/null; }
}

# install_missing "CMD..." WHAT PKG...: install PKG... (saying so through the caller's `log`)
# unless every CMD is on PATH. Without root it says WHAT is skipped instead. Succeeds only when
# it installed something, so the caller can follow up on a fresh install; a failed install
# ends the calling script (exit 1).
install_missing() {
  local commands=$1 skipped=$2 cmd
  shift 2
  for cmd in $commands; do
    command -v "$cmd" >/dev/null 2>&1 || break
  done
  if command -v "$cmd" >/dev/null 2>&1; then
    return 1
  fi
  if [ "$(id -u)" != 0 ]; then
    log "$* missing and installing needs root: $skipped"
    return 1
  fi
  log "installing $* (apt-get)"
  apt_install "$@" || { log "apt-get could not install $*"; exit 1; }
}
