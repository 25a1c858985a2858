"""JupyterHub configuration file of the classroom hub (``jupyterhub -f`` this; ``./course hub`` does)."""

from tourlab.hub.config import configure
from tourlab.hub.settings import HubSettings

c = get_config()  # type: ignore[name-defined] # noqa: F821 - provided by JupyterHub when it loads this file
configure(c, HubSettings.from_env())
