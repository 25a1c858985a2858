"""A version that changes OrderService from a Service into a Virtual Object: a breaking change."""
