# A local stand-in for docker.io/library/node (the lab image's `npm ci` stage), built by
# docker/build_images.py only where that image cannot be pulled: Debian's Node.js and npm on the
# local Debian base. apt, and later npm, reach their registries from inside the build.
ARG BASE
FROM ${BASE}
RUN apt-get update -q \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends nodejs npm \
 && rm -rf /var/lib/apt/lists/*
