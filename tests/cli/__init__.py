"""The ``ostiary`` command line: admin commands through click's runner, ``serve`` for real."""
