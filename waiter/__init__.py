"""The waiter: a command-line program that places orders with the kitchen and follows them."""
