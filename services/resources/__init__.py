"""ResourceService: rooms and other bookable resources."""
