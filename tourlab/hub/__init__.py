"""The classroom hub: JupyterHub configuration, the instructor's gradebook, regrades and a client for scripts.

``./course hub`` runs ``python -m tourlab.hub``, which starts JupyterHub with
``tourlab/hub/jupyterhub_config.py``; ``./course hub regrade`` runs the exercise checks again on
the learners' workspaces (``tourlab.hub.regrade``). See docs/classroom.md.
"""
