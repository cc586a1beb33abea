"""One module per exchange interface: how its files are named, read, tokenised and staged."""
