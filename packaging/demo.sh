#!/bin/bash
# Shows podpy at work as an ordinary user: imports the busybox image and runs a few rootless containers.
#
# packaging/setup.sh demo runs this as the user podpy-demo.  It can be run by
# hand too, by any user with a subordinate id range and podpy on PATH:
#   PODPY_DEMO_IMAGE=/opt/podpy/images/busybox.tar bash packaging/demo.sh
set -euo pipefail

image_tar=${PODPY_DEMO_IMAGE:-/opt/podpy/images/busybox.tar}
podpy=${PODPY:-podpy}

if [ -t 1 ]; then bold=$'\033[1m' plain=$'\033[0m'; else bold="" plain=""; fi

# Print an argument the way it would be typed in a shell.
shell_word() {
    case $1 in
    "" | *[!A-Za-z0-9_./:=@%+,-]*) printf "'%s'" "${1//\'/\'\\\'\'}" ;;
    *) printf '%s' "$1" ;;
    esac
}

step() {
    printf '\n%s### %s%s\n' "$bold" "$1" "$plain"
    shift
    local arg line="\$"
    for arg in "$@"; do
        line+=" $(shell_word "$arg")"
    done
    printf '%s\n' "$line"
    "$@"
}

if [ ! -r "$image_tar" ]; then
    echo "demo: image tarball $image_tar is missing (packaging/make-busybox-image.sh builds it)" >&2
    exit 1
fi
if ! command -v "$podpy" >/dev/null 2>&1; then
    echo "demo: $podpy is not on PATH" >&2
    exit 1
fi

echo "Running as $(id -un) (uid $(id -u)); XDG_RUNTIME_DIR=${XDG_RUNTIME_DIR:-unset}"

step "Version" "$podpy" version
"$podpy" rm -f --ignore demo-bg demo-web >/dev/null 2>&1 || true
"$podpy" rmi demo-web >/dev/null 2>&1 || true
if "$podpy" image exists busybox >/dev/null 2>&1; then
    step "Remove the image an earlier demo run imported" "$podpy" rmi busybox
fi
step "Import the busybox root file system as localhost/busybox" \
    "$podpy" import "$image_tar" busybox
step "Local images" "$podpy" images
step "Who am I inside the container? (root, mapped to $(id -un) outside)" \
    "$podpy" run --rm busybox sh -c 'id; cat /proc/self/uid_map; echo pid=$$; hostname'
step "Files keep their owners from the image" \
    "$podpy" run --rm busybox ls -lnd /root /tmp /home/tester
step "The container has its own process list" \
    "$podpy" run --rm busybox ps
step "A container in the background (supervised by podpy's monitor)" \
    "$podpy" run -d --name demo-bg busybox sh -c 'for i in 1 2 3; do echo tick $i; sleep 0.3; done; exec sleep 60'
sleep 1.5
step "Its output" "$podpy" logs demo-bg
step "A command run inside it" "$podpy" exec demo-bg ps
step "Running containers" "$podpy" ps
step "Stopped and removed (the monitor leaves with its last container)" "$podpy" rm -f demo-bg
step "Containers (removed ones are gone)" "$podpy" ps -a
step "Your own ids inside with --userns=keep-id (files in bind mounts stay yours)" \
    "$podpy" run --rm --userns=keep-id busybox sh -c 'id; stat -c "%u:%g %n" /etc/hostname /bin/busybox'

context=$(mktemp -d)
trap 'rm -rf "$context"' EXIT
printf 'hello through a published port\n' >"$context/index.html"
cat >"$context/Containerfile" <<'END'
FROM busybox
COPY index.html /www/index.html
RUN echo "built by podpy" > /www/about.txt
EXPOSE 80
CMD ["httpd", "-f", "-p", "80", "-h", "/www"]
END
step "Build an image from a Containerfile" "$podpy" build -t demo-web "$context"
step "Build it again: every step comes from the cache" "$podpy" build -t demo-web "$context"
step "Serve it on a port of the host (any free one)" \
    "$podpy" run -d --name demo-web -p 127.0.0.1::80 demo-web
step "Which port it got" "$podpy" port demo-web 80
address=$("$podpy" port demo-web 80)
sleep 0.5
step "Fetched from the host" busybox wget -q -O - "http://$address/index.html" "http://$address/about.txt"
step "Removed" "$podpy" rm -f demo-web
step "Host and store information" "$podpy" info

printf '\nDemo finished.\n'
