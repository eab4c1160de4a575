# The pod sandbox (pause) image for the e2e node: containerd's sandbox_image. Built by
# build-images.sh from a context holding only the static `pause` binary (gcc -static of pause.c),
# so nothing is pulled. Same user and entrypoint as registry.k8s.io/pause.
FROM scratch
COPY pause /pause
USER 65535:65535
ENTRYPOINT ["/pause"]
