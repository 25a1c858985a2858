"""Small services that make one guarantee visible in a chapter, with settings shortened for it."""
