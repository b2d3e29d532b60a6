"""The ``facematch`` command line."""
