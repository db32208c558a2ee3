"""Teachers: the expensive agents being distilled, behind one contract and one ``as_teacher``."""
