"""The runtime type checker the test suite installs on scoresde: beartype, with ints accepted as floats (PEP 484)."""

from beartype import BeartypeConf, beartype

beartype_tower = beartype(conf=BeartypeConf(is_pep484_tower=True))
