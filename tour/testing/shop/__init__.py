"""The reference shop the example tests target: cart, tickets and checkout as in tour part 4."""
