# A local stand-in for docker.io/restatedev/restate, built by docker/build_images.py only where
# that image cannot be pulled. It holds the pinned npm binary (package-lock.json), which is
# static-pie, so nothing else is needed besides a CA bundle (without one it exits with
# NativeCertsNotFound) and a writable /tmp. Same entrypoint, working directory and ports as the
# official image.
FROM scratch
COPY ca-certificates.crt /etc/ssl/certs/ca-certificates.crt
COPY tmp /tmp
COPY restate-server /usr/local/bin/restate-server
WORKDIR /
EXPOSE 8080 9070 9071 5122
ENTRYPOINT ["/usr/local/bin/restate-server"]
