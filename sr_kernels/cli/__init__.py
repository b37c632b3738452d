"""The `sr-kernels` command line: argument parsing that calls the library, nothing else."""
