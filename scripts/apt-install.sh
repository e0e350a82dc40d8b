# Sourced by the scripts that install Debian packages on a fresh machine.
# apt_install PKG...: install quietly; refresh the package lists only when the first try fails.
apt_install() {
  export DEBIAN_FRONTEND=noninteractive
  apt-get install -y -qq "$@" >/dev/null 2>&1 \
    || { apt-get update -qq >/dev/null && apt-get install -y -qq "$@" >/dev/null; }
}
