"""The sync worker process: keeps remote accounts' mirrors up to date."""
