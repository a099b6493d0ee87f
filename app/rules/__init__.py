"""The rule book (bags.py) and the code normaliser (codes.py): decisions without I/O."""
