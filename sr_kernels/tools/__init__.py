"""Developer tools used by the command line and the tests (kernel resource usage)."""
