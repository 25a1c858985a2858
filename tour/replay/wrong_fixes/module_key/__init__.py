"""Wrong: the key is drawn once at import, so every order of this process shares one payment key."""
