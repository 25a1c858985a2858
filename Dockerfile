# The lab image: JupyterLab + the course, built from this repository.
#   docker compose up            (uses this image with Restate + Jaeger, see docker-compose.yml)
#   docker build -t restate-tour-lab . && docker run --rm -p 127.0.0.1:8888:8888 restate-tour-lab
#                                (alone: the kernels start the embedded restate-server)
# Versions come from the repository: requirements.txt (Python) and package-lock.json (Restate).
# The two base images are build arguments: where they cannot be pulled, images/build_images.py
# builds local stand-ins (tourlab-local/...) and compose passes them in.
ARG NODE_IMAGE=docker.io/library/node:20.18.1-bookworm-slim
ARG PYTHON_IMAGE=docker.io/library/python:3.11.11-slim-bookworm

# Stage 1: the pinned restate-server and restate CLI, exactly as `npm ci` installs them for ./course.
FROM ${NODE_IMAGE} AS restate-binaries
WORKDIR /course
COPY package.json package-lock.json ./
RUN SCARF_ANALYTICS=false npm ci --no-audit --no-fund && npm cache clean --force

# Stage 2: Python, the course and the native binaries (Node is not needed at run time).
FROM ${PYTHON_IMAGE}
ENV PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    SHELL=/bin/bash
RUN useradd --create-home --uid 1000 --shell /bin/bash learner \
 && install -d -o learner -g learner /home/learner/course
WORKDIR /home/learner/course
# requirements-hub.txt is the course's requirements plus JupyterHub: the same image serves a learner
# on the classroom hub (jupyterhub-singleuser, DockerSpawner) and alone.
COPY requirements.txt requirements-hub.txt ./
RUN pip install -r requirements-hub.txt
COPY --chown=learner:learner . .
COPY --from=restate-binaries --chown=learner:learner /course/node_modules ./node_modules
# `import tourlab` from any folder (as ./course does), `restate` / `restate-server` on PATH, and the
# JupyterLab defaults Binder gets too (cull idle kernels, shut a kernel down with its notebook).
RUN python -c 'import sys, sysconfig, pathlib; pathlib.Path(sysconfig.get_paths()["purelib"], "restate_tour_lab.pth").write_text(sys.argv[1] + "\n")' "$PWD" \
 && ln -s "$(python -c 'from tourlab import _config; print(_config.cli_binary())')" /usr/local/bin/restate \
 && ln -s "$(python -c 'from tourlab import _config; print(_config.server_binary())')" /usr/local/bin/restate-server \
 && restate-server --version && restate --version \
 && python binder/install_jupyter_defaults.py
USER learner
EXPOSE 8888
# The printed http://127.0.0.1:8888/lab/tree/notebooks/00_getting_started.ipynb?token=... URL opens the course.
CMD ["jupyter", "lab", "--ip=0.0.0.0", "--port=8888", "--no-browser", \
     "--ServerApp.root_dir=/home/learner/course", \
     "--LabApp.default_url=/lab/tree/notebooks/00_getting_started.ipynb"]
