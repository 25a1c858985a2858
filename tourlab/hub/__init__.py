"""The classroom hub: JupyterHub configuration, the instructor's gradebook and a client for scripts.

``./course hub`` runs ``python -m tourlab.hub``, which starts JupyterHub with
``tourlab/hub/jupyterhub_config.py``. See docs/classroom.md.
"""
