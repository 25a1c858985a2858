"""Chapter 12's exercise solved: v1's OrderService, plus rescue() for an invocation stranded on its deployment."""
