"""ContactService: the account's address book."""
