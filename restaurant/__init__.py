"""What the waiter and the kitchen agree on: the menu, the order, and the names between them."""
