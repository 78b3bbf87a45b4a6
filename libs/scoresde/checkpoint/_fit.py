"""Whether stored arrays fit a template: one line naming the first leaf that does not (path, expected, found)."""


def check_fits(expected: dict, found: dict, where: str) -> None:
    """`expected`, `found`: {leaf name: shape}; ValueError naming the first mismatch, in template order."""
    for name, shape in expected.items():
        if name not in found:
            raise ValueError(f"{where} does not fit: leaf {name} (shape {tuple(shape)}) is not in it")
        if tuple(found[name]) != tuple(shape):
            raise ValueError(
                f"{where} does not fit: leaf {name} expected shape {tuple(shape)}, found {tuple(found[name])}"
            )
    extra = [n for n in found if n not in expected]
    if extra:
        name = extra[0]
        raise ValueError(f"{where} does not fit: leaf {name} (shape {tuple(found[name])}) is not in the template")
