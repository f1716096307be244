#!/usr/bin/env bash
# Readies this machine for the boot test (tests/deploy/test_boot.py) from Debian's packages and
# PyPI alone; no container registry is reached:
#   1. Debian's docker.io, docker-compose and debootstrap (apt-get, as root);
#   2. dockerd, started in the background when no engine answers (no systemd needed);
#   3. stacks that an earlier boot test left behind (a killed run) are removed;
#   4. the stand-in images: for python:3.11-slim a Debian bookworm base (debootstrap, then
#      `docker import`; Debian's python3 in a virtual environment first on PATH, trusting this
#      host's certificate authorities), and on it redis, postgres and minio (+ mc) stand-ins;
#   5. images of earlier boot tests that no tag names any more are pruned.
# Each stand-in's tag is a hash of its inputs, so a warm run builds nothing.
# Progress goes to stderr, one line a step; stdout gets KEY=VALUE lines naming the images.
# Exit 0: ready. Exit 3: Docker cannot run on this machine (the last stderr line says why).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
standins=$here/standins
mirror=${STYLIZE_DEBIAN_MIRROR:-http://deb.debian.org/debian}
suite=bookworm
base_packages=python3,python3-venv,ca-certificates
started=$SECONDS

say() { echo "prepare: $* [$((SECONDS - started)) s]" >&2; }
cannot_run() { echo "prepare: Docker cannot run on this machine: $*" >&2; exit 3; }

# One preparation at a time on this machine (other checkouts may run the suite at once).
exec 9>"${TMPDIR:-/tmp}/stylize-boot-prepare.lock"
flock 9

install_tools() {
  local missing=()
  command -v dockerd >/dev/null || missing+=(docker.io)
  command -v docker-compose >/dev/null || docker compose version >/dev/null 2>&1 ||
    missing+=(docker-compose)
  command -v debootstrap >/dev/null || missing+=(debootstrap)
  [ "${#missing[@]}" -eq 0 ] && return 0
  if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null; then
    docker info >/dev/null 2>&1 && command -v debootstrap >/dev/null ||
      cannot_run "${missing[*]} missing and not root with apt-get to install them"
    return 0
  fi
  say "installing Debian's ${missing[*]}"
  { DEBIAN_FRONTEND=noninteractive apt-get update -qq &&
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}"; } >/dev/null ||
    cannot_run "apt-get install ${missing[*]} failed"
}

start_engine() {
  docker info >/dev/null 2>&1 && return 0
  [ "$(id -u)" -eq 0 ] || cannot_run "no Docker engine answers and only root can start dockerd"
  local log=/var/log/stylize-dockerd.log
  say "starting dockerd (log: $log)"
  setsid nohup dockerd >"$log" 2>&1 < /dev/null 9>&- &
  for _ in $(seq 1 60); do
    docker info >/dev/null 2>&1 && return 0
    kill -0 "$!" 2>/dev/null || break
    sleep 1
  done
  cannot_run "dockerd did not start: $(tail -n 1 "$log")"
}

# A boot test always takes its stack down; one killed midway leaves containers that restart
# with the engine. Projects named stylize-boot-* created over two hours ago are removed.
remove_stale_stacks() {
  local cutoff project
  cutoff=$(date -d '2 hours ago' +%s)
  for project in $(docker ps -a --filter label=com.docker.compose.project \
      --format '{{.Label "com.docker.compose.project"}}' | grep '^stylize-boot-' | sort -u); do
    local created
    created=$(docker ps -a --filter "label=com.docker.compose.project=$project" \
      --format '{{.CreatedAt}}' | head -n 1 | cut -d' ' -f1,2)
    [ "$(date -d "$created" +%s)" -lt "$cutoff" ] || continue
    say "removing the stale stack $project"
    docker ps -aq --filter "label=com.docker.compose.project=$project" | xargs -r docker rm -f >/dev/null
    docker volume ls -q --filter "label=com.docker.compose.project=$project" | xargs -r docker volume rm >/dev/null
    docker network ls -q --filter "label=com.docker.compose.project=$project" | xargs -r docker network rm >/dev/null
  done
}

# key FILE...: 12 hex digits of the hash of the files and of this script's base settings.
key() { { echo "$suite $base_packages"; cat "$@"; } | sha256sum | cut -c1-12; }

have_image() { docker image inspect "$1" >/dev/null 2>&1; }

# logged WHAT COMMAND...: run it with its output in a file, shown (the end) only on failure.
logged() {
  local what=$1 log
  shift
  log=$(mktemp "${TMPDIR:-/tmp}/stylize-prepare.XXXXXX")
  if ! "$@" >"$log" 2>&1; then
    echo "prepare: $what failed; the end of its output:" >&2
    tail -n 20 "$log" >&2
    rm -f "$log"
    exit 1
  fi
  rm -f "$log"
}

# drop_old TAG...: other tags of each TAG's stylize-standin-NAME are removed (those a running
# test uses are kept: docker refuses).
drop_old() {
  local tag
  for tag in "$@"; do
    docker images --format '{{.Repository}}:{{.Tag}}' "${tag%%:*}" | grep -vx "$tag" |
      xargs -r docker rmi >/dev/null 2>&1 || true
  done
}

build_base() {
  local cas=() tag
  mapfile -t cas < <(find /usr/local/share/ca-certificates -type f -name '*.crt' 2>/dev/null | sort)
  tag=stylize-standin-base:$(key "$standins/base.Dockerfile" ${cas[@]+"${cas[@]}"})
  if ! have_image "$tag"; then
    local rootfs
    rootfs=$(mktemp -d "${TMPDIR:-/tmp}/stylize-rootfs.XXXXXX")
    say "debootstrap $suite (minbase + $base_packages) for the base image"
    logged debootstrap debootstrap --variant=minbase --include="$base_packages" "$suite" \
      "$rootfs" "$mirror"
    [ "${#cas[@]}" -eq 0 ] || cp "${cas[@]}" "$rootfs/usr/local/share/ca-certificates/"
    logged "update-ca-certificates" chroot "$rootfs" update-ca-certificates
    rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/*
    say "importing the root file system"
    tar -C "$rootfs" -c . | docker import - "stylize-standin-rootfs:${tag#*:}" >/dev/null
    rm -rf "$rootfs"
    logged "building the base" docker build --build-arg "ROOTFS=stylize-standin-rootfs:${tag#*:}" \
      -t "$tag" -f "$standins/base.Dockerfile" "$standins"
    docker rmi "stylize-standin-rootfs:${tag#*:}" >/dev/null
    say "built $tag"
  fi
  echo "$tag"
}

# build_service NAME BASE FILE...: the stand-in stylize-standin-NAME from NAME.Dockerfile.
build_service() {
  local name=$1 base=$2 tag
  shift 2
  tag=stylize-standin-$name:$(echo "$base" | key "$standins/$name.Dockerfile" "$@" -)
  if ! have_image "$tag"; then
    say "building the $name stand-in"
    logged "building the $name stand-in" docker build --build-arg "BASE_IMAGE=$base" -t "$tag" \
      -f "$standins/$name.Dockerfile" "$standins"
    say "built $tag"
  fi
  echo "$tag"
}

install_tools
start_engine
remove_stale_stacks
base=$(build_base)
redis=$(build_service redis "$base")
postgres=$(build_service postgres "$base" "$standins/postgres-entrypoint.sh")
minio=$(build_service minio "$base" "$standins/mc.py" "$standins/minio-entrypoint.sh")
drop_old "$redis" "$postgres" "$minio" "$base"
# Images of earlier boot tests whose tags moved on to newer builds (a change of code or of
# dependencies), with the layers only they hold.
docker image prune -f --filter label=stylize.boot-test=1 --filter until=2h >/dev/null
say "Docker $(docker version --format '{{.Server.Version}}') ready with the stand-ins"
printf '%s\n' "STYLIZE_BASE_IMAGE=$base" "REDIS_IMAGE=$redis" "POSTGRES_IMAGE=$postgres" \
  "MINIO_IMAGE=$minio" "MINIO_MC_IMAGE=$minio"
