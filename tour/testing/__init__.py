"""Testing your handlers: a copyable pytest fixture, a reference shop, example tests and planted bugs."""
