"""The theatre ticket app built in the Tour of Restate, one package per checkpoint."""
